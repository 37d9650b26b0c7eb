package wasm

import (
	"context"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// Idle readers close after ReaderIdle; idle databases after DBIdle; both
// reopen on demand with their data.
func TestSweepClosesIdleConnections(t *testing.T) {
	e, layout := newTestEngine(t, Config{ReaderIdle: time.Minute, DBIdle: time.Hour})
	createDB(t, layout, "idle")
	exec(t, e, "idle", "CREATE TABLE t (v);\nINSERT INTO t VALUES (42)")

	// Two requests at once: the writer serves one, a reader the other.
	g1, g2 := newGateWriter(), newGateWriter()
	done := make(chan error, 2)
	for _, g := range []*gateWriter{g1, g2} {
		go func() {
			_, err := e.Query(context.Background(), "idle", forge.Statement{SQL: "SELECT v FROM t"}, g)
			done <- err
		}()
		<-g.started
	}
	close(g1.release)
	close(g2.release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	readers := func() int32 {
		e.mu.Lock()
		defer e.mu.Unlock()
		if db := e.dbs["idle"]; db != nil {
			return db.nreaders.Load()
		}
		return -1
	}
	if n := readers(); n != 1 {
		t.Fatalf("%d readers after two concurrent requests, want 1", n)
	}

	e.sweep(time.Now().Add(30 * time.Second)) // not idle long enough yet
	if n := readers(); n != 1 {
		t.Fatalf("%d readers after an early sweep, want 1", n)
	}
	e.sweep(time.Now().Add(2 * time.Minute))
	if n := readers(); n != 0 {
		t.Fatalf("%d readers after ReaderIdle, want 0", n)
	}
	if st := e.Stats(); st.Open != 1 {
		t.Fatalf("stats %+v: the database must stay open with its writer", st)
	}

	e.sweep(time.Now().Add(2 * time.Hour))
	if st := e.Stats(); st.Open != 0 || st.Idled != 1 {
		t.Fatalf("stats %+v after DBIdle, want it closed", st)
	}
	rec, _ := query(t, e, "idle", "SELECT v FROM t", forge.Params{})
	if len(rec.rows) != 1 || rec.rows[0][0].Int != 42 {
		t.Fatalf("after reopening: %+v", rec.rows)
	}
}

// A database in use is never idled out, whatever the clock says.
func TestSweepSparesBusyDatabases(t *testing.T) {
	e, layout := newTestEngine(t, Config{ReaderIdle: time.Minute, DBIdle: time.Minute})
	createDB(t, layout, "busy")
	exec(t, e, "busy", "CREATE TABLE t (v);\nINSERT INTO t VALUES (1)")
	g := newGateWriter()
	done := make(chan error, 1)
	go func() {
		_, err := e.Query(context.Background(), "busy", forge.Statement{SQL: "SELECT v FROM t"}, g)
		done <- err
	}()
	<-g.started
	e.sweep(time.Now().Add(time.Hour))
	if st := e.Stats(); st.Open != 1 || st.Idled != 0 {
		t.Fatalf("stats %+v: a database with a request running was closed", st)
	}
	close(g.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestSweepPeriod(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		reader, db, want time.Duration
	}{
		{30 * time.Second, 10 * time.Minute, 7500 * time.Millisecond},
		{-1, -1, 0},
		{-1, time.Hour, 30 * time.Second},
		{time.Second, -1, time.Second},
	} {
		if got := sweepPeriod(Config{ReaderIdle: tc.reader, DBIdle: tc.db}); got != tc.want {
			t.Errorf("sweepPeriod(%v, %v) = %v, want %v", tc.reader, tc.db, got, tc.want)
		}
	}
}
