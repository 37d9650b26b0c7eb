package wasm

import (
	"context"
	"fmt"
	"slices"

	"go.uber.org/zap"

	"github.com/praetorian/db-forge/forge"
)

// Units of work (forge.Tx): Read hands its callback a snapshot on a
// reader, Write one transaction on the writer. Everything a unit's
// statements need (the deadline, the statement cache, the sandbox, fault
// containment, error translation, the commit's truth) is the engine's; what
// the statements are is the caller's.

// Read runs fn on a connection of database name that may only read: an
// idle reader, or the writer while no write holds it (lent, as for Query).
// fn's statements see one snapshot of the database (BEGIN … COMMIT), and a
// statement SQLite does not call read-only fails with forge.ErrReadOnly
// before it runs. The Tx is valid only until fn returns.
func (e *Engine) Read(ctx context.Context, name string, fn func(forge.Tx) error) error {
	t := &tx{e: e, parent: ctx}
	return e.readUnit(e.deadline(ctx), name, t, fn)
}

// readUnit runs fn on t in one read transaction of database name, bounded
// by ctx (Read's and Scan's deadlines differ; nothing else does).
func (e *Engine) readUnit(ctx context.Context, name string, t *tx, fn func(forge.Tx) error) error {
	t.ctx = ctx
	db, err := e.acquire(ctx, name)
	if err != nil {
		return e.noteFault(name, "", translate(ctx, err))
	}
	defer e.release(db)
	err = db.run(ctx, false, func(c *conn) error {
		t.c = c
		defer func() { t.c = nil }()
		if err := c.control("BEGIN"); err != nil {
			return err
		}
		if err := fn(t); err != nil {
			return err
		}
		if t.lost != nil {
			return t.lost
		}
		return c.control("COMMIT")
	})
	return e.noteFault(name, db.path, translate(ctx, err))
}

// Write runs fn in one transaction on database name's writer, leased from
// its writer queue (writer.go) for the unit's span: BEGIN IMMEDIATE, fn,
// then COMMIT if fn returned nil, else ROLLBACK. The Tx is valid only
// until fn returns.
//
// A COMMIT interrupted by the deadline after it had committed is the
// success it is (conn.commit): a Write that reports an error wrote
// nothing. A fault of the instance (a trap, SQLite out of memory), a panic
// of fn included, rolls back, discards the instance and answers
// forge.ErrEngineFault or forge.ErrOutOfMemory.
//
// A unit whose statements only deleted rows or dropped objects and that
// failed because the volume is full runs once more if Config.OnDiskFull
// made room, as Query does for such a statement: fn is then called a
// second time, after the first call's work was rolled back. (Never when
// rows went to a RowWriter.)
func (e *Engine) Write(ctx context.Context, name string, fn func(forge.Tx) error) error {
	parent := ctx
	ctx = e.deadline(ctx)
	db, err := e.acquire(ctx, name)
	if err != nil {
		return e.noteFault(name, "", translate(ctx, err))
	}
	defer e.release(db)
	var l lease
	if err := db.lease(ctx, &l); err != nil {
		return e.noteFault(name, db.path, translate(ctx, err))
	}
	defer db.endLease(&l)
	return e.noteFault(name, db.path, e.unitAlone(db, &l, ctx, parent, fn))
}

// WriteShared runs fn as Write does, except that its transaction may be
// shared with other writes of the database through group commit
// (groupcommit.go): fn runs inside a savepoint of a group's transaction,
// a failure of fn rolls back to that savepoint only, and WriteShared
// returns once the group has committed. So many small units arriving at
// once share one commit instead of paying one each.
//
// What fn sees is Write's, with two differences: fn may be called again
// after an earlier call's work was rolled back (the group's transaction
// was lost to another member's failure, see groupcommit.go), rows that
// went to a RowWriter included, so fn must start its outputs afresh on
// each call; and the unit cannot list its changes (forge.ChangeTracker
// does nothing: listing them rolls back the transaction, which is the
// group's). What WriteShared reports is as true as Write's: an error
// means nothing of fn's was committed, nil that all of it was.
func (e *Engine) WriteShared(ctx context.Context, name string, fn func(forge.Tx) error) error {
	if e.cfg.MaxWriteBatch <= 1 {
		return e.Write(ctx, name, fn)
	}
	parent := ctx
	ctx = e.deadline(ctx)
	db, err := e.acquire(ctx, name)
	if err != nil {
		return e.noteFault(name, "", translate(ctx, err))
	}
	defer e.release(db)
	g := &groupStmt{ctx: ctx, parent: parent, unit: fn}
	var l lease
	granted, err := db.wq.acquire(ctx, g, &l)
	if err != nil {
		return e.noteFault(name, db.path, translate(ctx, err)) // left the queue: nothing ran
	}
	if granted {
		e.lead(db, &l, g)
	}
	return e.noteFault(name, db.path, g.err)
}

// unitAlone runs fn as a write unit in a transaction of its own on the
// writer l holds; once more if it only deleted and met a full volume, and
// Config.OnDiskFull made room.
func (e *Engine) unitAlone(db *database, l *lease, ctx, parent context.Context, fn func(forge.Tx) error) error {
	t := &tx{e: e, ctx: ctx, parent: parent, write: true}
	err := e.writeUnit(db, l, t, fn)
	if err != nil && t.full && t.ran > 0 && !t.grows && !t.streamed && e.cfg.OnDiskFull != nil && e.cfg.OnDiskFull() {
		e.released.Add(1)
		e.log.Warn("volume full: released reserved space for a unit of work that deletes", zap.String("db", db.name))
		t = &tx{e: e, ctx: ctx, parent: parent, write: true}
		err = e.writeUnit(db, l, t, fn)
	}
	return err
}

// writeUnit runs one attempt of a write unit on the writer l holds.
func (e *Engine) writeUnit(db *database, l *lease, t *tx, fn func(forge.Tx) error) error {
	if err := db.renewWriter(l); err != nil { // a fault of an earlier attempt
		return translate(t.ctx, err)
	}
	c := l.conn
	err := c.do(t.ctx, func() error {
		t.c = c
		defer func() { t.untrack(); t.c = nil }()
		if err := c.control("BEGIN IMMEDIATE"); err != nil {
			return err
		}
		if err := fn(t); err != nil {
			return err // do() rolls back
		}
		if t.lost != nil {
			return t.lost
		}
		if err := c.auditCommit(); err != nil {
			return err
		}
		if err := c.commit("COMMIT"); err != nil {
			t.full = t.full || isDiskFull(err) || volumeFullIOErr(c.dir, err)
			return err
		}
		c.auditDone()
		return nil
	})
	return translate(t.ctx, err)
}

// tx is the forge.Tx of one unit of work over one connection.
type tx struct {
	e      *Engine
	c      *conn           // nil outside the unit's callback
	ctx    context.Context // the unit's, bounded: the connection's interrupt
	parent context.Context // the caller's context the unit's was made from
	write  bool
	// shared: the unit runs in a savepoint of a group's transaction
	// (WriteShared), which it must not end.
	shared bool
	// session: the unit is a call of a Session (session.go), whose
	// transaction a lost statement ends for good (forge.ErrTxAborted).
	session bool
	lost    error // a statement's failure ended the transaction
	// last is the statement the previous Run ran successfully, still at
	// the front of the connection's cache (no prepare since).
	last *stmt
	// track records the rows the unit changes (changes.go); nil: none.
	track *tracker
	// atCommit: the rows a shared unit asked to insert at its group's
	// commit (atcommit.go).
	atCommit []atCommitRow

	// For the full-volume retry of a write unit (Write).
	ran      int  // statements run
	grows    bool // one of them may add data (not only delete or drop)
	streamed bool // one of them returned rows to a RowWriter
	full     bool // a statement or the COMMIT met a full volume
}

var _ forge.Tx = (*tx)(nil)

// Run runs one statement of the unit (forge.Tx).
func (t *tx) Run(ctx context.Context, q forge.Statement, w forge.RowWriter) (forge.Result, error) {
	c := t.c
	if c == nil {
		return forge.Result{}, forge.ErrTxDone
	}
	if t.lost != nil {
		return forge.Result{}, t.lost
	}
	sctx := t.stmtContext(ctx)
	if sctx != t.ctx {
		c.db.SetInterrupt(sctx)
		defer c.db.SetInterrupt(t.ctx)
	}
	c.denied = ""
	st := t.last
	key := q.SQL
	if q.Bookkeeping {
		key = bookkeepingKey(q.SQL)
		c.bookkeeping = true // also while it runs: SQLite may prepare it again
		defer func() { c.bookkeeping = false }()
	}
	if st == nil || st.sql != key {
		// The same text as the statement before (the rows of an
		// insert) is the statement before: checked and prepared, and
		// kept at the front of the cache since.
		t.last = nil
		if err := checkSQLText(q.SQL, t.e.cfg.Limits.ExprDepth); err != nil {
			return forge.Result{}, err
		}
		var err error
		if st, err = c.prepareKey(q.SQL, key); err != nil {
			return forge.Result{}, t.fail(sctx, err)
		}
		if st == nil {
			return forge.Result{}, nil // only spaces and comments
		}
		if st.txControl {
			return forge.Result{}, forge.ErrTxControl
		}
		if !st.readOnly && !t.write {
			if t.session {
				return forge.Result{}, forge.ErrReadOnlyTx // a read session's
			}
			return forge.Result{}, forge.ErrReadOnly
		}
	}
	t.ran++
	t.grows = t.grows || !st.readOnly && !st.shrinks
	t.streamed = t.streamed || w != nil && len(st.names) > 0
	var seen int64
	if t.track != nil {
		seen = t.track.events
	}
	res, err := c.run(st, q.Params, w, q.Meta || t.track != nil)
	if err == nil {
		t.last = st
		if t.track != nil && res.Meta.RowsWritten > t.track.events-seen {
			t.track.incomplete = true // rows the update hook did not name
		}
		return res, nil
	}
	t.last = nil
	if len(st.names) > 0 && !st.readOnly && !c.db.GetAutocommit() {
		// A write that returns rows runs in a savepoint until its last
		// row is out (conn.run); it failed before: undo it, so that the
		// unit goes on without it, as after any failed statement.
		if c.control("ROLLBACK TO "+returningSavepoint) == nil {
			_ = c.control("RELEASE " + returningSavepoint)
		}
	}
	return res, t.fail(sctx, err)
}

// Describe prepares sql and tells what it is, without running it
// (forge.Tx).
func (t *tx) Describe(ctx context.Context, sql string) (forge.StatementInfo, error) {
	c := t.c
	if c == nil {
		return forge.StatementInfo{}, forge.ErrTxDone
	}
	sctx := t.stmtContext(ctx)
	if sctx.Err() != nil {
		return forge.StatementInfo{}, ctxErr(sctx)
	}
	if err := checkSQLText(sql, t.e.cfg.Limits.ExprDepth); err != nil {
		return forge.StatementInfo{}, err
	}
	c.denied = ""
	t.last = nil // preparing may evict it from the cache
	st, err := c.prepare(sql)
	if err != nil {
		return forge.StatementInfo{}, t.fail(sctx, err)
	}
	if st == nil {
		return forge.StatementInfo{Empty: true}, nil
	}
	return forge.StatementInfo{
		ReadOnly: st.readOnly,
		Columns:  slices.Clone(st.names),
		Params:   slices.Clone(st.params),
	}, nil
}

// stmtContext is the context a statement runs under: the unit's, and
// also ctx's if that is another than the one the unit was given.
func (t *tx) stmtContext(ctx context.Context) context.Context {
	if ctx == nil || ctx == t.parent || ctx == t.ctx {
		return t.ctx
	}
	return &both{Context: t.ctx, stmt: ctx}
}

// fail turns a statement's failure into the forge vocabulary, and notes
// what the unit needs to know of it: a refusal of the sandbox, a full
// volume, a transaction the failure ended.
func (t *tx) fail(ctx context.Context, err error) error {
	c := t.c
	if isDiskFull(err) || volumeFullIOErr(c.dir, err) {
		t.full = true
	}
	if c.denied != "" {
		err = &forge.NotAuthorizedError{Reason: c.denied}
		c.denied = "" // answered: do() must not put it on the unit's own error
	} else {
		err = translate(ctx, err)
	}
	if c.db.GetAutocommit() {
		lost := forge.ErrTxLost
		if t.session {
			lost = forge.ErrTxAborted
		}
		t.lost = fmt.Errorf("%w: %w", lost, err)
		return t.lost
	}
	return err
}
