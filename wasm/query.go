package wasm

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"time"

	"github.com/ncruces/go-sqlite3"
	"go.uber.org/zap"

	"github.com/praetorian/db-forge/forge"
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

// run runs fn on a connection of db: under a lease of the writer when
// write is set (writer.go), else on a reader (or the idle writer, lent).
func (db *database) run(ctx context.Context, write bool, fn func(c *conn) error) error {
	if write {
		var l lease
		if err := db.lease(ctx, &l); err != nil {
			return err
		}
		defer db.endLease(&l)
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
		res, err = e.runMakingRoom(c, st, q, w)
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
//
// A lone write that is recorded in the audit log runs in a transaction of
// its own that carries its record (runWrapped), or, when its record is
// written after its commit (Auditor.AfterCommit), in autocommit mode, its
// record handed on after it (runThenHandOn).
func (e *Engine) runMakingRoom(c *conn, st *stmt, q forge.Statement, w forge.RowWriter) (forge.Result, error) {
	if !st.readOnly && c.recorded(st) && c.db.GetAutocommit() && !strings.EqualFold(forge.LeadingWord(st.sql), "VACUUM") {
		// (VACUUM cannot run in a transaction: the sandbox refuses it,
		// and says so, only once it runs.)
		if c.aud.after {
			return e.runThenHandOn(c, st, q, w)
		}
		return e.runWrapped(c, st, q, w)
	}
	return e.runAutocommit(c, st, q, w)
}

// runAutocommit is runMakingRoom's run of st, its retry included.
func (e *Engine) runAutocommit(c *conn, st *stmt, q forge.Statement, w forge.RowWriter) (forge.Result, error) {
	res, err := c.run(st, q.Params, w, q.Meta)
	if err != nil && st.shrinks && (isDiskFull(err) || volumeFullIOErr(c.dir, err)) && c.db.GetAutocommit() &&
		e.cfg.OnDiskFull != nil && e.cfg.OnDiskFull() {
		e.released.Add(1)
		e.log.Warn("volume full: released reserved space for a statement that deletes", zap.String("sql", truncate(st.sql, 80)))
		res, err = c.run(st, q.Params, w, q.Meta)
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
