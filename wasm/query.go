package wasm

import (
	"context"
	"errors"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ncruces/go-sqlite3"
	"go.uber.org/zap"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/sqlbuild"
)

// Input error codes of the rows routes.
const (
	CodeUnknownColumn   = "UNKNOWN_COLUMN"
	CodeDuplicateColumn = "DUPLICATE_COLUMN"
)

// errNeedWriter: a statement prepared on a reader turned out to write.
var errNeedWriter = errors.New("statement needs the writer")

// deadline bounds the request: by ctx's own deadline (a per-request
// override) up to MaxQueryTimeout, else by QueryTimeout.
func (e *Engine) deadline(ctx context.Context) context.Context {
	limit := e.cfg.QueryTimeout
	d, ok := ctx.Deadline()
	if ok {
		limit = e.cfg.MaxQueryTimeout
	}
	if bound := time.Now().Add(limit); !ok || bound.Before(d) {
		d = bound
	}
	return &bounded{Context: ctx, deadline: d}
}

// with runs fn on a connection of the database name: the writer when write
// is set, else a reader (or the idle writer). It takes care of the LRU hold,
// the interrupt, open transactions, faults and error translation.
func (e *Engine) with(ctx context.Context, name string, write bool, fn func(c *conn) error) error {
	ctx = e.deadline(ctx)
	db, err := e.acquire(ctx, name)
	if err != nil {
		return e.noteFault(name, "", translate(ctx, err))
	}
	defer e.release(db)
	err = db.run(ctx, write, fn)
	if errors.Is(err, errNeedWriter) {
		err = db.run(ctx, true, fn)
	}
	return e.noteFault(name, db.path, translate(ctx, err))
}

func (db *database) run(ctx context.Context, write bool, fn func(c *conn) error) error {
	if write {
		l, err := db.lease(ctx)
		if err != nil {
			return err
		}
		defer db.endLease(l)
		c := l.conn
		return c.do(ctx, func() error { return fn(c) })
	}
	c, err := db.readConn(ctx)
	if err != nil {
		return err
	}
	defer db.put(c)
	return c.do(ctx, func() error { return fn(c) })
}

// Query runs one SQL statement on database name, streaming any rows to w.
// Statements SQLite reports read-only run on a reader; others on the writer,
// unless q.ReadOnly: then they fail with forge.ErrReadOnly.
func (e *Engine) Query(ctx context.Context, name string, q forge.Statement, w forge.RowWriter) (forge.Result, error) {
	if err := checkSQLText(q.SQL, e.cfg.Limits.ExprDepth); err != nil {
		return forge.Result{}, err
	}
	write := !q.ReadOnly && e.writes.has(q.SQL)
	if !q.ReadOnly && e.cfg.MaxWriteBatch > 1 &&
		(write && e.groupable.has(q.SQL) || !write && looksLikeDML(q.SQL)) {
		return e.viaGroupCommit(ctx, name, q, w)
	}
	var res forge.Result
	err := e.with(ctx, name, write, func(c *conn) error {
		st, err := c.prepare(q.SQL)
		if err != nil || st == nil {
			return err
		}
		// A request that may only read runs only what SQLite itself calls
		// read-only once the statement is prepared: WITH ... INSERT, odd
		// spacing or case, REPLACE, RETURNING, DDL and PRAGMA x=y all fail
		// here, before any step. (Transaction control is read-only to
		// SQLite; a transaction left open ends with the request.)
		if q.ReadOnly && !st.readOnly {
			return forge.ErrReadOnly
		}
		if !st.readOnly && !c.writer {
			e.writes.add(q.SQL)
			return errNeedWriter
		}
		res, err = e.runMakingRoom(c, st, q.Params, w)
		if err == nil && st.groupable && e.cfg.MaxWriteBatch > 1 {
			e.groupable.add(q.SQL)
		}
		return err
	})
	return res, err
}

// runMakingRoom runs st on c; if st only deletes and failed because the
// volume is full, it asks Config.OnDiskFull for room and, given some, runs
// st once more. The failed run was an autocommit statement that SQLite
// rolled back, so running it again cannot apply it twice.
func (e *Engine) runMakingRoom(c *conn, st *stmt, p forge.Params, w forge.RowWriter) (forge.Result, error) {
	res, err := c.run(st, p, w)
	if err != nil && st.shrinks && (isDiskFull(err) || volumeFullIOErr(c.dir, err)) && c.db.GetAutocommit() &&
		e.cfg.OnDiskFull != nil && e.cfg.OnDiskFull() {
		e.released.Add(1)
		e.log.Warn("volume full: released reserved space for a statement that deletes", zap.String("sql", truncate(st.sql, 80)))
		res, err = c.run(st, p, w)
	}
	return res, err
}

// isDiskFull tells an error of SQLite's that the volume is full.
func isDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// volumeFullIOErr tells an I/O error of SQLite's met on the full volume
// holding dir. A real ENOSPC reaches the engine as a bare SQLITE_IOERR
// ("disk I/O error"): ncruces v0.32's VFS looks for a unix.Errno where
// os.File returns an *os.PathError (so never says SQLITE_FULL), and the
// system error it keeps is reset by the calls of the rollback that
// follows. The volume itself is the witness left.
func volumeFullIOErr(dir string, err error) bool {
	return errors.Is(err, sqlite3.IOERR) && dir != "" && volumeFree(dir) < diskFullMargin
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// viaGroupCommit runs a write statement known to be plain DML through the
// database's writer queue (group commit, groupcommit.go).
func (e *Engine) viaGroupCommit(ctx context.Context, name string, q forge.Statement, w forge.RowWriter) (forge.Result, error) {
	ctx = e.deadline(ctx)
	db, err := e.acquire(ctx, name)
	if err != nil {
		return forge.Result{}, e.noteFault(name, "", translate(ctx, err))
	}
	defer e.release(db)
	res, err := e.groupWrite(ctx, db, q, w)
	return res, e.noteFault(name, db.path, err)
}

// CreateTable creates a table from spec if none of that name exists.
func (e *Engine) CreateTable(ctx context.Context, name string, spec forge.TableSpec) error {
	sql, err := sqlbuild.CreateTable(spec, 0)
	if err != nil {
		return err
	}
	return e.with(ctx, name, true, func(c *conn) error {
		st, err := c.prepare(sql)
		if err != nil {
			return err
		}
		_, err = c.run(st, forge.Params{}, nil)
		return err
	})
}

// SelectRows streams the rows of table matching every filter (equality,
// ANDed), in rowid order for ordinary tables.
func (e *Engine) SelectRows(ctx context.Context, name, table string, filters []forge.Filter, w forge.RowWriter) (forge.Result, error) {
	if err := sqlbuild.ValidateExistingIdentifier("table", table); err != nil {
		return forge.Result{}, err
	}
	var res forge.Result
	err := e.with(ctx, name, false, func(c *conn) error {
		t, err := c.tableInfo(table)
		if err != nil {
			return err
		}
		cols := make([]string, len(filters))
		params := forge.Params{Positional: make([]forge.Value, len(filters))}
		for i, f := range filters {
			real, err := t.column(f.Column)
			if err != nil {
				return err
			}
			for _, prev := range cols[:i] {
				if prev == real {
					return forge.Inputf(CodeDuplicateColumn, "Column '%s' is filtered more than once.", real)
				}
			}
			cols[i] = real
			params.Positional[i] = f.Value
		}
		order := ""
		if t.kind == "table" && !t.withoutRowid {
			order = sqlbuild.RowidAlias(t.columns)
		}
		st, err := c.prepare(sqlbuild.Select(t.name, cols, order))
		if err != nil {
			return err
		}
		res, err = c.run(st, params, w)
		return err
	})
	return res, err
}

// InsertRows inserts records into table in one transaction: every row or
// none. A record's missing columns take their defaults.
func (e *Engine) InsertRows(ctx context.Context, name, table string, records []forge.Record) (int64, error) {
	if err := sqlbuild.ValidateExistingIdentifier("table", table); err != nil {
		return 0, err
	}
	var total int64
	err := e.with(ctx, name, true, func(c *conn) error {
		t, err := c.tableInfo(table)
		if err != nil {
			return err
		}
		// Check every row before writing any.
		cols := make([][]string, len(records))
		for i, r := range records {
			cols[i] = make([]string, len(r))
			for j, f := range r {
				real, err := t.column(f.Column)
				if err != nil {
					return err
				}
				for _, prev := range cols[i][:j] {
					if prev == real {
						return forge.Inputf(CodeDuplicateColumn, "Column '%s' appears twice in row %d.", real, i)
					}
				}
				cols[i][j] = real
			}
		}
		if err := c.db.Exec("BEGIN IMMEDIATE"); err != nil {
			return err
		}
		params := forge.Params{}
		var st *stmt
		for i, r := range records {
			// Rows usually share their columns: build and look up the
			// INSERT only when the column list changes.
			if i == 0 || !slices.Equal(cols[i], cols[i-1]) {
				if st, err = c.prepare(sqlbuild.Insert(t.name, cols[i])); err != nil {
					return err // do() rolls back
				}
			}
			params.Positional = params.Positional[:0]
			for _, f := range r {
				params.Positional = append(params.Positional, f.Value)
			}
			res, err := c.run(st, params, nil)
			if err != nil {
				return err
			}
			total += res.RowsAffected
		}
		return c.commit("COMMIT")
	})
	if err != nil {
		return 0, err
	}
	return total, nil
}

// tableInfo describes a table (or view) for the rows routes.
type tableInfo struct {
	name         string // as declared, whatever case the client used
	kind         string // "table", "view", "virtual", "shadow"
	withoutRowid bool
	columns      []string
}

// column maps a client's column name to the table's, ignoring case as
// SQLite does; unknown names are an input error.
func (t *tableInfo) column(name string) (string, error) {
	for _, c := range t.columns {
		if strings.EqualFold(c, name) {
			return c, nil
		}
	}
	return "", forge.Inputf(CodeUnknownColumn, "Unknown column '%s' in table '%s'.", name, t.name)
}

func (c *conn) tableInfo(table string) (*tableInfo, error) {
	st, err := c.prepare(sqlbuild.TableInfoSQL)
	if err != nil {
		return nil, err
	}
	t := &tableInfo{}
	err = func() error {
		defer st.reset()
		if err := st.s.BindText(1, table); err != nil {
			return err
		}
		if !st.s.Step() {
			if err := st.s.Err(); err != nil {
				return err
			}
			return forge.ErrTableNotFound
		}
		t.name = st.s.ColumnText(0)
		t.kind = st.s.ColumnText(1)
		t.withoutRowid = st.s.ColumnInt(2) != 0
		return nil
	}()
	if err != nil {
		return nil, err
	}
	st, err = c.prepare(sqlbuild.ColumnsSQL)
	if err != nil {
		return nil, err
	}
	defer st.reset()
	if err := st.s.BindText(1, t.name); err != nil {
		return nil, err
	}
	for st.s.Step() {
		t.columns = append(t.columns, st.s.ColumnText(0))
	}
	return t, st.s.Err()
}
