package wasm

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// Sessions (session.go): a write transaction held across calls under a
// lease. No timed assertion: expiries are waited for through onEnd, with
// a generous bound.

// sessionDB is a database with table t(v INTEGER UNIQUE) holding 5.
func sessionDB(t *testing.T) (*Engine, string) {
	t.Helper()
	e, _, db := newDB(t, Config{})
	exec(t, e, db, "CREATE TABLE t (v INTEGER UNIQUE);\nINSERT INTO t VALUES (5)")
	return e, db
}

// ends records why a session ended.
type ends struct {
	mu  sync.Mutex
	got []error
	ch  chan error
}

func newEnds() *ends { return &ends{ch: make(chan error, 4)} }

func (n *ends) note(err error) {
	n.mu.Lock()
	n.got = append(n.got, err)
	n.mu.Unlock()
	n.ch <- err
}

func begin(t *testing.T, e *Engine, db string, ttl time.Duration, n *ends) *Session {
	t.Helper()
	s, err := e.Begin(context.Background(), db, ttl, n.note)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	return s
}

func sessionRun(s *Session, sql string, args ...any) error {
	return s.Do(context.Background(), func(tx forge.Tx) error {
		_, err := tx.Run(context.Background(), wstmt(sql, args...), nil)
		return err
	})
}

func TestSessionCommitAndRollback(t *testing.T) {
	t.Parallel()
	e, db := sessionDB(t)
	ctx := context.Background()

	n := newEnds()
	s := begin(t, e, db, time.Minute, n)
	if err := sessionRun(s, "INSERT INTO t VALUES (?)", 1); err != nil {
		t.Fatal(err)
	}
	// A statement that fails is undone alone; the transaction goes on.
	if err := sessionRun(s, "INSERT INTO t VALUES (?)", 5); sqlError(t, err) == nil {
		t.Fatal("duplicate accepted")
	}
	if err := sessionRun(s, "INSERT INTO t VALUES (?)", 2); err != nil {
		t.Fatal(err)
	}
	// Transaction control belongs to the session.
	for _, sql := range []string{"COMMIT", "ROLLBACK", "BEGIN", "END"} {
		if err := sessionRun(s, sql); !errors.Is(err, forge.ErrTxControl) {
			t.Errorf("%s: %v, want ErrTxControl", sql, err)
		}
	}
	if err := sessionRun(s, "SAVEPOINT a"); err != nil {
		t.Fatalf("savepoint: %v", err)
	}
	if err := sessionRun(s, "RELEASE a"); err != nil {
		t.Fatalf("release: %v", err)
	}
	// A reader sees the last commit meanwhile.
	if got := queryInt(t, e, db, "SELECT count(*) FROM t"); got != 1 {
		t.Errorf("a reader during the session sees %d rows, want 1", got)
	}
	if err := s.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := queryInt(t, e, db, "SELECT count(*) FROM t"); got != 3 {
		t.Errorf("after commit: %d rows, want 3", got)
	}
	if err := s.Commit(ctx); !errors.Is(err, forge.ErrTxCommitted) {
		t.Errorf("second commit: %v", err)
	}
	if err := sessionRun(s, "SELECT 1"); !errors.Is(err, forge.ErrTxCommitted) {
		t.Errorf("use after commit: %v", err)
	}
	if why := waitFor(t, n.ch, 5*time.Second, "onEnd"); !errors.Is(why, forge.ErrTxCommitted) {
		t.Errorf("onEnd: %v", why)
	}

	n = newEnds()
	s = begin(t, e, db, time.Minute, n)
	if err := sessionRun(s, "INSERT INTO t VALUES (?)", 9); err != nil {
		t.Fatal(err)
	}
	if err := s.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if got := queryInt(t, e, db, "SELECT count(*) FROM t WHERE v = 9"); got != 0 {
		t.Errorf("rolled back row is there")
	}
	if err := s.Commit(ctx); !errors.Is(err, forge.ErrTxRolledBack) {
		t.Errorf("commit after rollback: %v", err)
	}
	if why := waitFor(t, n.ch, 5*time.Second, "onEnd"); !errors.Is(why, forge.ErrTxRolledBack) {
		t.Errorf("onEnd: %v", why)
	}
	// The writer is free again.
	exec(t, e, db, "INSERT INTO t VALUES (10)")
}

// TestSessionExpiry: a lease nobody renews rolls back on its own, gives
// the writer on, and every later call says it expired.
func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	e, db := sessionDB(t)
	n := newEnds()
	s := begin(t, e, db, 150*time.Millisecond, n)
	if err := sessionRun(s, "INSERT INTO t VALUES (?)", 1); err != nil {
		t.Fatal(err)
	}
	if why := waitFor(t, n.ch, 10*time.Second, "the expiry"); !errors.Is(why, forge.ErrTxExpired) {
		t.Fatalf("ended with %v, want ErrTxExpired", why)
	}
	if got := queryInt(t, e, db, "SELECT count(*) FROM t WHERE v = 1"); got != 0 {
		t.Error("the expired transaction's write is there")
	}
	if err := s.Commit(context.Background()); !errors.Is(err, forge.ErrTxExpired) {
		t.Errorf("commit after expiry: %v", err)
	}
	if err := sessionRun(s, "SELECT 1"); !errors.Is(err, forge.ErrTxExpired) {
		t.Errorf("use after expiry: %v", err)
	}
	// The writer was given back.
	exec(t, e, db, "INSERT INTO t VALUES (2)")
}

// TestSessionRenewed: a session used every 30 ms with a 150 ms lease
// stays open for a second, and commits everything.
func TestSessionRenewed(t *testing.T) {
	t.Parallel()
	e, db := sessionDB(t)
	n := newEnds()
	s := begin(t, e, db, 150*time.Millisecond, n)
	start := time.Now()
	i := 100
	for time.Since(start) < time.Second {
		if err := sessionRun(s, "INSERT INTO t VALUES (?)", i); err != nil {
			t.Fatalf("after %v: %v", time.Since(start), err)
		}
		i++
		time.Sleep(30 * time.Millisecond)
	}
	if err := s.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := queryInt(t, e, db, "SELECT count(*) FROM t WHERE v >= 100"); got != int64(i-100) {
		t.Errorf("%d rows, want %d", got, i-100)
	}
}

// TestSessionHoldsWriter: other writers wait for the session, bounded by
// their own deadline, and go on once it commits; readers keep reading.
func TestSessionHoldsWriter(t *testing.T) {
	t.Parallel()
	e, db := sessionDB(t)
	s := begin(t, e, db, time.Minute, newEnds())
	if err := sessionRun(s, "INSERT INTO t VALUES (?)", 1); err != nil {
		t.Fatal(err)
	}
	// A writer whose deadline passes first runs nothing.
	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err := e.Query(short, db, wstmt("INSERT INTO t VALUES (?)", 2), nil)
	cancel()
	if !errors.Is(err, forge.ErrTimeout) {
		t.Fatalf("a write during the session: %v, want ErrTimeout", err)
	}

	// A writer with time waits, and runs once the session commits.
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := e.Query(ctx, db, wstmt("INSERT INTO t VALUES (?)", 3), nil)
		done <- err
	}()
	notYet(t, done, 100*time.Millisecond, "the waiting write")
	if got := queryInt(t, e, db, "SELECT count(*) FROM t"); got != 1 {
		t.Errorf("a reader sees %d rows, want the last commit's 1", got)
	}
	if err := s.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(t, done, 10*time.Second, "the waiting write"); err != nil {
		t.Fatal(err)
	}
	rec, _ := query(t, e, db, "SELECT v FROM t ORDER BY v", forge.Params{})
	checkRows(t, "rows", rec.rows, rows(row(1), row(3), row(5)))
}

// TestSessionAborted: a statement whose failure ends the transaction
// ends the session, rolled back, and says so from then on.
func TestSessionAborted(t *testing.T) {
	t.Parallel()
	e, db := sessionDB(t)
	n := newEnds()
	s := begin(t, e, db, time.Minute, n)
	if err := sessionRun(s, "INSERT INTO t VALUES (?)", 1); err != nil {
		t.Fatal(err)
	}
	err := sessionRun(s, "INSERT OR ROLLBACK INTO t VALUES (?)", 5)
	if !errors.Is(err, forge.ErrTxAborted) || sqlError(t, err) == nil {
		t.Fatalf("INSERT OR ROLLBACK: %v, want ErrTxAborted wrapping the SQL error", err)
	}
	if err := s.Commit(context.Background()); !errors.Is(err, forge.ErrTxAborted) {
		t.Errorf("commit after abort: %v", err)
	}
	if why := waitFor(t, n.ch, 5*time.Second, "onEnd"); !errors.Is(why, forge.ErrTxAborted) {
		t.Errorf("onEnd: %v", why)
	}
	if got := queryInt(t, e, db, "SELECT count(*) FROM t"); got != 1 {
		t.Errorf("%d rows, want 1", got)
	}
	exec(t, e, db, "INSERT INTO t VALUES (2)")
}

// TestSessionRolledBackAtClose: closing the engine rolls open sessions
// back, never commits them.
func TestSessionRolledBackAtClose(t *testing.T) {
	t.Parallel()
	e, layout := newTestEngine(t, Config{})
	createDB(t, layout, "db")
	exec(t, e, "db", "CREATE TABLE t (v)")
	n := newEnds()
	s := begin(t, e, "db", time.Minute, n)
	if err := sessionRun(s, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if why := waitFor(t, n.ch, 5*time.Second, "onEnd"); !errors.Is(why, forge.ErrClosed) {
		t.Errorf("onEnd: %v", why)
	}
	e2, err := New(Config{CacheDir: testCacheDir}, layout.Resolve, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e2.Close(context.Background()) }()
	if got := queryInt(t, e2, "db", "SELECT count(*) FROM t"); got != 0 {
		t.Errorf("%d rows after close, want 0", got)
	}
}

// TestSessionHammer: calls from several goroutines race the lease's
// timer; each call either runs or hears that the session expired, the
// session ends once, and the writer is free after.
func TestSessionHammer(t *testing.T) {
	t.Parallel()
	e, db := sessionDB(t)
	for round := range 5 {
		n := newEnds()
		s := begin(t, e, db, 20*time.Millisecond, n)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 20 {
					err := sessionRun(s, "INSERT INTO t VALUES (?)", 100+10_000*round+1000*g+i)
					if err != nil && !errors.Is(err, forge.ErrTxExpired) {
						t.Errorf("call: %v", err)
						return
					}
					time.Sleep(time.Duration(i%7) * time.Millisecond * 3)
				}
			}()
		}
		wg.Wait()
		_ = s.Rollback(context.Background())
		waitFor(t, n.ch, 10*time.Second, "the end")
		notYet(t, n.ch, 50*time.Millisecond, "a second end")
	}
	if got := queryInt(t, e, db, "SELECT count(*) FROM t"); got != 1 {
		t.Errorf("%d rows, want 1: nothing of a rolled back or expired session stays", got)
	}
	exec(t, e, db, "INSERT INTO t VALUES (2)")
}
