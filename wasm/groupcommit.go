package wasm

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"go.uber.org/zap"

	"github.com/praetorian/db-forge/forge"
)

// Group commit. A single-row INSERT in autocommit mode costs SQLite a
// whole transaction: the WAL frame write, the commit record and the file
// locks are most of its time (in-process: ~30 µs alone, ~4 µs per row
// when eight share a transaction). So write statements that arrive while
// the database's writer is held queue up (writer.go), and whichever of
// them is granted the writer next leads a group: it runs itself and the
// group statements queued behind it in one transaction, each statement
// inside its own savepoint:
//
//   - a statement that fails is rolled back to its savepoint and reports
//     its own error; the others commit;
//   - nobody is answered before the COMMIT: what a client is told is
//     committed is committed, as durably as a lone statement would be;
//   - if the transaction itself is lost — a statement whose failure rolls
//     back everything (INSERT OR ROLLBACK, RAISE(ROLLBACK), an interrupt,
//     SQLITE_FULL), a trapped instance, a failed COMMIT — every statement
//     not yet answered runs again on its own, as it would have without
//     group commit, and gets its own answer.
//
// Only statements that SQLite prepared as plain DML without result rows
// are queued (stmt.groupable): no transaction control, no savepoint, no
// PRAGMA, no DDL, no RETURNING. Their text is remembered the first time
// they run on the writer (hints), so a first run takes the usual path.
// Clients see no difference but throughput; ordering between concurrent
// requests was never promised.
//
// A unit of work can join a group too (WriteShared, for the records of
// idempotent requests): its whole callback is one member, in one
// savepoint, under the same rules — a callback that fails rolls back to
// its savepoint and reports its own error; a lost transaction runs it
// again on its own, in a transaction of its own, as Write would. A unit
// is never told it committed before the group's COMMIT, so a unit that
// met its deadline after its savepoint was released is a success, and a
// 504 still means nothing was written.
//
// ("Batch" is the API's word for a client's list of statements; the
// public metric names forge_engine_write_batches_total and
// forge_engine_batched_writes_total, and Config.MaxWriteBatch, predate
// the distinction and count groups.)

// The savepoint around each statement of a group.
const (
	savepointSQL  = "SAVEPOINT forge_group"
	releaseSQL    = "RELEASE forge_group"
	rollbackToSQL = "ROLLBACK TO forge_group"
)

// control runs a transaction-control statement of the engine's own from
// the connection's statement cache: parsing it anew each time
// (c.db.Exec) would cost as much as the insert it wraps.
func (c *conn) control(sql string) error {
	st, err := c.prepare(sql)
	if err != nil {
		return err
	}
	return st.s.Exec()
}

// groupStmt is one member of group commit: a write statement, or a unit
// of work (unit set).
type groupStmt struct {
	ctx context.Context // the request's deadline
	q   forge.Statement
	w   forge.RowWriter // used only when the statement runs alone
	// unit: a write unit of work (WriteShared) instead of q; parent is
	// its caller's context (tx.parent), t its attempt in the group.
	unit   func(forge.Tx) error
	parent context.Context
	t      *tx
	res    forge.Result
	err    error
	// redo: the group's transaction was lost before this statement's
	// answer was final; it must run again on its own.
	redo bool
	// audited, auditEnd: its records in the writer's pending audit
	// records (audit.go); auditEnd -1 until it ran.
	audited, auditEnd int
}

// groupWrite runs q on db's writer through group commit and returns its
// result once committed (or failed). The caller holds db (acquire).
func (e *Engine) groupWrite(ctx context.Context, db *database, q forge.Statement, w forge.RowWriter) (forge.Result, error) {
	g := &groupStmt{ctx: ctx, q: q, w: w}
	var l lease
	granted, err := db.wq.acquire(ctx, g, &l)
	if err != nil {
		return forge.Result{}, err // left the queue: nothing ran
	}
	if granted {
		e.lead(db, &l, g)
	}
	return g.res, g.err
}

// lead runs self and the group statements queued behind it, up to
// MaxWriteBatch, on the writer its lease holds, answers them and releases
// the lease (to the next waiter).
func (e *Engine) lead(db *database, l *lease, self *groupStmt) {
	group := []*groupStmt{self}
	var followers []*waiter
	defer func() {
		// Whatever happens here, the queue must not wedge: answer the
		// group with a fault, give the writer's role on and wake them.
		if p := recover(); p != nil {
			e.log.Error("group commit panicked", zap.String("db", db.name), zap.Any("panic", p))
			for _, g := range group {
				g.res, g.err = forge.Result{}, fmt.Errorf("%w: %v", forge.ErrEngineFault, p)
			}
			if l.q != nil { // not released yet
				if l.conn != nil {
					l.conn.close()
				}
				l.release(nil)
			}
		}
		for _, w := range followers {
			answered(w)
		}
	}()
	if err := db.readyWriter(l); err != nil {
		self.err = translate(self.ctx, err)
		l.release(nil)
		return
	}
	// Let requests that are on their way join: under load, other
	// goroutines are decoding writes to this database right now. With
	// nothing else runnable this returns at once.
	runtime.Gosched()
	followers = db.wq.takeGroup(e.cfg.MaxWriteBatch - 1)
	for _, w := range followers {
		group = append(group, w.g)
	}
	e.runGroup(db, l, group)
}

// runGroup answers every statement of group on the writer l holds, and
// releases l.
func (e *Engine) runGroup(db *database, l *lease, group []*groupStmt) {
	if len(group) == 1 && group[0].unit != nil {
		g := group[0]
		g.err = e.unitAlone(db, l, g.ctx, g.parent, g.unit)
		db.endLease(l)
		return
	}
	if len(group) == 1 {
		g := group[0]
		c := l.conn
		err := c.do(g.ctx, func() error {
			var err error
			g.res, err = e.runStatement(c, g.q, g.w)
			return err
		})
		db.endLease(l)
		g.err = translate(g.ctx, err)
		return
	}
	e.groups.Add(1)
	e.grouped.Add(int64(len(group)))
	c := l.conn
	err := c.do(context.Background(), func() error {
		err := e.inGroupTransaction(c, group)
		if err != nil {
			c.auditDrop(0) // every member runs again, and is recorded then
		}
		return err
	})
	if err != nil { // nothing committed
		for _, g := range group {
			g.redo = true
		}
	}
	for _, g := range group {
		if g.redo {
			e.redone.Add(1)
			g.res, g.err = e.runAlone(db, l, g)
		} else {
			g.err = translate(g.ctx, g.err)
		}
	}
	db.endLease(l)
}

// inGroupTransaction runs group in one transaction on the writer c, a
// savepoint per statement. An error means the transaction is gone and
// nothing of it was committed; a statement is marked redo when its answer
// is not final.
func (e *Engine) inGroupTransaction(c *conn, group []*groupStmt) error {
	if err := c.control("BEGIN"); err != nil {
		return err
	}
	for i, r := range group {
		if r.ctx.Err() != nil {
			r.err = ctxErr(r.ctx) // never ran: nothing to undo
			continue
		}
		r.audited = len(c.pending) // its records are c.pending[r.audited:r.auditEnd]
		r.auditEnd = -1
		if err := c.control(savepointSQL); err != nil {
			return err
		}
		c.denied = ""
		c.db.SetInterrupt(r.ctx)
		if r.unit != nil {
			r.err = e.unitInGroup(c, r)
		} else {
			r.res, r.err = e.runStatement(c, r.q, nil)
		}
		if r.err != nil && c.denied != "" {
			r.err = &forge.NotAuthorizedError{Reason: c.denied}
		}
		c.db.SetInterrupt(context.Background())
		r.auditEnd = len(c.pending)
		if c.db.GetAutocommit() {
			// The statement's failure rolled the whole transaction back:
			// its own answer stands, the others run again.
			for _, o := range group[:i] {
				o.redo = o.err == nil // rolled back; a failure stands
			}
			for _, o := range group[i+1:] {
				o.redo = true
			}
			if r.err == nil { // cannot happen; be safe
				r.redo = true
			}
			e.auditLostGroup(c, group[:i+1])
			return nil
		}
		if errors.Is(r.err, errNotGroupable) {
			// Not plain DML after all (a RETURNING, say, sent here by its
			// first word): it did not run; it runs alone after the group.
			r.redo = true
		}
		if r.unit != nil && r.err != nil && r.t.full {
			// A unit that met a full volume runs again alone, where Write's
			// retry after making room applies.
			r.redo = true
		}
		if r.err != nil {
			if err := c.control(rollbackToSQL); err != nil {
				return err
			}
			if r.redo {
				c.auditDrop(r.audited) // it runs again alone
			} else {
				c.auditRolledBack(r.audited)
			}
		}
		if err := c.control(releaseSQL); err != nil {
			return err
		}
	}
	if err := e.insertAtCommit(c, group); err != nil {
		return err
	}
	if err := c.auditCommit(); err != nil {
		return err
	}
	if err := c.control("COMMIT"); err != nil {
		return err
	}
	c.auditDone()
	return nil
}

// auditLostGroup hands on the records of the members of a lost group
// transaction whose answers stand (their failure), and drops those of the
// members that run again alone (recorded then).
func (e *Engine) auditLostGroup(c *conn, ran []*groupStmt) {
	if len(c.pending) == 0 {
		return
	}
	var keep []forge.AuditRecord
	for _, r := range ran {
		if r.redo || r.auditEnd < 0 {
			continue
		}
		keep = append(keep, c.pending[r.audited:r.auditEnd]...)
	}
	c.auditDrop(0)
	if len(keep) > 0 {
		c.pending = append(c.pending, keep...)
		c.auditDiscard()
	}
}

// unitInGroup runs the unit r in the group's transaction on c, inside
// the savepoint its caller opened: r's callback on a Tx of its own.
func (e *Engine) unitInGroup(c *conn, r *groupStmt) error {
	t := &tx{e: e, c: c, ctx: r.ctx, parent: r.parent, write: true, shared: true}
	r.t = t
	defer func() { t.c = nil }()
	if err := r.unit(t); err != nil {
		return err
	}
	return t.lost
}

// errNotGroupable: a queued statement that did not prepare as groupable.
var errNotGroupable = errors.New("statement cannot run in a group commit")

// runStatement prepares and runs q on c, streaming any rows to w. Inside
// a group's transaction only groupable statements run; alone, any.
func (e *Engine) runStatement(c *conn, q forge.Statement, w forge.RowWriter) (forge.Result, error) {
	st, err := c.prepare(q.SQL)
	if err != nil || st == nil {
		return forge.Result{}, err
	}
	if !st.groupable && !st.readOnly {
		// Sent to the queue by its first word but not plain DML
		// (RETURNING, say): remembered as a write, its next run goes
		// straight to the writer. A groupable text needs no hint: it
		// came here by one, or by its first word, and will again.
		e.writes.add(q.SQL)
	}
	if !st.groupable && !c.db.GetAutocommit() {
		return forge.Result{}, errNotGroupable
	}
	return e.runMakingRoom(c, st, q, w)
}

// runAlone runs g's statement as the engine runs any write, in its own
// implicit transaction (a unit: as Write runs it, in a transaction of its
// own), on the writer l still holds (reopened if the group's transaction
// broke its instance).
func (e *Engine) runAlone(db *database, l *lease, g *groupStmt) (forge.Result, error) {
	if g.unit != nil {
		return forge.Result{}, e.unitAlone(db, l, g.ctx, g.parent, g.unit)
	}
	if err := db.renewWriter(l); err != nil {
		return forge.Result{}, translate(g.ctx, err)
	}
	c := l.conn
	var res forge.Result
	err := c.do(g.ctx, func() error {
		var err error
		res, err = e.runStatement(c, g.q, g.w)
		return err
	})
	return res, translate(g.ctx, err)
}

// looksLikeDML tells, from its first keyword (after spaces and comments),
// a statement that is probably a plain INSERT, UPDATE, DELETE or REPLACE,
// so that a text never seen before can go to the write queue at once. It
// only routes: what runs in a group is what SQLite prepares as groupable
// (RETURNING, say, runs alone), and a text it misses takes the usual path.
func looksLikeDML(sql string) bool {
	switch w := forge.LeadingWord(sql); {
	case strings.EqualFold(w, "INSERT"), strings.EqualFold(w, "UPDATE"), strings.EqualFold(w, "DELETE"),
		strings.EqualFold(w, "REPLACE"):
		return true
	}
	return false
}
