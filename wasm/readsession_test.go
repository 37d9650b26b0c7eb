package wasm

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// sessionInt runs a one-value query in session s.
func sessionInt(t *testing.T, s *Session, sql string) int64 {
	t.Helper()
	var n int64
	err := s.Do(context.Background(), func(tx forge.Tx) error {
		w := &intWriter{}
		_, err := tx.Run(context.Background(), forge.Statement{SQL: sql}, w)
		n = w.v
		return err
	})
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// intWriter keeps the first column of the last row, an integer.
type intWriter struct{ v int64 }

func (w *intWriter) Columns([]string) error { return nil }
func (w *intWriter) Row(r forge.Row) error  { w.v = r.Int(0); return nil }

// TestReadSession: a read session sees the snapshot of its opening while
// writers go on (it does not hold the writer), refuses writes with
// ErrReadOnlyTx and goes on, and expires as a write session does.
func TestReadSession(t *testing.T) {
	t.Parallel()
	e, db := sessionDB(t)
	n := newEnds()
	s, err := e.BeginRead(context.Background(), db, time.Minute, n.note)
	if err != nil {
		t.Fatal(err)
	}
	// Writers are not held: a write (and a Write unit) commit at once.
	exec(t, e, db, "INSERT INTO t VALUES (6)")
	if err := e.Write(context.Background(), db, func(tx forge.Tx) error {
		_, err := tx.Run(context.Background(), forge.Statement{SQL: "INSERT INTO t VALUES (7)"}, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := queryInt(t, e, db, "SELECT count(*) FROM t"); got != 3 {
		t.Fatalf("committed rows %d, want 3", got)
	}
	// The session still sees its snapshot: the one row of its opening.
	if got := sessionInt(t, s, "SELECT count(*) FROM t"); got != 1 {
		t.Errorf("the session sees %d rows, want its snapshot's 1", got)
	}
	if err := sessionRun(s, "INSERT INTO t VALUES (?)", 8); !errors.Is(err, forge.ErrReadOnlyTx) {
		t.Errorf("a write in a read session: %v, want ErrReadOnlyTx", err)
	}
	if got := sessionInt(t, s, "SELECT count(*) FROM t"); got != 1 {
		t.Errorf("after the refused write the session sees %d rows, want 1", got)
	}
	if err := s.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if why := waitFor(t, n.ch, 10*time.Second, "the end"); !errors.Is(why, forge.ErrTxCommitted) {
		t.Errorf("ended with %v", why)
	}
	if got := queryInt(t, e, db, "SELECT count(*) FROM t WHERE v = 8"); got != 0 {
		t.Error("the refused write is there")
	}

	// Expiry: the lease runs out, the reader goes back, later calls say so.
	n2 := newEnds()
	s2, err := e.BeginRead(context.Background(), db, 50*time.Millisecond, n2.note)
	if err != nil {
		t.Fatal(err)
	}
	if why := waitFor(t, n2.ch, 10*time.Second, "the expiry"); !errors.Is(why, forge.ErrTxExpired) {
		t.Fatalf("ended with %v, want ErrTxExpired", why)
	}
	if err := sessionRun(s2, "SELECT 1"); !errors.Is(err, forge.ErrTxExpired) {
		t.Errorf("use after expiry: %v", err)
	}
	// Every connection went back: reads and writes still run.
	exec(t, e, db, "INSERT INTO t VALUES (9)")
	if got := queryInt(t, e, db, "SELECT count(*) FROM t"); got != 4 {
		t.Errorf("%d rows, want 4", got)
	}
}

// TestReadSessionsMany: read sessions up to the readers (and the lent
// writer) hold a connection each, and release them all.
func TestReadSessionsMany(t *testing.T) {
	t.Parallel()
	e, db := sessionDB(t)
	var ss []*Session
	for range 3 { // two readers and the idle writer, lent
		s, err := e.BeginRead(context.Background(), db, time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		ss = append(ss, s)
	}
	exec(t, e, db, "INSERT INTO t VALUES (6)") // a writer of its own
	for _, s := range ss {
		if got := sessionInt(t, s, "SELECT count(*) FROM t"); got != 1 {
			t.Errorf("a session sees %d rows, want 1", got)
		}
		if err := s.Rollback(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := queryInt(t, e, db, "SELECT count(*) FROM t"); got != 2 {
		t.Errorf("%d rows, want 2", got)
	}
}
