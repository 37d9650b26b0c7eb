package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The data plane: the routes of one database (docs/API.md, Data plane).

// DB is a handle on one database of the gateway: cheap, made by
// Client.DB, safe for concurrent use.
type DB struct {
	c    *Client
	name string
	tx   string // X-Transaction-Id, on a Tx's handle
}

// DB returns the handle of the database name. Nothing is sent.
func (c *Client) DB(name string) *DB { return &DB{c: c, name: name} }

// Name is the database's name.
func (db *DB) Name() string { return db.name }

func (db *DB) path(segs ...string) string {
	return pathOf(append([]string{"api", "db", db.name}, segs...)...)
}

// Statement is one SQL statement with its options. Only SQL is required.
type Statement struct {
	SQL string `json:"sql"`
	// Params bind the statement's parameters: a []any by position, a
	// map[string]any by name. []byte values are sent as blobs.
	Params any `json:"params,omitempty"`
	// Result options (docs/API.md, Result options): at most MaxRows rows
	// (nil: no cap), at most MaxBytes bytes (0: no cap), Shape "arrays"
	// for Result.Columns and Result.Rows instead of Result.Data.
	MaxRows  *int   `json:"max_rows,omitempty"`
	MaxBytes int    `json:"max_bytes,omitempty"`
	Shape    string `json:"shape,omitempty"`
}

func (s Statement) body() map[string]any {
	m := map[string]any{"sql": s.SQL}
	if s.Params != nil {
		m["params"] = encodeValue(s.Params)
	}
	if s.MaxRows != nil {
		m["max_rows"] = *s.MaxRows
	}
	if s.MaxBytes > 0 {
		m["max_bytes"] = s.MaxBytes
	}
	if s.Shape != "" {
		m["shape"] = s.Shape
	}
	return m
}

func (s Statement) hasResultOptions() bool {
	return s.MaxRows != nil || s.MaxBytes > 0 || s.Shape != ""
}

// ExecOptions are options of a request that runs statements.
type ExecOptions struct {
	// DryRun runs the statements and commits nothing; MaxChanges bounds
	// the changes listed (nil: the gateway's default, 100).
	DryRun     bool
	MaxChanges *int
	// Timeout is the request's X-Query-Timeout (0: the gateway's).
	Timeout time.Duration
	// IdempotencyKey is sent as Idempotency-Key. When "" and the request
	// may carry one (no transaction, dry run or result options), the
	// client makes one, so that the write can be retried safely; set
	// NoIdempotencyKey to send none.
	IdempotencyKey   string
	NoIdempotencyKey bool
}

// Meta is what SQLite counted of a statement.
type Meta struct {
	DurationMS    float64 `json:"duration_ms"`
	Changes       int64   `json:"changes"`
	LastInsertID  int64   `json:"last_insert_id"`
	RowsWritten   int64   `json:"rows_written"`
	VMSteps       int64   `json:"vm_steps"`
	FullScanSteps int64   `json:"full_scan_steps"`
}

// Change is a row a dry run changed.
type Change struct {
	Table  string `json:"table"`
	Op     string `json:"op"` // insert, update, delete
	Key    Row    `json:"key"`
	Before Row    `json:"before"`
	After  Row    `json:"after"`
}

// Result is the answer to one statement.
type Result struct {
	// Data holds the rows of a statement that returns rows (objects);
	// Columns and Rows hold them with Shape "arrays".
	Data    []Row    `json:"data"`
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
	// Message is set for a statement that returns no rows.
	Message      string `json:"message"`
	RowsAffected int64  `json:"rows_affected"`
	// Truncated: a cap cut the rows.
	Truncated bool  `json:"truncated"`
	Meta      *Meta `json:"meta"`
	// A dry run's answer.
	DryRun           bool     `json:"dry_run"`
	Changes          []Change `json:"changes"`
	ChangesTruncated bool     `json:"changes_truncated"`
	ChangesComplete  *bool    `json:"changes_complete"`
	// Err is the statement's error in a batch run with Transaction
	// false (the others ran); nil otherwise.
	Err *Error `json:"-"`
	// Replayed: the gateway answered a repeat of an idempotent write
	// from its record (Idempotent-Replayed: true).
	Replayed bool `json:"-"`
}

type wireError struct {
	Code           string `json:"code"`
	Message        string `json:"message"`
	Status         int    `json:"status"`
	SQLiteCode     string `json:"sqlite_code"`
	StatementIndex *int   `json:"statement_index"`
}

// resultWire is Result's wire form with its error object.
type resultWire struct {
	Result
	Error *wireError `json:"error"`
}

func (r *Result) decode() {
	decodeRows(r.Data)
	decodeArrays(r.Rows)
	for i := range r.Changes {
		ch := &r.Changes[i]
		for _, row := range []Row{ch.Key, ch.Before, ch.After} {
			for k, v := range row {
				row[k] = decodeValue(v)
			}
		}
	}
}

// Query runs one statement with positional parameters.
func (db *DB) Query(ctx context.Context, sql string, params ...any) (*Result, error) {
	s := Statement{SQL: sql}
	if len(params) > 0 {
		s.Params = params
	}
	return db.Exec(ctx, s, nil)
}

// Exec runs one statement with its options (o may be nil).
func (db *DB) Exec(ctx context.Context, s Statement, o *ExecOptions) (*Result, error) {
	if err := need(db.name); err != nil {
		return nil, err
	}
	body := s.body()
	r := request{method: http.MethodPost, path: db.path("query"), json: body, header: http.Header{}}
	db.options(&r, body, o, s.hasResultOptions())
	var w resultWire
	resp, err := db.c.call(ctx, r, &w)
	if err != nil {
		return nil, err
	}
	w.Result.decode()
	w.Result.Replayed = resp.Header.Get("Idempotent-Replayed") == "true"
	return &w.Result, nil
}

// options sets a statement request's headers and body fields from o.
func (db *DB) options(r *request, body map[string]any, o *ExecOptions, resultOptions bool) {
	if o == nil {
		o = &ExecOptions{}
	}
	if db.tx != "" {
		r.header.Set("X-Transaction-Id", db.tx)
	}
	if o.Timeout > 0 {
		r.header.Set("X-Query-Timeout", strconv.FormatInt(o.Timeout.Milliseconds(), 10))
	}
	if o.DryRun {
		body["dry_run"] = true
		if o.MaxChanges != nil {
			body["max_changes"] = *o.MaxChanges
		}
	}
	key := o.IdempotencyKey
	if key == "" && !o.NoIdempotencyKey && db.c.idempotency && db.tx == "" && !o.DryRun && !resultOptions {
		key = newIdempotencyKey()
	}
	if key != "" {
		r.header.Set("Idempotency-Key", key)
		r.idempotent = true
	}
}

// QueryStream runs one statement and streams its answer in format
// ("ndjson", "csv" or "markdown"; "json" too): the caller reads and
// closes the body. A statement that returns no rows answers JSON.
func (db *DB) QueryStream(ctx context.Context, s Statement, format string, o *ExecOptions) (io.ReadCloser, http.Header, error) {
	if err := need(db.name); err != nil {
		return nil, nil, err
	}
	body := s.body()
	body["format"] = format
	r := request{method: http.MethodPost, path: db.path("query"), json: body, header: http.Header{}}
	db.options(&r, body, o, true)
	resp, err := db.c.do(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	return resp.Body, resp.Header, nil
}

// BatchOptions are the options of a batch.
type BatchOptions struct {
	ExecOptions
	// NoTransaction runs each statement on its own (the gateway's
	// "transaction": false): a failing one is its Result.Err, the others
	// still run. By default the batch is one transaction: all or nothing.
	NoTransaction bool
}

// BatchResult is the answer of a batch.
type BatchResult struct {
	Results []Result `json:"-"`
	DryRun  bool     `json:"dry_run"`
	// Changes: a dry run's net changes (in one transaction).
	Changes          []Change `json:"changes"`
	ChangesTruncated bool     `json:"changes_truncated"`
	ChangesComplete  *bool    `json:"changes_complete"`
	Replayed         bool     `json:"-"`
}

// Batch runs several statements in one request. In a transaction (the
// default) the first failing statement fails the batch: its *Error
// carries StatementIndex.
func (db *DB) Batch(ctx context.Context, stmts []Statement, o *BatchOptions) (*BatchResult, error) {
	if err := need(db.name); err != nil {
		return nil, err
	}
	if o == nil {
		o = &BatchOptions{}
	}
	list := make([]map[string]any, len(stmts))
	resultOptions := false
	for i, s := range stmts {
		list[i] = s.body()
		resultOptions = resultOptions || s.hasResultOptions()
	}
	body := map[string]any{"statements": list}
	eo := o.ExecOptions
	if o.NoTransaction {
		body["transaction"] = false
		eo.NoIdempotencyKey = eo.IdempotencyKey == "" // a key needs one transaction
	}
	r := request{method: http.MethodPost, path: db.path("batch"), json: body, header: http.Header{}}
	db.options(&r, body, &eo, resultOptions)
	var w struct {
		BatchResult
		Results []resultWire `json:"results"`
	}
	resp, err := db.c.call(ctx, r, &w)
	if err != nil {
		return nil, err
	}
	out := w.BatchResult
	out.Replayed = resp.Header.Get("Idempotent-Replayed") == "true"
	for i, rw := range w.Results {
		res := rw.Result
		res.decode()
		if rw.Error != nil {
			idx := i
			res.Err = &Error{Status: rw.Error.Status, Code: rw.Error.Code, Message: rw.Error.Message,
				Detail: rw.Error.Message, SQLiteCode: rw.Error.SQLiteCode, StatementIndex: &idx}
		}
		out.Results = append(out.Results, res)
	}
	return &out, nil
}

// TxOptions are the options of a transaction.
type TxOptions struct {
	// Timeout is the lease, renewed by every use (0: the gateway's
	// FORGE_TX_TIMEOUT).
	Timeout time.Duration
	// ReadOnly opens a snapshot that does not hold the writer.
	ReadOnly bool
}

// Tx is an interactive transaction: its statements run in it until
// Commit or Rollback. If its lease runs out, the gateway rolls it back
// (ErrTransactionExpired).
type Tx struct {
	db        *DB
	ID        string    `json:"transaction_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Begin opens an interactive transaction.
func (db *DB) Begin(ctx context.Context, o *TxOptions) (*Tx, error) {
	if err := need(db.name); err != nil {
		return nil, err
	}
	r := request{method: http.MethodPost, path: db.path("transactions")}
	if o != nil && (o.Timeout > 0 || o.ReadOnly) {
		body := map[string]any{}
		if o.Timeout > 0 {
			body["timeout"] = o.Timeout.Seconds()
		}
		if o.ReadOnly {
			body["read_only"] = true
		}
		r.json = body
	}
	tx := &Tx{}
	if _, err := db.c.call(ctx, r, tx); err != nil {
		return nil, err
	}
	tx.db = &DB{c: db.c, name: db.name, tx: tx.ID}
	return tx, nil
}

// Query runs a statement in the transaction.
func (tx *Tx) Query(ctx context.Context, sql string, params ...any) (*Result, error) {
	return tx.db.Query(ctx, sql, params...)
}

// Exec runs a statement with options in the transaction.
func (tx *Tx) Exec(ctx context.Context, s Statement, o *ExecOptions) (*Result, error) {
	return tx.db.Exec(ctx, s, o)
}

// Batch runs a batch in the transaction (a savepoint of it).
func (tx *Tx) Batch(ctx context.Context, stmts []Statement, o *BatchOptions) (*BatchResult, error) {
	return tx.db.Batch(ctx, stmts, o)
}

// Commit commits the transaction.
func (tx *Tx) Commit(ctx context.Context) error { return tx.end(ctx, "commit") }

// Rollback rolls the transaction back.
func (tx *Tx) Rollback(ctx context.Context) error { return tx.end(ctx, "rollback") }

func (tx *Tx) end(ctx context.Context, what string) error {
	_, err := tx.db.c.call(ctx, request{method: http.MethodPost, path: pathOf("api", "db", tx.db.name, "transactions", tx.ID, what)}, nil)
	return err
}

// Column is a column of CreateTable.
type Column struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	PrimaryKey bool   `json:"primary_key,omitempty"`
	NotNull    bool   `json:"not_null,omitempty"`
	Unique     bool   `json:"unique,omitempty"`
	// Default is the column's default value (nil: none).
	Default any `json:"default,omitempty"`
}

// CreateTable creates a table (CREATE TABLE IF NOT EXISTS: a repeat is
// harmless).
func (db *DB) CreateTable(ctx context.Context, name string, columns []Column) error {
	if err := need(db.name); err != nil {
		return err
	}
	cols := make([]Column, len(columns))
	for i, c := range columns {
		c.Default = encodeValue(c.Default)
		cols[i] = c
	}
	r := request{method: http.MethodPost, path: db.path("tables"), header: http.Header{},
		json: map[string]any{"table_name": name, "columns": cols}}
	db.options(&r, map[string]any{}, nil, false)
	_, err := db.c.call(ctx, r, nil)
	return err
}

// TableInfo is a table or view of the list.
type TableInfo struct {
	Name string `json:"name"`
	Type string `json:"type"` // table or view
	// Rows is an estimate of a table's rows (exact up to 10,000); nil
	// for a view.
	Rows *int64 `json:"rows"`
}

// Tables lists the database's tables and views.
func (db *DB) Tables(ctx context.Context) ([]TableInfo, error) {
	var out struct {
		Tables []TableInfo `json:"tables"`
	}
	_, err := db.c.call(ctx, request{method: http.MethodGet, path: db.path("tables"), idempotent: true}, &out)
	return out.Tables, err
}

// TableSchema describes a table or view.
type TableSchema struct {
	Name         string        `json:"name"`
	Type         string        `json:"type"`
	WithoutRowid bool          `json:"without_rowid,omitempty"`
	Strict       bool          `json:"strict,omitempty"`
	Columns      []ColumnInfo  `json:"columns"`
	Indexes      []IndexInfo   `json:"indexes,omitempty"`
	ForeignKeys  []ForeignKey  `json:"foreign_keys,omitempty"`
	Triggers     []TriggerInfo `json:"triggers,omitempty"`
	SQL          string        `json:"sql,omitempty"`
}

// ColumnInfo is a column of a schema.
type ColumnInfo struct {
	Name      string  `json:"name"`
	Type      string  `json:"type"`
	NotNull   bool    `json:"not_null,omitempty"`
	Default   *string `json:"default,omitempty"` // SQL text
	PK        int     `json:"pk,omitempty"`
	Generated string  `json:"generated,omitempty"`
}

// IndexInfo is an index of a schema.
type IndexInfo struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
	Unique  bool     `json:"unique,omitempty"`
	Origin  string   `json:"origin,omitempty"`
	Partial bool     `json:"partial,omitempty"`
	SQL     string   `json:"sql,omitempty"`
}

// ForeignKey is a foreign key of a schema.
type ForeignKey struct {
	Columns  []string `json:"columns"`
	Table    string   `json:"table"`
	To       []string `json:"to"`
	OnUpdate string   `json:"on_update,omitempty"`
	OnDelete string   `json:"on_delete,omitempty"`
}

// TriggerInfo is a trigger of a schema.
type TriggerInfo struct {
	Name string `json:"name"`
	SQL  string `json:"sql,omitempty"`
}

// Schema describes every table and view (verbose: with their SQL).
func (db *DB) Schema(ctx context.Context, verbose bool) ([]TableSchema, error) {
	var out struct {
		Tables []TableSchema `json:"tables"`
	}
	_, err := db.c.call(ctx, request{method: http.MethodGet, path: db.path("schema"), query: verboseQuery(verbose), idempotent: true}, &out)
	return out.Tables, err
}

// Table describes one table or view.
func (db *DB) Table(ctx context.Context, name string, verbose bool) (*TableSchema, error) {
	if err := need(name); err != nil {
		return nil, err
	}
	var out TableSchema
	_, err := db.c.call(ctx, request{method: http.MethodGet, path: db.path("tables", name), query: verboseQuery(verbose), idempotent: true}, &out)
	return &out, err
}

// DropTable drops a table or view.
func (db *DB) DropTable(ctx context.Context, name string) error {
	if err := need(name); err != nil {
		return err
	}
	_, err := db.c.call(ctx, request{method: http.MethodDelete, path: db.path("tables", name), idempotent: true}, nil)
	return err
}

func verboseQuery(v bool) url.Values {
	if !v {
		return nil
	}
	return url.Values{"verbose": {"1"}}
}
