package wasm

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/praetorian/db-forge/forge"
)

// conn is one SQLite connection in its own wasm instance, with its cache of
// prepared statements. A conn is used by one goroutine at a time: whoever
// took it from its database's pool.
type conn struct {
	db      *sqlite3.Conn
	dir     string // the database's directory: its volume is asked when a write fails
	writer  bool
	maxStmt int
	stmts   map[string]*list.Element // SQL text → *stmt
	lru     list.List                // front = most recently used
	broken  bool                     // the wasm instance failed; discard it
	demoted bool                     // a writer lent to a read and replaced; guarded by writerQueue.mu
	used    time.Time                // readers: when it went back to the pool

	// The sandbox's state for the statement being run (see sandbox.go).
	stepping bool   // a statement is being stepped, not prepared
	denied   string // the first reason the authorizer refused something
	// nonDML: while a statement was prepared, the authorizer saw an action
	// other than reading, inserting, updating or deleting rows (groupcommit.go).
	nonDML bool
	// txControl: while a statement was prepared, the authorizer saw BEGIN,
	// COMMIT or ROLLBACK (not a savepoint): only a unit of work's own
	// statements may end its transaction (tx.go).
	txControl bool
	// altering: while a statement was prepared, the authorizer saw ALTER
	// TABLE (whose new name, if a rename, it is not told: renamedTo).
	altering bool
	// grows: while a statement was prepared, the authorizer saw an action
	// other than reading, deleting rows or dropping objects.
	grows bool
	// inserts: while a statement was prepared, the authorizer saw an
	// insert (the statement's last_insert_id means something).
	inserts bool
	// bookkeeping: the statement being prepared or run is the engine's own
	// (forge.Statement.Bookkeeping), which may touch the reserved tables.
	bookkeeping bool

	// txnEnd is how the last transaction on this connection ended, as the
	// commit and rollback hooks saw it; the engine clears it before a
	// statement that may commit (see committedDespite).
	txnEnd txnEnd

	// aud is the database's audit log (audit.go), nil when it has none;
	// pending, the records of the writes of the transaction open.
	aud     *dbAudit
	pending []forge.AuditRecord
	// auditReady: a transaction of this connection that stored records
	// committed, so the table is there (or was: auditCommit); auditRan:
	// the open transaction's records were stored.
	auditReady, auditRan bool
	// savepoints: the client's savepoints open in the transaction, for
	// its records (auditSavepoint).
	savepoints []auditMark
	// callerOf is the interrupt context whose forge.Caller is caller:
	// the statements of one unit share it (runRecorded).
	callerOf context.Context
	caller   *forge.Caller
	// savepointOp, savepointName: while a statement was prepared, the
	// authorizer saw a savepoint's BEGIN, RELEASE or ROLLBACK (TO) of
	// that name.
	savepointOp, savepointName string
}

// txnEnd is what the commit and rollback hooks saw.
type txnEnd uint8

const (
	txnOpen       txnEnd = iota // no transaction ended since it was cleared
	txnCommitted                // the commit hook ran and no rollback followed
	txnRolledBack               // a rollback (also of a failed commit)
)

// stmt is a cached prepared statement with what we learnt of it once.
type stmt struct {
	s        *sqlite3.Stmt
	sql      string
	names    []string // result column names; empty for statements without rows
	params   []string // parameter names without sigil; "" for positional ones
	readOnly bool
	// groupable: plain DML without result rows, which may share a
	// transaction with others (groupcommit.go).
	groupable bool
	// txControl: BEGIN, COMMIT, END or ROLLBACK (not ROLLBACK TO).
	txControl bool
	// shrinks: a write that only deletes rows or drops objects (no trigger
	// or clause of it inserts, updates or creates anything): on a full
	// volume the engine may release reserved space for it (Config.OnDiskFull).
	shrinks bool
	// inserts: the statement (or a trigger of it) inserts rows.
	inserts bool
	// savepointOp, savepointName: SAVEPOINT ("BEGIN"), RELEASE or
	// ROLLBACK TO ("ROLLBACK") of that savepoint (audit.go).
	savepointOp, savepointName string
	reprep                     int  // SQLITE_STMTSTATUS_REPREPARE when names were read
	bigBind                    bool // a large TEXT or BLOB is bound; clear it at reset
	row                        stmtRow
}

// bigBinding is the size from which a bound TEXT or BLOB is released
// after the statement ran rather than kept until its next use.
const bigBinding = 4 << 10

// refreshColumns re-reads the result column names if SQLite has re-prepared
// the statement since they were read.
func (st *stmt) refreshColumns() {
	n := st.s.Status(sqlite3.STMTSTATUS_REPREPARE, false)
	if n == st.reprep {
		st.row.count(len(st.names))
		return
	}
	st.reprep = n
	// A new slice: an earlier RowWriter may still hold the old one.
	names := make([]string, st.s.ColumnCount())
	for i := range names {
		names[i] = st.s.ColumnName(i)
	}
	st.names = names
	st.row.count(len(names))
}

// connOptions are the per-connection settings an Engine applies.
type connOptions struct {
	writer      bool
	synchronous string
	busyTimeout time.Duration
	maxStmt     int
	pageCacheKB int64 // PRAGMA cache_size in KiB; 0 or less: SQLite's default
	heapLimit   int64
	maxDBBytes  int64
	limits      Limits
	// immutable opens the file read-only and immutable (OpenFileReader).
	immutable bool
	// funcs are the database's own scalar functions (sqlfunc.go).
	funcs []SQLFunction
}

// walSizeLimit bounds the WAL file left on disk after a checkpoint
// (journal_size_limit): a big transaction's WAL does not stay that big.
const walSizeLimit = 64 << 20

func openConn(path string, o connOptions) (c *conn, err error) {
	// OPEN_READWRITE without OPEN_CREATE: volumes creates database files;
	// the engine never conjures one up from a name.
	var db *sqlite3.Conn
	if o.immutable {
		db, err = sqlite3.OpenFlags(immutableURI(path), sqlite3.OPEN_READONLY|sqlite3.OPEN_URI|sqlite3.OPEN_NOFOLLOW)
	} else {
		db, err = sqlite3.OpenFlags(path, sqlite3.OPEN_READWRITE|sqlite3.OPEN_NOFOLLOW)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	c = &conn{db: db, dir: filepath.Dir(path), writer: o.writer, maxStmt: o.maxStmt, stmts: make(map[string]*list.Element)}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("configure %s: %w: %v", path, forge.ErrEngineFault, r)
		}
		if err != nil {
			c.close()
		}
	}()
	if err := db.BusyTimeout(o.busyTimeout); err != nil {
		return nil, err
	}
	// How transactions end, so that a statement interrupted after its
	// commit is answered as committed (committedDespite).
	db.CommitHook(func() bool { c.txnEnd = txnCommitted; return true })
	db.RollbackHook(func() { c.txnEnd = txnRolledBack })
	// The gateway's settings, before the sandbox takes them from clients:
	// temp_store=MEMORY keeps sorts and temporary b-trees inside the
	// instance's heap (bounded by heapLimit) instead of in files outside
	// the database's directory.
	pragmas := "PRAGMA synchronous=" + o.synchronous + ";PRAGMA temp_store=MEMORY;" +
		"PRAGMA journal_size_limit=" + strconv.Itoa(walSizeLimit) + ";"
	if o.pageCacheKB > 0 {
		// The page cache is most of an instance's memory, which wasm never
		// gives back: its bound is the instance's (Config.PageCache).
		pragmas += "PRAGMA cache_size=-" + strconv.FormatInt(o.pageCacheKB, 10) + ";"
	}
	if o.writer {
		// WAL lets the readers of this database run beside its one writer.
		pragmas = "PRAGMA journal_mode=WAL;" + pragmas
	}
	if err := db.Exec(pragmas); err != nil {
		return nil, fmt.Errorf("configure %s: %w", path, err)
	}
	if err := c.setQuota(o.maxDBBytes); err != nil {
		return nil, fmt.Errorf("configure %s: %w", path, err)
	}
	if err := c.sandbox(o); err != nil {
		return nil, fmt.Errorf("configure %s: %w", path, err)
	}
	if err := registerFunctions(db, o.funcs); err != nil {
		return nil, fmt.Errorf("configure %s: %w", path, err)
	}
	dropFunctionCache(db)
	return c, nil
}

// setQuota caps the database file at maxBytes through max_page_count (a
// setting of the connection, so every connection gets it). SQLite keeps
// the cap at the file's size if that is larger already.
func (c *conn) setQuota(maxBytes int64) error {
	st, _, err := c.db.Prepare("PRAGMA page_size")
	if err != nil {
		return err
	}
	defer st.Close()
	if !st.Step() {
		return errors.Join(errors.New("PRAGMA page_size returned nothing"), st.Err())
	}
	pageSize := st.ColumnInt64(0)
	if pageSize <= 0 {
		return fmt.Errorf("page size %d", pageSize)
	}
	return c.db.Exec("PRAGMA max_page_count=" + strconv.FormatInt(max(maxBytes/pageSize, 1), 10))
}

// sandbox applies the connection's limits and installs the authorizer.
func (c *conn) sandbox(o connOptions) error {
	for _, opt := range []struct {
		op sqlite3.DBConfig
		on bool
	}{
		// Defensive mode: no writable_schema, no writes to sqlite_dbpage
		// or shadow tables, no journal_mode=OFF.
		{sqlite3.DBCONFIG_DEFENSIVE, true},
		// Functions with side effects never run from a view or trigger.
		{sqlite3.DBCONFIG_TRUSTED_SCHEMA, false},
		{sqlite3.DBCONFIG_ENABLE_FTS3_TOKENIZER, false},
		// (ENABLE_ATTACH_CREATE/WRITE would back up the denied ATTACH, but
		// ncruces v0.32's Config refuses options past REVERSE_SCANORDER;
		// the authorizer and LIMIT_ATTACHED=0 stop ATTACH instead.)
	} {
		got, err := c.db.Config(opt.op, opt.on)
		if err != nil {
			return fmt.Errorf("db config %d: %w", opt.op, err)
		}
		if got != opt.on {
			return fmt.Errorf("db config %d: still %v", opt.op, got)
		}
	}
	l := o.limits
	for _, lim := range []struct {
		id sqlite3.LimitCategory
		v  int
	}{
		{sqlite3.LIMIT_LENGTH, l.Length},
		{sqlite3.LIMIT_SQL_LENGTH, l.SQLLength},
		{sqlite3.LIMIT_COLUMN, l.Column},
		{sqlite3.LIMIT_EXPR_DEPTH, l.ExprDepth},
		{sqlite3.LIMIT_COMPOUND_SELECT, l.CompoundSelect},
		{sqlite3.LIMIT_VDBE_OP, l.VDBEOp},
		{sqlite3.LIMIT_LIKE_PATTERN_LENGTH, l.LikePatternLength},
		{sqlite3.LIMIT_VARIABLE_NUMBER, l.VariableNumber},
		{sqlite3.LIMIT_TRIGGER_DEPTH, l.TriggerDepth},
		{sqlite3.LIMIT_ATTACHED, 0},
	} {
		c.db.Limit(lim.id, lim.v)
	}
	// Each instance has its own SQLite, so this limit is the connection's.
	c.db.HardHeapLimit(o.heapLimit)
	return c.db.SetAuthorizer(c.authorizer)
}

// close finalizes every cached statement and closes the connection and its
// wasm instance. A broken instance may trap again on the way out; then its
// module is closed directly, which closes the database's files in it and
// releases their locks, so that the next connection can write.
func (c *conn) close() {
	if c == nil {
		return
	}
	defer func() {
		if recover() != nil {
			closeModule(c.db)
		}
	}()
	for e := c.lru.Front(); e != nil; e = e.Next() {
		_ = e.Value.(*stmt).s.Close()
	}
	c.stmts = nil
	c.lru.Init()
	if err := c.db.Close(); err != nil {
		closeModule(c.db)
	}
}

// prepare returns the cached statement for sql, preparing it on a miss.
// It refuses SQL that holds more than one statement, as the prototype did.
// A nil stmt with a nil error means sql holds no statement at all.
func (c *conn) prepare(sql string) (*stmt, error) {
	return c.prepareKey(sql, sql)
}

// bookkeepingKey is the statement cache's key of a bookkeeping statement:
// its text after a NUL, which no client's SQL holds (checkSQLText), so a
// client's statement of the same text is prepared, and authorized, anew.
func bookkeepingKey(sql string) string { return "\x00" + sql }

// prepareKey is prepare with the statement cache's key for sql.
func (c *conn) prepareKey(sql, key string) (*stmt, error) {
	if e, ok := c.stmts[key]; ok {
		c.lru.MoveToFront(e)
		return e.Value.(*stmt), nil
	}
	c.nonDML, c.grows, c.txControl, c.inserts, c.altering = false, false, false, false, false
	c.savepointOp, c.savepointName = "", ""
	s, tail, err := c.db.Prepare(sql)
	if err != nil && errors.Is(err, sqlite3.ERROR) && c.reloadSchema() {
		// This connection's copy of the schema may predate DDL run on
		// another one. SQLite checks it when a statement runs, and when
		// some errors ("no such table") occur in prepare, but not all:
		// ALTER TABLE ... DROP/RENAME COLUMN of a column added since
		// fails against the old copy. Refresh it and try once more.
		c.nonDML, c.grows, c.txControl, c.inserts, c.altering = false, false, false, false, false
		s, tail, err = c.db.Prepare(sql)
	}
	if err != nil {
		return nil, err
	}
	nonDML, grows, txControl, inserts := c.nonDML, c.grows, c.txControl, c.inserts
	if s == nil {
		return nil, nil
	}
	if tail != "" {
		// Only whitespace and comments may follow the statement. What
		// the authorizer thinks of a second statement does not matter:
		// it is refused either way.
		denied := c.denied
		t, _, terr := c.db.Prepare(tail)
		c.denied = denied
		if t != nil || terr != nil {
			_ = t.Close()
			_ = s.Close()
			return nil, &forge.SQLError{Message: "You can only execute one statement at a time.", Code: "SQLITE_MISUSE"}
		}
	}
	if c.altering && !c.bookkeeping {
		if name, ok := renamedTo(sql); ok && forge.IsReserved(name) {
			_ = s.Close()
			return nil, &forge.NotAuthorizedError{Reason: reasonReserved}
		}
	}
	// The cache outlives the request: its own copy of the text, not a
	// piece of a request's body (the batch decoder's strings are).
	key = strings.Clone(key)
	st := &stmt{s: s, sql: key, readOnly: s.ReadOnly(), reprep: s.Status(sqlite3.STMTSTATUS_REPREPARE, false)}
	st.groupable = !st.readOnly && !nonDML && s.ColumnCount() == 0
	st.txControl = txControl
	st.shrinks = !st.readOnly && !grows
	st.inserts = !st.readOnly && inserts
	st.savepointOp, st.savepointName = c.savepointOp, c.savepointName
	st.row.s = s
	if n := s.ColumnCount(); n > 0 {
		st.names = make([]string, n)
		for i := range st.names {
			st.names[i] = s.ColumnName(i)
		}
	}
	if n := s.BindCount(); n > 0 {
		st.params = make([]string, n)
		for i := range st.params {
			name := s.BindName(i + 1)
			if len(name) > 1 && (name[0] == ':' || name[0] == '@' || name[0] == '$') {
				name = name[1:]
			} else {
				name = "" // "?" or "?NNN": positional
			}
			st.params[i] = name
		}
	}
	c.stmts[key] = c.lru.PushFront(st)
	for c.lru.Len() > c.maxStmt {
		old := c.lru.Back()
		c.lru.Remove(old)
		o := old.Value.(*stmt)
		delete(c.stmts, o.sql)
		_ = o.s.Close()
	}
	return st, nil
}

// reloadSchema brings the connection's copy of the schema up to date: a
// statement that reads sqlite_schema verifies the schema cookie and, if the
// file's has moved on, makes SQLite reload the schema.
func (c *conn) reloadSchema() bool {
	return c.db.Exec("SELECT count(*) FROM sqlite_schema") == nil
}

// bind binds p to st the way the prototype's Python sqlite3 did, with its
// error messages: a list binds by position and must match the parameter
// count; an object binds by name and must hold every named parameter.
func (st *stmt) bind(p forge.Params) error {
	n := len(st.params)
	if !p.IsNamed {
		if len(p.Positional) != n {
			return &forge.SQLError{
				Message: fmt.Sprintf("Incorrect number of bindings supplied. The current statement uses %d, and there are %d supplied.", n, len(p.Positional)),
				Code:    "SQLITE_RANGE",
			}
		}
		for i, v := range p.Positional {
			if err := st.bindValue(i+1, v); err != nil {
				return err
			}
		}
		return nil
	}
	for i, name := range st.params {
		if name == "" {
			return &forge.SQLError{
				Message: fmt.Sprintf("Binding %d has no name, but you supplied a dictionary (which has only names).", i+1),
				Code:    "SQLITE_RANGE",
			}
		}
		v, ok := lookupNamed(p.Named, name)
		if !ok {
			return &forge.SQLError{
				Message: fmt.Sprintf("You did not supply a value for binding parameter :%s.", name),
				Code:    "SQLITE_RANGE",
			}
		}
		if err := st.bindValue(i+1, v); err != nil {
			return err
		}
	}
	return nil
}

func lookupNamed(named []forge.NamedValue, name string) (forge.Value, bool) {
	for _, nv := range named {
		if nv.Name == name {
			return nv.Value, true
		}
	}
	return forge.Value{}, false
}

func (st *stmt) bindValue(i int, v forge.Value) error {
	s := st.s
	if len(v.Str) >= bigBinding || len(v.Bytes) >= bigBinding {
		st.bigBind = true
	}
	switch v.Kind {
	case forge.Integer:
		return s.BindInt64(i, v.Int)
	case forge.Float:
		return s.BindFloat(i, v.Float)
	case forge.Text:
		return s.BindText(i, v.Str)
	case forge.Blob:
		return s.BindBlob(i, v.Bytes)
	default:
		return s.BindNull(i)
	}
}

// reset readies st for its next use whatever happened to this one. Every
// use binds every parameter, so bindings need clearing only to release a
// large TEXT or BLOB copy that would otherwise sit in the cached statement.
func (st *stmt) reset() {
	_ = st.s.Reset()
	if st.bigBind {
		_ = st.s.ClearBindings()
		st.bigBind = false
	}
}

// returningSavepoint holds a statement that writes and returns rows until
// its last row is out.
const returningSavepoint = "forge_returning"

// run binds, steps and resets st, streaming rows to w. The caller has set
// the connection's interrupt context.
//
// A statement that writes and returns rows (INSERT ... RETURNING) makes all
// its changes at its first step, and SQLite keeps them even if the
// statement is reset before its last row. The client is told the statement
// failed when w refuses a row (a response over its cap) or the deadline
// passes mid-stream, so such a statement runs inside a savepoint released
// only after its last row; on failure the savepoint's transaction is left
// open and do() rolls it back.
func (c *conn) run(st *stmt, p forge.Params, w forge.RowWriter, meta bool) (res forge.Result, err error) {
	if c.recorded(st) {
		return c.runRecorded(st, p, w, meta)
	}
	return c.runStmt(st, p, w, meta)
}

// runStmt is run without a record.
func (c *conn) runStmt(st *stmt, p forge.Params, w forge.RowWriter, meta bool) (res forge.Result, err error) {
	defer st.reset()
	if err := st.bind(p); err != nil {
		return forge.Result{}, err
	}
	var total int64  // the connection's total changes before the statement
	var counted bool // runExecFrom fills res.Meta's counts of changes
	if meta {
		start := time.Now()
		if !st.readOnly {
			total = c.db.TotalChanges()
		}
		counted = !st.readOnly && len(st.names) == 0
		defer func() { c.meta(st, &res.Meta, start, total, counted) }()
	}
	c.stepping = true
	defer func() { c.stepping = false }()
	if counted {
		// The commonest statement with meta (an INSERT in a batch): the
		// counts runExec reads serve meta too, not asked of SQLite twice.
		return c.runExecFrom(st, total, true)
	}
	if len(st.names) > 0 && !st.readOnly {
		if err := c.db.Exec("SAVEPOINT " + returningSavepoint); err != nil {
			return forge.Result{}, err
		}
		res, err := c.runRows(st, w)
		if err != nil {
			return res, err
		}
		st.reset() // a pending write statement would block RELEASE
		return res, c.commit("RELEASE " + returningSavepoint)
	}
	if len(st.names) > 0 {
		return c.runRows(st, w)
	}
	return c.runExec(st)
}

// meta fills m with what SQLite counted of st's run, which began at
// start with the connection's total changes at total. A read-only
// statement changes nothing: only its status counters are asked for.
// counted: the statement's run filled m.Changes and m.RowsWritten
// (runExecFrom), and m.LastInsertID is all that is left to ask.
func (c *conn) meta(st *stmt, m *forge.Meta, start time.Time, total int64, counted bool) {
	m.VMSteps = int64(st.s.Status(sqlite3.STMTSTATUS_VM_STEP, true))
	m.FullScanSteps = int64(st.s.Status(sqlite3.STMTSTATUS_FULLSCAN_STEP, true))
	if counted {
		if st.inserts && m.Changes > 0 {
			m.LastInsertID = c.db.LastInsertRowID()
		}
	} else if !st.readOnly {
		// sqlite3_changes keeps the count of the last INSERT, UPDATE or
		// DELETE even after DDL; only trust it when this statement
		// changed something.
		if m.RowsWritten = c.db.TotalChanges() - total; m.RowsWritten != 0 {
			m.Changes = c.db.Changes()
			if st.inserts && m.Changes > 0 {
				m.LastInsertID = c.db.LastInsertRowID()
			}
		}
	}
	m.Duration = time.Since(start)
}

// runRows steps a statement that returns rows, streaming them to w.
func (c *conn) runRows(st *stmt, w forge.RowWriter) (forge.Result, error) {
	res := forge.Result{ReturnsRows: true}
	more := st.s.Step()
	// The first step may have re-prepared the statement after a schema
	// change: SELECT * can have gained or lost columns since we cached it.
	st.refreshColumns()
	if w != nil {
		if err := w.Columns(st.names); err != nil {
			return res, err
		}
	}
	for ; more; more = st.s.Step() {
		res.RowsAffected++
		if w != nil {
			st.row.next()
			if err := w.Row(&st.row); err != nil {
				if errors.Is(err, forge.ErrStop) {
					res.RowsAffected-- // the row the writer refused
					return res, nil
				}
				return res, err
			}
		}
	}
	if err := st.s.Err(); err != nil {
		return res, err
	}
	return res, nil
}

// runExec steps a statement without result columns.
func (c *conn) runExec(st *stmt) (forge.Result, error) {
	return c.runExecFrom(st, c.db.TotalChanges(), false)
}

// runExecFrom is runExec for a connection whose total changes were before
// when the statement began; with meta it also fills the result's
// Meta.Changes and Meta.RowsWritten (conn.meta's counted).
func (c *conn) runExecFrom(st *stmt, before int64, meta bool) (forge.Result, error) {
	c.txnEnd = txnOpen
	for st.s.Step() {
		// A statement without result columns yields no row; nothing to do.
	}
	if err := st.s.Err(); err != nil && !c.committedDespite(err) {
		return forge.Result{}, err
	}
	var res forge.Result
	// sqlite3_changes keeps the count of the last INSERT, UPDATE or DELETE
	// even after DDL; only trust it when this statement changed something.
	if after := c.db.TotalChanges(); after != before {
		res.RowsAffected = c.db.Changes()
		if meta {
			res.Meta.RowsWritten, res.Meta.Changes = after-before, res.RowsAffected
		}
	}
	return res, nil
}

// commit runs sql, a statement that may commit a transaction (COMMIT,
// RELEASE of the outermost savepoint), on the connection's interrupt
// context; see committedDespite.
func (c *conn) commit(sql string) error {
	c.txnEnd = txnOpen
	// From the statement cache (c.control), as group commit's COMMIT: by
	// c.db.Exec, SQLite parsed it at every commit, 1.2–1.8 µs of a lone
	// write's 12 (BenchmarkAuditRowCost, "parsedcommit").
	if err := c.control(sql); err != nil && !c.committedDespite(err) {
		return err
	}
	return nil
}

// committedDespite tells whether err, the failure of a statement that ran
// since txnEnd was cleared, is an interrupt that came after the statement's
// transaction had committed. SQLite calls the progress handler once more
// after OP_Halt has committed an autocommit statement (vdbe_return in
// sqlite3VdbeExec), so the deadline passing at that moment turns a
// committed write into SQLITE_INTERRUPT. Such a write is answered as the
// success it is: a client told "timed out" would retry and write twice.
// A commit that failed runs the rollback hook after the commit hook, so
// only a commit that stood counts.
func (c *conn) committedDespite(err error) bool {
	return c.txnEnd == txnCommitted && errors.Is(err, sqlite3.INTERRUPT) && c.db.GetAutocommit()
}

// do runs fn with ctx as the connection's interrupt, then rolls back any
// transaction the work left open (a client's BEGIN without COMMIT): no
// request leaves its database locked once it is over.
//
// It also contains a panic from inside the wasm instance (a trap, or SQLite
// out of memory, which ncruces/go-sqlite3 reports by panicking): the
// connection is marked broken so that its pool discards it, and the caller
// gets forge.ErrOutOfMemory or forge.ErrEngineFault. The database file is
// unharmed: SQLite's journal undoes whatever the instance had not committed.
//
// A statement the sandbox refused fails with the authorizer's reason.
func (c *conn) do(ctx context.Context, fn func() error) error {
	err := c.hold(ctx, fn)
	if c.broken || c.db.GetAutocommit() {
		c.auditDiscard() // records of a transaction that did not commit
		return err
	}
	rerr := c.hold(context.Background(), func() error { return c.db.Exec("ROLLBACK") })
	if rerr != nil && err == nil {
		err = rerr
	}
	c.auditDiscard()
	return err
}

// isOutOfMemory tells SQLite running out of memory (which ncruces reports
// by panicking with its OOM error) from a trap of the instance.
func isOutOfMemory(r any) bool {
	e, ok := r.(error)
	return ok && strings.HasSuffix(e.Error(), "out of memory")
}

// stmtRow adapts the current row of a statement to forge.Row. It reads
// the whole row in one call into the instance (sqlite3_columns_go) the
// first time a column is asked for, instead of two calls per column.
//
// That call returns TEXT and BLOB alike as a view of the instance's
// memory, but a TEXT's view reaches over SQLite's terminating NUL (its
// capacity is one more than its length, go-sqlite3's ColumnsRaw) and a
// BLOB's does not: the kind is told from the view, not by one more call
// into the instance per TEXT value (TestRowKinds holds this to the
// library's behaviour).
type stmtRow struct {
	s      *sqlite3.Stmt
	vals   []any
	kinds  []forge.Kind
	n      int // the statement's column count; 0: ask SQLite (count)
	loaded bool
}

// next forgets the row read: the statement stepped.
func (r *stmtRow) next() { r.loaded = false }

// count sets the column count the rows are read with: n from the names
// read after the statement was (re-)prepared, or 0 to ask SQLite at the
// next row.
func (r *stmtRow) count(n int) { r.n = n }

func (r *stmtRow) load() {
	if r.loaded {
		return
	}
	n := r.n
	if n <= 0 {
		n = r.s.ColumnCount()
		r.n = n
	}
	r.size(n)
	if err := r.s.ColumnsRaw(r.vals...); err != nil {
		// Misuse if the count is stale (SQLite re-prepared the statement
		// since it was read): read it again, once.
		if m := r.s.ColumnCount(); m != n {
			r.n = m
			r.size(m)
			err = r.s.ColumnsRaw(r.vals...)
		}
		if err != nil {
			panic(err) // only on misuse or out of memory: do() contains it
		}
	}
	for i, v := range r.vals {
		switch v := v.(type) {
		case int64:
			r.kinds[i] = forge.Integer
		case float64:
			r.kinds[i] = forge.Float
		case nil:
			r.kinds[i] = forge.Null
		case []byte:
			if cap(v) > len(v) {
				r.kinds[i] = forge.Text // its view holds the NUL after it
			} else {
				r.kinds[i] = forge.Blob
			}
		}
	}
	r.loaded = true
}

func (r *stmtRow) size(n int) {
	if cap(r.vals) < n {
		r.vals = make([]any, n)
		r.kinds = make([]forge.Kind, n)
	}
	r.vals, r.kinds = r.vals[:n], r.kinds[:n]
}

func (r *stmtRow) Kind(i int) forge.Kind { r.load(); return r.kinds[i] }
func (r *stmtRow) Int(i int) int64       { r.load(); v, _ := r.vals[i].(int64); return v }
func (r *stmtRow) Float(i int) float64   { r.load(); v, _ := r.vals[i].(float64); return v }
func (r *stmtRow) Text(i int) []byte     { r.load(); v, _ := r.vals[i].([]byte); return v }
func (r *stmtRow) Blob(i int) []byte     { r.load(); v, _ := r.vals[i].([]byte); return v }
