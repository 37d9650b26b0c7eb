package wasm

import (
	"context"
	"errors"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// Read sessions: a read-only transaction held across requests (an
// interactive transaction opened with "read_only"). It is a Session
// (session.go) whose connection is a reader taken from the database's
// pool — or the idle writer, lent as for any read: a write that comes
// opens a new writer at once, and the lent connection stays a reader —
// so it never holds the writer's role: writers go on, and its statements
// keep seeing the snapshot its BEGIN took. Its lease, its calls, its end
// and its bookkeeping are a write session's. Its statements may only
// read: one SQLite does not report read-only fails with
// forge.ErrReadOnlyTx before it runs, and the session goes on.
//
// A snapshot held long keeps the WAL from being checkpointed past it (the
// WAL grows until it ends); the lease bounds it.

// snapshotSQL starts the read transaction of BEGIN (which starts nothing
// by itself, in WAL mode, until a statement reads): the snapshot is taken
// when the session opens, not at its first statement.
const snapshotSQL = "SELECT count(*) FROM sqlite_schema"

// BeginRead opens a read session on database name, with a lease of ttl
// renewed by every Do; onEnd is as for Begin. It waits within ctx only
// for a connection (all the readers and the writer busy).
func (e *Engine) BeginRead(ctx context.Context, name string, ttl time.Duration, onEnd func(error)) (*Session, error) {
	if ttl <= 0 {
		return nil, errors.New("session: the lease's time to live must be positive")
	}
	ctx = e.deadline(ctx)
	db, err := e.acquire(ctx, name)
	if err != nil {
		return nil, e.noteFault(name, "", translate(ctx, err))
	}
	c, err := db.readConn(ctx)
	if err != nil {
		e.release(db)
		return nil, e.noteFault(name, db.path, translate(ctx, err))
	}
	s := &Session{e: e, db: db, ttl: ttl, onEnd: onEnd, sem: make(chan struct{}, 1), reader: c}
	err = c.hold(ctx, func() error {
		if err := c.control("BEGIN"); err != nil {
			return err
		}
		return c.control(snapshotSQL)
	})
	if err != nil || !e.addSession(s) {
		if !c.broken && !c.db.GetAutocommit() {
			_ = c.db.Exec("ROLLBACK")
		}
		db.put(c)
		e.release(db)
		if err == nil {
			return nil, forge.ErrClosed // closed meanwhile
		}
		return nil, e.noteFault(name, db.path, translate(ctx, err))
	}
	s.renew()
	s.sem <- struct{}{} // the timer's callback takes sem: it sees s.timer set
	s.timer = time.AfterFunc(ttl, s.expire)
	s.unlock()
	return s, nil
}
