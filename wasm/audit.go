package wasm

import (
	"strings"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// The audit log (Config.Audit). Every statement a client's request runs
// passes through conn.run, whichever route, unit of work or group it came
// by; there the engine notes what it was (forge.AuditRecord, with the
// forge.Caller of the statement's context) and, for a write, keeps the
// record on the connection until its transaction ends:
//
//   - a transaction that commits carries its records: the Auditor's
//     statements run in it just before the COMMIT (a unit's, a group's,
//     a session's, and a lone write's, which the engine wraps in BEGIN
//     IMMEDIATE … COMMIT for that). A write that committed cannot lose
//     its record, nor a record outlive its write: they are one commit. A
//     failed statement whose transaction still commits is recorded there
//     too, as is a unit rolled back to its savepoint in a group that
//     commits (outcome rolled_back);
//   - a transaction that rolls back takes nothing with it: its records
//     (outcome rolled_back, or error for the statement that failed) go
//     to Auditor.Unwritten, best effort, as every read's record does;
//   - a group whose transaction is lost drops the records of the members
//     that run again alone (they are recorded then), and hands on those
//     whose failure stands.
//
// With Auditor.AfterCommit (FORGE_AUDIT=async) a committed transaction
// carries no records: they go to Auditor.Unwritten just after its COMMIT
// (a lone write then runs in autocommit mode, unwrapped), and a crash
// between the two loses them. Everything else is the same.
//
// The engine's own statements (forge.Statement.Bookkeeping, transaction
// control) are not recorded.

// Auditor records the statements of clients (package audit's Recorder).
type Auditor interface {
	// Audits tells whether database db's statements are recorded (the
	// gateway's own databases are not). Asked when a database opens.
	Audits(db string) bool
	// Reads tells whether read statements are recorded too.
	Reads() bool
	// AtCommit returns the bookkeeping statements that store recs in
	// database db's transaction, which is about to commit: table makes
	// the table they write if it is not there (the engine runs it once
	// per connection, and again if a statement of stmts finds no table),
	// stmts store them. recs is the engine's until AtCommit returns.
	AtCommit(db string, recs []forge.AuditRecord) (table forge.Statement, stmts []forge.Statement)
	// Unwritten takes records that no committing transaction carries:
	// reads, and the statements of a transaction that rolled back (and,
	// with AfterCommit, those of a transaction that committed). It must
	// not block; recs is the engine's until it returns (it copies what it
	// keeps).
	Unwritten(db string, recs []forge.AuditRecord)
	// AfterCommit tells whether the records of database db's committed
	// transactions go to Unwritten after their commit instead of into
	// them (AtCommit is then never asked). Asked when a database opens.
	AfterCommit(db string) bool
}

// dbAudit is a database's recording, shared by its connections.
type dbAudit struct {
	name  string
	a     Auditor
	reads bool
	after bool // Auditor.AfterCommit
}

// audit is db's recording, or nil when it has none.
func (e *Engine) audit(name string) *dbAudit {
	a := e.cfg.Audit
	if a == nil || !a.Audits(name) {
		return nil
	}
	return &dbAudit{name: name, a: a, reads: a.Reads(), after: a.AfterCommit(name)}
}

// recorded tells whether st's run on c is to be recorded (or, for a
// savepoint, followed).
func (c *conn) recorded(st *stmt) bool {
	return c.aud != nil && !c.bookkeeping && !st.txControl && (!st.readOnly || c.aud.reads || st.savepointOp != "")
}

// runRecorded is conn.run with its record: a write's kept until its
// transaction ends, a read's handed on at once.
func (c *conn) runRecorded(st *stmt, p forge.Params, w forge.RowWriter, meta bool) (forge.Result, error) {
	if st.savepointOp != "" {
		res, err := c.runStmt(st, p, w, meta)
		if err == nil {
			c.auditSavepoint(st)
		}
		return res, err
	}
	start := time.Now()
	res, err := c.runStmt(st, p, w, meta)
	ictx := c.db.GetInterrupt()
	if ictx != c.callerOf {
		// One look-up per unit of work or request, not per statement.
		c.callerOf, c.caller = ictx, forge.CallerFrom(ictx)
	}
	r := forge.AuditRecord{
		Time:    start,
		Caller:  c.caller,
		SQL:     st.sql,
		Params:  len(p.Positional) + len(p.Named),
		Read:    st.readOnly,
		Runs:    1,
		Outcome: forge.AuditOK,
	}
	if meta && err == nil {
		r.Duration = res.Meta.Duration // measured already
	} else {
		r.Duration = time.Since(start)
	}
	r.Rows = res.RowsAffected
	if err != nil {
		r.Outcome, r.Error = forge.AuditError, err.Error()
		if c.denied != "" {
			r.Error = c.denied
		}
	}
	if st.readOnly {
		c.aud.a.Unwritten(c.aud.name, []forge.AuditRecord{r})
		return res, err
	}
	if n := len(c.pending); n > 0 && err == nil {
		if l := &c.pending[n-1]; l.Outcome == forge.AuditOK && l.SQL == st.sql && l.Caller == r.Caller {
			l.Runs++
			l.Rows += r.Rows
			l.Params += r.Params
			l.Duration += r.Duration
			return res, nil
		}
	}
	c.pending = append(c.pending, r)
	return res, err
}

// auditCommit runs, in the transaction open on c, the statements that
// store its records; the caller commits next, then calls auditDone.
func (c *conn) auditCommit() error {
	c.auditRan = false
	if len(c.pending) == 0 || c.aud.after {
		return nil
	}
	table, stmts := c.aud.a.AtCommit(c.aud.name, c.pending)
	if !c.auditReady {
		if err := c.bookkeep(table); err != nil {
			return err
		}
	}
	for _, q := range stmts {
		err := c.bookkeep(q)
		if err != nil && c.auditReady && strings.Contains(err.Error(), "no such table") {
			// The table went since this connection made it (a branch's
			// copy drops the reserved tables): a statement that found no
			// table changed nothing, and the transaction goes on.
			c.auditReady = false
			if err = c.bookkeep(table); err == nil {
				err = c.bookkeep(q)
			}
		}
		if err != nil {
			return err
		}
	}
	c.auditRan = true
	return nil
}

// bookkeep runs one of the engine's own statements on c.
func (c *conn) bookkeep(q forge.Statement) error {
	c.bookkeeping = true
	defer func() { c.bookkeeping = false }()
	st, err := c.prepareKey(q.SQL, bookkeepingKey(q.SQL))
	if err != nil || st == nil {
		return err
	}
	_, err = c.run(st, q.Params, nil, false)
	return err
}

// auditDone forgets the records of the transaction that committed: their
// table is there now; or hands them on (Auditor.AfterCommit).
func (c *conn) auditDone() {
	c.callerOf, c.caller = nil, nil
	if c.auditRan {
		c.auditReady = true
		c.auditRan = false
	}
	if len(c.pending) > 0 && c.aud.after {
		c.aud.a.Unwritten(c.aud.name, c.pending)
	}
	clear(c.pending)
	c.pending = c.pending[:0]
	c.savepoints = c.savepoints[:0]
}

// auditDiscard hands on the records of a transaction that rolled back.
func (c *conn) auditDiscard() {
	c.auditDiscardFrom(0)
}

// auditDiscardFrom hands on the records from i on (rolled back), and
// keeps those before.
func (c *conn) auditDiscardFrom(i int) {
	c.auditDiscardAs(i, forge.AuditRolledBack)
}

// auditDiscardAs hands on the records from i on, a successful
// statement's outcome then being ok.
func (c *conn) auditDiscardAs(i int, ok string) {
	if i == 0 {
		c.callerOf, c.caller = nil, nil
		c.auditRan = false
		c.savepoints = c.savepoints[:0]
	}
	if i >= len(c.pending) {
		return
	}
	recs := make([]forge.AuditRecord, 0, len(c.pending)-i)
	for _, r := range c.pending[i:] {
		if r.Caller != nil && r.Caller.DryRun {
			continue // a dry run writes nothing, its record neither
		}
		if r.Outcome == forge.AuditOK {
			r.Outcome = ok
		}
		recs = append(recs, r)
	}
	c.auditDrop(i)
	if len(recs) > 0 {
		c.aud.a.Unwritten(c.aud.name, recs)
	}
}

// auditRolledBack marks the records from i on rolled back: a savepoint
// of theirs was, in a transaction that goes on.
func (c *conn) auditRolledBack(i int) {
	kept := i
	for j := i; j < len(c.pending); j++ {
		r := c.pending[j]
		if r.Caller != nil && r.Caller.DryRun {
			continue
		}
		if r.Outcome == forge.AuditOK {
			r.Outcome = forge.AuditRolledBack
		}
		c.pending[kept] = r
		kept++
	}
	c.auditDrop(kept)
}

// auditSavepoint follows a client's savepoints (SAVEPOINT, RELEASE,
// ROLLBACK TO), which st was and ran: the records of statements a
// ROLLBACK TO undid are marked rolled back (they stay in the transaction,
// which may still commit).
func (c *conn) auditSavepoint(st *stmt) {
	switch st.savepointOp {
	case "BEGIN":
		c.savepoints = append(c.savepoints, auditMark{name: st.savepointName, at: len(c.pending)})
	case "RELEASE", "ROLLBACK":
		for k := len(c.savepoints) - 1; k >= 0; k-- {
			if !strings.EqualFold(c.savepoints[k].name, st.savepointName) {
				continue
			}
			if st.savepointOp == "RELEASE" {
				c.savepoints = c.savepoints[:k]
			} else {
				c.auditRolledBack(c.savepoints[k].at)
				c.savepoints = c.savepoints[:k+1]
			}
			return
		}
	}
}

// auditMark is a client's savepoint: its name, and the records before it.
type auditMark struct {
	name string
	at   int
}

// auditDrop forgets the records from i on: their statements run again.
func (c *conn) auditDrop(i int) {
	if i >= len(c.pending) {
		return
	}
	clear(c.pending[i:])
	c.pending = c.pending[:i]
}

// runThenHandOn runs a lone write st on c in autocommit mode and hands its
// record on (Auditor.AfterCommit): ok if it committed, its error if it
// failed (SQLite rolled it back). The disk-full retry of runMakingRoom
// applies, and a failed first run is recorded as failed.
func (e *Engine) runThenHandOn(c *conn, st *stmt, q forge.Statement, w forge.RowWriter) (forge.Result, error) {
	res, err := e.runAutocommit(c, st, q, w)
	if c.db.GetAutocommit() {
		if err == nil {
			c.auditDone()
		} else {
			c.auditDiscard()
		}
	}
	return res, err
}

// runWrapped runs a lone write st on c, in autocommit mode, inside BEGIN
// IMMEDIATE … COMMIT so that its record commits with it. The disk-full
// retry of runMakingRoom applies.
func (e *Engine) runWrapped(c *conn, st *stmt, q forge.Statement, w forge.RowWriter) (forge.Result, error) {
	for attempt := 0; ; attempt++ {
		res, err := e.wrappedOnce(c, st, q, w)
		if err == nil {
			return res, nil
		}
		if attempt == 0 && st.shrinks && (isDiskFull(err) || volumeFullIOErr(c.dir, err)) &&
			e.cfg.OnDiskFull != nil && e.cfg.OnDiskFull() {
			e.released.Add(1)
			continue
		}
		return res, err
	}
}

func (e *Engine) wrappedOnce(c *conn, st *stmt, q forge.Statement, w forge.RowWriter) (forge.Result, error) {
	if err := c.control("BEGIN IMMEDIATE"); err != nil {
		return forge.Result{}, err
	}
	res, err := c.run(st, q.Params, w, q.Meta)
	if err == nil && c.db.GetAutocommit() { // cannot happen: it ended the transaction itself
		c.auditDiscardAs(0, forge.AuditOK)
		return res, nil
	}
	if err == nil {
		if err = c.auditCommit(); err == nil {
			err = c.commit("COMMIT")
		}
		if err == nil {
			c.auditDone()
			return res, nil
		}
	}
	if !c.db.GetAutocommit() {
		st.reset()
		_ = c.control("ROLLBACK")
	}
	c.auditDiscard()
	return res, err
}
