package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Exports, imports, checkpoints and diffs (docs/API.md, Exports, imports
// and checkpoints).

// Export formats.
const (
	FormatSQLite = "sqlite" // the database file
	FormatSQL    = "sql"    // an SQL dump
)

// Stream is a body read as it arrives: an io.ReadCloser with what the
// answer said of it.
type Stream struct {
	io.ReadCloser
	// Size is the body's length in bytes, -1 when the answer did not say
	// (a dump is made as it is sent).
	Size int64
	// ContentType is the answer's Content-Type.
	ContentType string
}

// Export streams the database as format (FormatSQLite or FormatSQL; ""
// is FormatSQLite). The caller reads and closes the stream; a dump cut by
// a failure lacks its final COMMIT; and a file its length (the read
// fails).
func (db *DB) Export(ctx context.Context, format string) (*Stream, error) {
	if err := need(db.name); err != nil {
		return nil, err
	}
	var q url.Values
	if format != "" {
		q = url.Values{"format": {format}}
	}
	resp, err := db.c.do(ctx, request{method: http.MethodGet, path: db.path("export"), query: q, idempotent: true})
	if err != nil {
		return nil, err
	}
	return &Stream{ReadCloser: resp.Body, Size: resp.ContentLength, ContentType: resp.Header.Get("Content-Type")}, nil
}

// ImportResult is the answer of an import.
type ImportResult struct {
	Message string `json:"message"`
	// Statements run (an SQL script).
	Statements int64 `json:"statements"`
	// A CSV import: the table, whether it was created (and its columns
	// then), the rows written.
	Table        string       `json:"table"`
	Created      bool         `json:"created"`
	RowsAffected int64        `json:"rows_affected"`
	Columns      []ColumnInfo `json:"columns"`
}

// Import streams body into the database in one transaction: an SQL
// script (ContentTypeSQL, table "") or CSV (ContentTypeCSV) into table.
// It is never retried: the body is read once.
func (db *DB) Import(ctx context.Context, body io.Reader, contentType, table string) (*ImportResult, error) {
	if err := need(db.name); err != nil {
		return nil, err
	}
	var q url.Values
	if table != "" {
		q = url.Values{"table": {table}}
	}
	var out ImportResult
	_, err := db.c.call(ctx, request{method: http.MethodPost, path: db.path("import"), query: q, body: body, contentType: contentType}, &out)
	return &out, err
}

// Checkpoint is a named copy of a database.
type Checkpoint struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	SizeBytes int64     `json:"size_bytes"`
	Auto      bool      `json:"auto"`
}

// CreateCheckpoint takes a checkpoint named name ("": a name made of the
// time).
func (db *DB) CreateCheckpoint(ctx context.Context, name string) (*Checkpoint, error) {
	if err := need(db.name); err != nil {
		return nil, err
	}
	r := request{method: http.MethodPost, path: db.path("checkpoints")}
	if name != "" {
		r.json = map[string]any{"name": name}
	}
	var out Checkpoint
	_, err := db.c.call(ctx, r, &out)
	return &out, err
}

// Checkpoints lists the database's checkpoints, oldest first.
func (db *DB) Checkpoints(ctx context.Context) ([]Checkpoint, error) {
	if err := need(db.name); err != nil {
		return nil, err
	}
	var out struct {
		Checkpoints []Checkpoint `json:"checkpoints"`
	}
	_, err := db.c.call(ctx, request{method: http.MethodGet, path: db.path("checkpoints"), idempotent: true}, &out)
	return out.Checkpoints, err
}

// Restored is the answer of a restore: Undo is the checkpoint of the
// state it replaced.
type Restored struct {
	Message    string     `json:"message"`
	DBName     string     `json:"db_name"`
	Checkpoint string     `json:"checkpoint"`
	Undo       Checkpoint `json:"undo_checkpoint"`
}

// RestoreCheckpoint puts the database back to a checkpoint.
func (db *DB) RestoreCheckpoint(ctx context.Context, name string) (*Restored, error) {
	if err := need(db.name, name); err != nil {
		return nil, err
	}
	var out Restored
	_, err := db.c.call(ctx, request{method: http.MethodPost, path: db.path("checkpoints", name, "restore")}, &out)
	return &out, err
}

// DeleteCheckpoint deletes a checkpoint.
func (db *DB) DeleteCheckpoint(ctx context.Context, name string) error {
	if err := need(db.name, name); err != nil {
		return err
	}
	_, err := db.c.call(ctx, request{method: http.MethodDelete, path: db.path("checkpoints", name), idempotent: true}, nil)
	return err
}

// DiffOptions page and shape a diff.
type DiffOptions struct {
	// Summary: counts only.
	Summary bool
	// Limit: rows of a page (1 to 1000; 0: the gateway's 100).
	Limit int
	// Cursor: the NextCursor of the page before.
	Cursor string
	// AgainstKey: a key of the other database (X-Against-Key), for
	// "db:<other>" with a key of this one.
	AgainstKey string
}

// Diff is a page of a row-level diff.
type Diff struct {
	DBName     string         `json:"db_name"`
	Against    string         `json:"against"`
	Summary    bool           `json:"summary"`
	Schema     []SchemaChange `json:"schema"`
	Tables     []TableDiff    `json:"tables"`
	Truncated  bool           `json:"truncated"`
	NextCursor *string        `json:"next_cursor"`
}

// SchemaChange is an object of sqlite_schema added, dropped or modified.
type SchemaChange struct {
	Type           string   `json:"type"`
	Name           string   `json:"name"`
	Change         string   `json:"change"`
	Before         *string  `json:"before"`
	After          *string  `json:"after"`
	ColumnsAdded   []string `json:"columns_added"`
	ColumnsDropped []string `json:"columns_dropped"`
	ColumnsChanged []string `json:"columns_changed"`
}

// TableDiff is a table's changes in a page.
type TableDiff struct {
	Table    string       `json:"table"`
	Skipped  string       `json:"skipped,omitempty"`
	Key      []string     `json:"key"`
	Inserted int64        `json:"inserted"`
	Deleted  int64        `json:"deleted"`
	Updated  int64        `json:"updated"`
	Changes  []DiffChange `json:"changes"`
}

// DiffChange is a row that changed.
type DiffChange struct {
	Op     string `json:"op"`
	Key    Row    `json:"key"`
	Before Row    `json:"before"`
	After  Row    `json:"after"`
}

// Diff compares the database with against ("checkpoint:<name>" or
// "db:<name>"): what changed from against to now. One page; follow
// NextCursor for the next.
func (db *DB) Diff(ctx context.Context, against string, o *DiffOptions) (*Diff, error) {
	if err := need(db.name); err != nil {
		return nil, err
	}
	q := url.Values{"against": {against}}
	r := request{method: http.MethodGet, path: db.path("diff"), query: q, idempotent: true, header: http.Header{}}
	if o != nil {
		if o.Summary {
			q.Set("summary", "1")
		}
		if o.Limit > 0 {
			q.Set("limit", strconv.Itoa(o.Limit))
		}
		setIf(q, "cursor", o.Cursor)
		if o.AgainstKey != "" {
			r.header.Set("X-Against-Key", o.AgainstKey)
		}
	}
	var out Diff
	if _, err := db.c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	for i := range out.Tables {
		for j := range out.Tables[i].Changes {
			ch := &out.Tables[i].Changes[j]
			for _, row := range []Row{ch.Key, ch.Before, ch.After} {
				for k, v := range row {
					row[k] = decodeValue(v)
				}
			}
		}
	}
	return &out, nil
}
