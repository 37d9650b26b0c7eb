package wasm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/praetorian/db-forge/forge"
)

// Units of work in group commit (WriteShared), deterministically as the
// statements' tests: the test holds the writer while they queue.

// unitsInOneGroup runs each of units through WriteShared while the test
// holds database name's writer, so that they run as one group with any
// statements in stmts (queued after them), and returns the units' errors
// and the statements' answers.
func unitsInOneGroup(t *testing.T, e *Engine, name string, units []func(forge.Tx) error, stmts []forge.Statement) ([]error, []groupResult) {
	t.Helper()
	for _, s := range stmts {
		e.writes.add(s.SQL)
		e.groupable.add(s.SQL)
	}
	db, release := holdTheWriter(t, e, name)
	errs := make([]error, len(units))
	out := make([]groupResult, len(stmts))
	var wg sync.WaitGroup
	n := 0
	for i, fn := range units {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.WriteShared(context.Background(), name, fn)
		}()
		n++
		waitQueued(t, db, n)
	}
	for i, s := range stmts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i].res, out[i].err = e.Query(context.Background(), name, s, nil)
		}()
		n++
		waitQueued(t, db, n)
	}
	release()
	wg.Wait()
	return errs, out
}

// insertUnit is a unit that inserts each of vs into t, counting its calls.
func insertUnit(calls *atomic.Int32, vs ...int) func(forge.Tx) error {
	return func(tx forge.Tx) error {
		calls.Add(1)
		for _, v := range vs {
			if _, err := tx.Run(context.Background(), wstmt("INSERT INTO t (v) VALUES (?)", v), nil); err != nil {
				return err
			}
		}
		return nil
	}
}

// Units and statements share one transaction; a unit that fails leaves
// nothing of its own (not even its statements that succeeded) and
// takes nothing of the others'.
func TestWriteSharedUnitsJoinAGroup(t *testing.T) {
	e, _, db := newDB(t, Config{})
	exec(t, e, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER UNIQUE);\nINSERT INTO t (v) VALUES (5)")
	before := e.Stats()
	var calls atomic.Int32
	errFn := errors.New("the unit's own error")
	errs, got := unitsInOneGroup(t, e, db, []func(forge.Tx) error{
		insertUnit(&calls, 1, 2),
		insertUnit(&calls, 3, 5), // UNIQUE on its second row: 3 goes too
		func(tx forge.Tx) error { // fails by itself after writing
			calls.Add(1)
			if _, err := tx.Run(context.Background(), wstmt("INSERT INTO t (v) VALUES (?)", 7), nil); err != nil {
				return err
			}
			return errFn
		},
		func(tx forge.Tx) error { // DDL and a statement with rows, in its savepoint
			calls.Add(1)
			if _, err := tx.Run(context.Background(), forge.Statement{SQL: "CREATE TABLE u (a)"}, nil); err != nil {
				return err
			}
			_, err := tx.Run(context.Background(), wstmt("INSERT INTO t (v) VALUES (?) RETURNING id", 8), &recorder{})
			return err
		},
	}, []forge.Statement{wstmt("INSERT INTO t (v) VALUES (?)", 9)})
	if errs[0] != nil || errs[3] != nil || got[0].err != nil {
		t.Fatalf("units %v, statement %v", errs, got[0].err)
	}
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "UNIQUE") {
		t.Errorf("unit 1: %v, want its UNIQUE failure", errs[1])
	}
	if !errors.Is(errs[2], errFn) {
		t.Errorf("unit 2: %v, want its own error", errs[2])
	}
	if v := values(t, e, db); v != "1,2,5,8,9" {
		t.Errorf("table holds %s, want 1,2,5,8,9", v)
	}
	if n := queryInt(t, e, db, "SELECT count(*) FROM sqlite_schema WHERE name = 'u'"); n != 1 {
		t.Errorf("table u: %d", n)
	}
	s := e.Stats()
	if s.WriteBatches-before.WriteBatches != 1 || s.BatchedWrites-before.BatchedWrites != 5 || s.RedoneWrites != before.RedoneWrites {
		t.Errorf("stats %+v, before %+v: want one group of 5, none redone", s, before)
	}
	if calls.Load() != 4 {
		t.Errorf("units called %d times, want 4", calls.Load())
	}
}

// A member whose failure rolls back the whole transaction: the units
// before and after it are called again on their own, and commit.
func TestWriteSharedLostTransactionRunsUnitsAgain(t *testing.T) {
	e, _, db := newDB(t, Config{})
	exec(t, e, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER UNIQUE);\nINSERT INTO t (v) VALUES (5)")
	before := e.Stats()
	var calls atomic.Int32
	culprit := func(tx forge.Tx) error {
		_, err := tx.Run(context.Background(), forge.Statement{SQL: "INSERT OR ROLLBACK INTO t (v) VALUES (5)"}, nil)
		return err
	}
	errs, got := unitsInOneGroup(t, e, db, []func(forge.Tx) error{insertUnit(&calls, 1), culprit, insertUnit(&calls, 2)},
		[]forge.Statement{wstmt("INSERT INTO t (v) VALUES (?)", 3)})
	if errs[0] != nil || errs[2] != nil || got[0].err != nil {
		t.Fatalf("units %v, statement %v", errs, got[0].err)
	}
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "UNIQUE") {
		t.Errorf("culprit: %v", errs[1])
	}
	if v := values(t, e, db); v != "1,2,3,5" {
		t.Errorf("table holds %s, want 1,2,3,5", v)
	}
	// The first unit ran in the group, was rolled back, and ran again;
	// the last never ran in the group (the transaction ended first).
	if calls.Load() != 3 {
		t.Errorf("units called %d times, want 3", calls.Load())
	}
	if n := e.Stats().RedoneWrites - before.RedoneWrites; n != 3 {
		t.Errorf("redone %d, want 3", n)
	}
}

// A shared unit cannot end the group's transaction: it cannot list its
// changes (which rolls back), nor run transaction control.
func TestWriteSharedCannotEndTheTransaction(t *testing.T) {
	e, _, db := newDB(t, Config{})
	exec(t, e, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER UNIQUE)")
	var calls atomic.Int32
	errs, got := unitsInOneGroup(t, e, db, []func(forge.Tx) error{
		func(tx forge.Tx) error {
			ct := tx.(forge.ChangeTracker)
			ct.TrackChanges(10)
			if _, err := tx.Run(context.Background(), wstmt("INSERT INTO t (v) VALUES (?)", 1), nil); err != nil {
				return err
			}
			ch, err := ct.Changes(context.Background())
			if err != nil || len(ch.List) != 0 {
				return errors.New("a shared unit listed changes")
			}
			return nil
		},
		func(tx forge.Tx) error {
			_, err := tx.Run(context.Background(), forge.Statement{SQL: "COMMIT"}, nil)
			return err
		},
		insertUnit(&calls, 2),
	}, nil)
	if errs[0] != nil || errs[2] != nil || !errors.Is(errs[1], forge.ErrTxControl) || len(got) != 0 {
		t.Fatalf("units: %v", errs)
	}
	if v := values(t, e, db); v != "1,2" {
		t.Errorf("table holds %s, want 1,2", v)
	}
}

// Many writers at once, units and statements mixed: every answer is the
// truth of the table (a success's rows are all there, a failure's none).
func TestWriteSharedConcurrent(t *testing.T) {
	e, _, db := newDB(t, Config{})
	exec(t, e, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER UNIQUE);\nINSERT INTO t (v) VALUES (0)")
	var calls atomic.Int32
	var mu sync.Mutex
	answered := map[int]error{}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 60 {
				v := 1 + g*1000 + i
				var err error
				switch i % 3 {
				case 0:
					err = e.WriteShared(context.Background(), db, insertUnit(&calls, v, -v))
				case 1:
					err = e.WriteShared(context.Background(), db, insertUnit(&calls, v, 0)) // 0 is there: fails
				default:
					_, err = e.Query(context.Background(), db, wstmt("INSERT INTO t (v) VALUES (?)", v), nil)
				}
				mu.Lock()
				answered[v] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for v, err := range answered {
		n := queryInt(t, e, db, fmt.Sprintf("SELECT count(*) FROM t WHERE v IN (%d, %d)", v, -v))
		want := int64(0)
		switch {
		case err != nil:
		case (v-1)%1000%3 == 0:
			want = 2
		default:
			want = 1
		}
		if ((v-1)%1000%3 == 1) != (err != nil) || n != want {
			t.Errorf("write %d: %v, and %d of its rows are in the table", v, err, n)
		}
	}
}
