package wasm

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/praetorian/db-forge/forge"
)

const recHead = "INSERT INTO rec (k, v) VALUES "

// atCommitUnit inserts v into t and asks for (k, v) in rec at commit,
// then fails with fail if that is set.
func atCommitUnit(calls *atomic.Int32, k string, v int, fail error) func(forge.Tx) error {
	return func(u forge.Tx) error {
		calls.Add(1)
		if _, err := u.Run(context.Background(), wstmt("INSERT INTO t (v) VALUES (?)", v), nil); err != nil {
			return err
		}
		if err := u.(*tx).InsertAtCommit(context.Background(), recHead,
			[]forge.Value{forge.TextValue(k), forge.IntValue(int64(v))}); err != nil {
			return err
		}
		return fail
	}
}

func recKeys(t *testing.T, e *Engine, db string) string {
	t.Helper()
	r, _ := query(t, e, db, "SELECT group_concat(k, ',') FROM (SELECT k FROM rec ORDER BY k)", forge.Params{})
	if len(r.rows) != 1 || r.rows[0][0].Kind == forge.Null {
		return ""
	}
	return r.rows[0][0].Str
}

// The rows of a group's units go in with the group's commit (in one
// INSERT per power of two of them: 3 = 2 + 1), those of a unit that
// failed do not.
func TestInsertAtCommitInAGroup(t *testing.T) {
	e, _, db := newDB(t, Config{})
	exec(t, e, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER UNIQUE);\nCREATE TABLE rec (k TEXT PRIMARY KEY, v INTEGER)")
	before := e.Stats()
	var calls atomic.Int32
	errFn := errors.New("the unit's own error")
	errs, _ := unitsInOneGroup(t, e, db, []func(forge.Tx) error{
		atCommitUnit(&calls, "a", 1, nil),
		atCommitUnit(&calls, "b", 2, errFn),
		atCommitUnit(&calls, "c", 3, nil),
		atCommitUnit(&calls, "d", 4, nil),
	}, nil)
	if errs[0] != nil || errs[2] != nil || errs[3] != nil || !errors.Is(errs[1], errFn) {
		t.Fatalf("units: %v", errs)
	}
	if v := values(t, e, db); v != "1,3,4" {
		t.Errorf("t holds %s, want 1,3,4", v)
	}
	if k := recKeys(t, e, db); k != "a,c,d" {
		t.Errorf("rec holds %q, want a,c,d", k)
	}
	if calls.Load() != 4 || e.Stats().RedoneWrites != before.RedoneWrites {
		t.Errorf("units called %d times, redone %d: want 4, none", calls.Load(), e.Stats().RedoneWrites-before.RedoneWrites)
	}
}

// A failing INSERT at commit loses the group's transaction: every member
// runs again on its own, where the INSERT runs at once and its failure
// is its unit's.
func TestInsertAtCommitFailureRunsTheGroupAgain(t *testing.T) {
	e, _, db := newDB(t, Config{})
	exec(t, e, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER UNIQUE);\nCREATE TABLE rec (k TEXT PRIMARY KEY, v INTEGER);\nINSERT INTO rec VALUES ('taken', 0)")
	var calls atomic.Int32
	errs, got := unitsInOneGroup(t, e, db, []func(forge.Tx) error{
		atCommitUnit(&calls, "a", 1, nil),
		atCommitUnit(&calls, "taken", 2, nil), // PRIMARY KEY, at commit
	}, []forge.Statement{wstmt("INSERT INTO t (v) VALUES (?)", 9)})
	if errs[0] != nil || got[0].err != nil {
		t.Fatalf("unit 0: %v, statement: %v", errs[0], got[0].err)
	}
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "UNIQUE") {
		t.Errorf("unit 1: %v, want its UNIQUE failure", errs[1])
	}
	if v := values(t, e, db); v != "1,9" {
		t.Errorf("t holds %s, want 1,9", v)
	}
	if k := recKeys(t, e, db); k != "a,taken" {
		t.Errorf("rec holds %q, want a,taken", k)
	}
	if calls.Load() != 4 {
		t.Errorf("units called %d times, want 4 (each in the group, then alone)", calls.Load())
	}
}

// In a unit of its own the INSERT runs at once: the unit sees its row,
// and a failure is returned to it.
func TestInsertAtCommitAlone(t *testing.T) {
	e, _, db := newDB(t, Config{})
	exec(t, e, db, "CREATE TABLE rec (k TEXT PRIMARY KEY, v INTEGER)")
	err := e.Write(context.Background(), db, func(u forge.Tx) error {
		row := []forge.Value{forge.TextValue("a"), forge.IntValue(1)}
		if err := u.(*tx).InsertAtCommit(context.Background(), recHead, row); err != nil {
			return err
		}
		r := &recorder{}
		if _, err := u.Run(context.Background(), forge.Statement{SQL: "SELECT k FROM rec"}, r); err != nil || len(r.rows) != 1 {
			t.Errorf("the unit sees %v (%v), want its row", r.rows, err)
		}
		if err := u.(*tx).InsertAtCommit(context.Background(), recHead, row); err == nil || !strings.Contains(err.Error(), "UNIQUE") {
			t.Errorf("a second row of the same key: %v, want UNIQUE", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if k := recKeys(t, e, db); k != "a" {
		t.Errorf("rec holds %q, want a", k)
	}
}

func TestBulkSQL(t *testing.T) {
	if got, want := bulkSQL("INSERT INTO r (a, b) VALUES ", 2, 3), "INSERT INTO r (a, b) VALUES (?,?),(?,?),(?,?)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// Rows of two shapes in one group, under a parameter limit lower than a
// group's rows need: each shape goes in its own INSERTs, small enough.
func TestInsertAtCommitShapesAndLimit(t *testing.T) {
	cfg := Config{Limits: Limits{VariableNumber: 5}} // two rows of 2 at most
	e, _, db := newDB(t, cfg)
	exec(t, e, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER UNIQUE);\nCREATE TABLE rec (k TEXT PRIMARY KEY, v INTEGER);\nCREATE TABLE one (k TEXT)")
	var calls atomic.Int32
	units := []func(forge.Tx) error{}
	for i, k := range []string{"a", "b", "c", "d", "e"} {
		units = append(units, atCommitUnit(&calls, k, i+1, nil))
		units = append(units, func(u forge.Tx) error {
			return u.(*tx).InsertAtCommit(context.Background(), "INSERT INTO one (k) VALUES ", []forge.Value{forge.TextValue(k)})
		})
	}
	before := e.Stats()
	errs, _ := unitsInOneGroup(t, e, db, units, nil)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("unit %d: %v", i, err)
		}
	}
	if k := recKeys(t, e, db); k != "a,b,c,d,e" {
		t.Errorf("rec holds %q, want a,b,c,d,e", k)
	}
	if n := queryInt(t, e, db, "SELECT count(*) FROM one"); n != 5 {
		t.Errorf("one holds %d rows, want 5", n)
	}
	if s := e.Stats(); s.RedoneWrites != before.RedoneWrites || calls.Load() != 5 {
		t.Errorf("redone %d, calls %d: want none redone, 5 calls", s.RedoneWrites-before.RedoneWrites, calls.Load())
	}
}
