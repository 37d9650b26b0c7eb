package wasm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/praetorian/db-forge/forge"
)

// fakeAuditor stores each record as a row of a bookkeeping table, and
// keeps what it is handed as unwritten.
type fakeAuditor struct {
	mu        sync.Mutex
	unwritten []forge.AuditRecord
	after     bool // AfterCommit
}

const fakeAuditTable = "CREATE TABLE IF NOT EXISTS _forge_audit_test (req TEXT, sql TEXT, outcome TEXT, runs INTEGER)"

func (*fakeAuditor) Audits(string) bool        { return true }
func (*fakeAuditor) Reads() bool               { return false }
func (a *fakeAuditor) AfterCommit(string) bool { return a.after }

func (*fakeAuditor) AtCommit(_ string, recs []forge.AuditRecord) (forge.Statement, []forge.Statement) {
	var stmts []forge.Statement
	for _, r := range recs {
		req := ""
		if r.Caller != nil {
			req = r.Caller.RequestID
		}
		stmts = append(stmts, forge.Statement{SQL: "INSERT INTO _forge_audit_test VALUES (?, ?, ?, ?)", Bookkeeping: true,
			Params: pos(forge.TextValue(req), forge.TextValue(r.SQL), forge.TextValue(r.Outcome), forge.IntValue(int64(r.Runs)))})
	}
	return forge.Statement{SQL: fakeAuditTable, Bookkeeping: true}, stmts
}

func (a *fakeAuditor) Unwritten(_ string, recs []forge.AuditRecord) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.unwritten = append(a.unwritten, recs...)
}

// stored is what the table holds, "req outcome runs" sorted.
func stored(t *testing.T, e *Engine, db string) []string {
	t.Helper()
	var out []string
	err := e.Read(context.Background(), db, func(tx forge.Tx) error {
		w := &recorder{}
		if _, err := tx.Run(context.Background(), forge.Statement{SQL: "SELECT req, outcome, runs FROM _forge_audit_test", Bookkeeping: true}, w); err != nil {
			return err
		}
		for _, r := range w.rows {
			out = append(out, fmt.Sprintf("%s %s %d", r[0].Str, r[1].Str, r[2].Int))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func (a *fakeAuditor) handed() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, r := range a.unwritten {
		req := ""
		if r.Caller != nil {
			req = r.Caller.RequestID
		}
		out = append(out, req+" "+r.Outcome)
	}
	slices.Sort(out)
	return out
}

func caller(req string) context.Context {
	return forge.WithCaller(context.Background(), &forge.Caller{RequestID: req})
}

// A group whose transaction is lost: the members that run again alone are
// recorded once (in their own transaction), the culprit's record is handed
// on, and nothing is recorded twice.
func TestAuditLostGroup(t *testing.T) {
	a := &fakeAuditor{}
	e, _, db := newDB(t, Config{Audit: a})
	exec(t, e, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER UNIQUE);\nINSERT INTO t (v) VALUES (5)")
	const ins = "INSERT INTO t (v) VALUES (?)"
	ctxs := []context.Context{caller("a"), caller("b"), caller("culprit"), caller("c"), caller("dup")}
	got := inOneGroup(t, e, db, ctxs, []forge.Statement{wstmt(ins, 1), wstmt(ins, 2),
		wstmt("INSERT OR ROLLBACK INTO t (v) VALUES (5)"), wstmt(ins, 3), wstmt(ins, 1)}, 0)
	for i, r := range got {
		if (i == 2 || i == 4) != (r.err != nil) {
			t.Errorf("statement %d: %v", i, r.err)
		}
	}
	// (exec's two statements, without a caller, first.) dup failed when
	// it ran again alone: its transaction rolled back, its record handed on.
	want := []string{" ok 1", " ok 1", "a ok 1", "b ok 1", "c ok 1"}
	if s := stored(t, e, db); !slices.Equal(s, want) {
		t.Errorf("stored %q, want %q", s, want)
	}
	if h := a.handed(); !slices.Equal(h, []string{"culprit error", "dup error"}) {
		t.Errorf("handed on %q", h)
	}
}

// A group that commits records its failed member with its error; a unit
// that rolls back hands its records on, rolled back; a unit whose one
// statement fails and that goes on keeps that record in its commit.
func TestAuditUnitsAndGroups(t *testing.T) {
	a := &fakeAuditor{}
	e, _, db := newDB(t, Config{Audit: a})
	exec(t, e, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER UNIQUE);\nINSERT INTO t (v) VALUES (5)")
	const ins = "INSERT INTO t (v) VALUES (?)"
	inOneGroup(t, e, db, []context.Context{caller("g1"), caller("g2")}, []forge.Statement{wstmt(ins, 6), wstmt(ins, 5)}, 0)
	boom := errors.New("boom")
	err := e.Write(caller("u1"), db, func(tx forge.Tx) error {
		for _, v := range []int{7, 8} {
			if _, err := tx.Run(context.Background(), wstmt(ins, v), nil); err != nil {
				return err
			}
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	err = e.Write(caller("u2"), db, func(tx forge.Tx) error {
		if _, err := tx.Run(context.Background(), wstmt(ins, 5), nil); err == nil {
			return errors.New("a duplicate went in")
		}
		_, err := tx.Run(context.Background(), wstmt(ins, 9), nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{" ok 1", " ok 1", "g1 ok 1", "g2 error 1", "u2 error 1", "u2 ok 1"}
	if s := stored(t, e, db); !slices.Equal(s, want) {
		t.Errorf("stored %q, want %q", s, want)
	}
	// u1's two INSERTs are one record of two runs, rolled back.
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.unwritten) != 1 || a.unwritten[0].Outcome != forge.AuditRolledBack || a.unwritten[0].Runs != 2 ||
		!strings.HasPrefix(a.unwritten[0].SQL, "INSERT") {
		t.Errorf("handed on %+v", a.unwritten)
	}
}

// With AfterCommit (FORGE_AUDIT=async) no transaction carries records:
// those of a lone write, a group and a unit that committed are handed on
// after the commit, ok (a group's failed member with its error), with
// those of a lone write that failed and a unit that rolled back.
func TestAuditAfterCommit(t *testing.T) {
	a := &fakeAuditor{after: true}
	e, _, db := newDB(t, Config{Audit: a})
	exec(t, e, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER UNIQUE);\nINSERT INTO t (v) VALUES (5)")
	const ins = "INSERT INTO t (v) VALUES (?)"
	if _, err := e.Query(caller("q1"), db, wstmt(ins, 1), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Query(caller("q2"), db, wstmt(ins, 1), nil); err == nil {
		t.Fatal("a duplicate went in")
	}
	inOneGroup(t, e, db, []context.Context{caller("g1"), caller("g2")}, []forge.Statement{wstmt(ins, 6), wstmt(ins, 5)}, 0)
	boom := errors.New("boom")
	err := e.Write(caller("u1"), db, func(tx forge.Tx) error {
		if _, err := tx.Run(context.Background(), wstmt(ins, 7), nil); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if err := e.Write(caller("u2"), db, func(tx forge.Tx) error {
		_, err := tx.Run(context.Background(), wstmt(ins, 8), nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{" ok", " ok", "g1 ok", "g2 error", "q1 ok", "q2 error", "u1 rolled_back", "u2 ok"}
	if h := a.handed(); !slices.Equal(h, want) {
		t.Errorf("handed on %q, want %q", h, want)
	}
	var n int64
	if err := e.Read(context.Background(), db, func(tx forge.Tx) error {
		w := &recorder{}
		_, err := tx.Run(context.Background(), forge.Statement{SQL: "SELECT count(*) FROM sqlite_schema WHERE name = '_forge_audit_test'", Bookkeeping: true}, w)
		n = w.rows[0][0].Int
		return err
	}); err != nil || n != 0 {
		t.Errorf("the table made in a transaction: %d %v", n, err)
	}
}
