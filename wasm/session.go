package wasm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// Sessions: a write transaction held across requests (an interactive
// transaction). A Session is a lease of the database's writer queue
// (writer.go) that outlives the call that took it: BEGIN IMMEDIATE at
// Begin, then any number of Do calls, each a callback handed a forge.Tx
// on the same open transaction, then Commit or Rollback. While it is
// open the session is the writer's only holder: group commit, lone
// writes, Write units and other sessions queue behind it, each bounded by
// its own deadline (504 QUERY_TIMEOUT when it passes, having run
// nothing); reads go on on the readers and see the last commit (WAL).
//
// The lease has a time to live, renewed by every Do (at its start and at
// its end: the lease measures the client's silence, not the statements'
// time). When it passes with no call in flight, a timer rolls the
// transaction back and gives the writer to the next waiter, whether or
// not a request ever comes again; a call that arrives after the deadline
// finds the session expired even if the timer has not run yet. A call in
// flight at the deadline keeps the session: the expiry waits for it (the
// call is bounded by its own request's deadline) and the call renews it.
// Statements are interrupted by their request's context, never by the
// lease's.
//
// A session ends exactly once — committed, rolled back, expired, lost (a
// statement or a fault ended the transaction), or rolled back when the
// engine closes — and never by an implicit commit; every later call
// fails with why it ended, and onEnd (Begin) hears it once.

// Session is an open write transaction on one database's writer.
type Session struct {
	e     *Engine
	db    *database
	ttl   time.Duration
	onEnd func(error)

	// sem (capacity 1) serialises the calls on the connection and the
	// expiry: whoever holds it owns l and end. A waiter for it leaves
	// when its context ends.
	sem chan struct{}
	l   lease
	// reader is a read session's connection (BeginRead, readsession.go);
	// nil for a write session, whose connection is l's.
	reader *conn
	end    error // why the session ended; nil while open
	timer  *time.Timer

	deadline atomic.Int64 // unix nanoseconds: when the lease runs out
	once     sync.Once    // onEnd and the engine's bookkeeping
}

// Begin opens a session on database name: it takes the writer's role,
// waiting in turn within ctx, and begins a transaction (BEGIN IMMEDIATE)
// whose lease lasts ttl from now and from the end of every Do. onEnd (may
// be nil) is called once when the session ends, with the reason: a
// forge.ErrTxCommitted or forge.ErrTxRolledBack error after Commit or
// Rollback, forge.ErrTxExpired at the lease's end, one wrapping
// forge.ErrTxAborted when a statement or a fault ended the transaction,
// forge.ErrClosed when the engine closed. It must not call the session.
func (e *Engine) Begin(ctx context.Context, name string, ttl time.Duration, onEnd func(error)) (*Session, error) {
	if ttl <= 0 {
		return nil, errors.New("session: the lease's time to live must be positive")
	}
	ctx = e.deadline(ctx)
	db, err := e.acquire(ctx, name)
	if err != nil {
		return nil, e.noteFault(name, "", translate(ctx, err))
	}
	s := &Session{e: e, db: db, ttl: ttl, onEnd: onEnd, sem: make(chan struct{}, 1)}
	if err := db.lease(ctx, &s.l); err != nil {
		e.release(db)
		return nil, e.noteFault(name, db.path, translate(ctx, err))
	}
	c := s.l.conn
	err = c.hold(ctx, func() error { return c.control("BEGIN IMMEDIATE") })
	if err != nil {
		if !c.db.GetAutocommit() {
			_ = c.db.Exec("ROLLBACK")
		}
		db.endLease(&s.l)
		e.release(db)
		return nil, e.noteFault(name, db.path, translate(ctx, err))
	}
	if !e.addSession(s) { // closed meanwhile
		_ = c.db.Exec("ROLLBACK")
		db.endLease(&s.l)
		e.release(db)
		return nil, forge.ErrClosed
	}
	s.renew()
	s.sem <- struct{}{} // the timer's callback takes sem: it sees s.timer set
	s.timer = time.AfterFunc(ttl, s.expire)
	s.unlock()
	return s, nil
}

// conn is the session's connection: the reader of a read session, else
// the writer its lease holds.
func (s *Session) conn() *conn {
	if s.reader != nil {
		return s.reader
	}
	return s.l.conn
}

// Expires is when the lease runs out unless a call renews it.
func (s *Session) Expires() time.Time { return time.Unix(0, s.deadline.Load()) }

func (s *Session) renew() { s.deadline.Store(time.Now().Add(s.ttl).UnixNano()) }

// lock takes sem within ctx.
func (s *Session) lock(ctx context.Context) error {
	select {
	case s.sem <- struct{}{}:
		return nil
	default:
	}
	expired, stop := waitTimer(ctx)
	defer stop()
	select {
	case s.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
	case <-expired:
	}
	return ctxErr(ctx)
}

func (s *Session) unlock() { <-s.sem }

// usable tells, under sem, whether the session may take a call: not
// ended, and its lease not run out (which ends it now).
func (s *Session) usable() error {
	if s.end != nil {
		return s.end
	}
	if time.Now().UnixNano() >= s.deadline.Load() {
		s.finish(forge.ErrTxExpired)
		return s.end
	}
	return nil
}

// Do runs fn on the session's transaction and renews the lease. The Tx
// is valid only until fn returns; its statements stop at ctx (bounded as
// any request's, QueryTimeout or the caller's deadline up to
// MaxQueryTimeout). Transaction control in fn's SQL is refused
// (forge.ErrTxControl); savepoints nest. A failed statement is undone
// alone and the transaction stays open, unless the failure ended it: then
// the session ends, rolled back, and Do's error (and every later call's)
// wraps forge.ErrTxAborted.
func (s *Session) Do(ctx context.Context, fn func(forge.Tx) error) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	if err := s.usable(); err != nil {
		return err
	}
	s.renew()
	defer s.renew()
	parent := ctx
	ctx = s.e.deadline(ctx)
	c := s.conn()
	t := &tx{e: s.e, ctx: ctx, parent: parent, write: s.reader == nil, session: true}
	err := c.hold(ctx, func() error {
		t.c = c
		defer func() { t.c = nil }()
		return fn(t)
	})
	if c.broken || c.db.GetAutocommit() {
		// A fault, or a statement whose failure ended the transaction:
		// SQLite rolled it back (or the instance is gone with it).
		cause := t.lost
		if cause == nil {
			cause = fmt.Errorf("%w: %w", forge.ErrTxAborted, translate(ctx, err))
		}
		s.finish(cause)
		if errors.Is(err, forge.ErrTxAborted) {
			// fn's own error says it (a batch's, with its statement).
			return s.e.noteFault(s.db.name, s.db.path, err)
		}
		return s.e.noteFault(s.db.name, s.db.path, s.end)
	}
	return s.e.noteFault(s.db.name, s.db.path, translate(ctx, err))
}

// Commit commits the session's transaction and ends it. A COMMIT that
// fails rolls the transaction back: the error wraps forge.ErrTxAborted
// and nothing was written.
func (s *Session) Commit(ctx context.Context) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	if err := s.usable(); err != nil {
		return err
	}
	ctx = s.e.deadline(ctx)
	c := s.conn()
	err := c.hold(ctx, func() error {
		if err := c.auditCommit(); err != nil {
			return err
		}
		return c.commit("COMMIT")
	})
	if err == nil {
		c.auditDone()
	}
	if err != nil {
		s.finish(fmt.Errorf("%w: %w", forge.ErrTxAborted, translate(ctx, err)))
		return s.e.noteFault(s.db.name, s.db.path, s.end)
	}
	s.finish(forge.ErrTxCommitted)
	return nil
}

// Rollback rolls the session's transaction back and ends it.
func (s *Session) Rollback(ctx context.Context) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	if err := s.usable(); err != nil {
		return err
	}
	s.finish(forge.ErrTxRolledBack)
	return nil
}

// expire is the lease's timer: it ends a session whose lease ran out, or
// sets itself again for the renewed deadline. It waits for a call in
// flight (which renews the lease when it ends).
func (s *Session) expire() {
	s.sem <- struct{}{}
	defer s.unlock()
	if s.end != nil {
		return
	}
	if left := time.Until(s.Expires()); left > 0 {
		s.timer.Reset(left)
		return
	}
	s.finish(forge.ErrTxExpired)
}

// abort ends an open session when the engine closes: it waits for a call
// in flight, within ctx.
func (s *Session) abort(ctx context.Context) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	if s.end == nil {
		s.finish(fmt.Errorf("rolled back at shutdown: %w", forge.ErrClosed))
	}
	return nil
}

// finish ends the session, under sem: it rolls back a transaction still
// open, gives the writer's role on, lets go of the database and reports
// why it ended.
func (s *Session) finish(why error) {
	s.end = why
	if s.timer != nil {
		s.timer.Stop()
	}
	c := s.conn()
	if c != nil && !c.broken && !c.db.GetAutocommit() {
		err := c.hold(context.Background(), func() error { return c.db.Exec("ROLLBACK") })
		if err != nil {
			// A transaction that would not roll back must not reach the
			// next holder: close the instance (SQLite's journal undoes it).
			c.broken = true
		}
	}
	if c != nil {
		c.auditDiscard() // a transaction that did not commit
	}
	if s.reader != nil {
		if c != nil {
			s.db.put(c) // a broken one is closed there
			s.reader = nil
		}
	} else {
		s.db.endLease(&s.l)
	}
	s.once.Do(func() {
		s.e.dropSession(s)
		s.e.release(s.db)
		if s.onEnd != nil {
			s.onEnd(why)
		}
	})
}

// hold runs fn with ctx as the connection's interrupt, like do, but
// leaves a transaction open: a session's transaction spans calls. It
// contains a fault of the instance as do does (c.broken).
func (c *conn) hold(ctx context.Context, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.broken = true
			if isOutOfMemory(r) {
				err = fmt.Errorf("%w: %v", forge.ErrOutOfMemory, r)
			} else {
				err = fmt.Errorf("%w: %v", forge.ErrEngineFault, r)
			}
		}
	}()
	c.denied = ""
	c.db.SetInterrupt(ctx)
	defer c.db.SetInterrupt(context.Background())
	err = fn()
	if err != nil && c.denied != "" {
		err = &forge.NotAuthorizedError{Reason: c.denied}
	}
	return err
}

// addSession records an open session, so that Close can roll it back;
// false when the engine is closed.
func (e *Engine) addSession(s *Session) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	if e.sessions == nil {
		e.sessions = make(map[*Session]struct{})
	}
	e.sessions[s] = struct{}{}
	return true
}

func (e *Engine) dropSession(s *Session) {
	e.mu.Lock()
	delete(e.sessions, s)
	e.mu.Unlock()
}

// abortSessions rolls back every open session (Close): never an implicit
// commit.
func (e *Engine) abortSessions(ctx context.Context) error {
	e.mu.Lock()
	open := make([]*Session, 0, len(e.sessions))
	for s := range e.sessions {
		open = append(open, s)
	}
	e.mu.Unlock()
	var errs []error
	for _, s := range open {
		if err := s.abort(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
