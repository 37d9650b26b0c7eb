package batch

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/praetorian/db-forge/forge"
)

// fakeEngine runs units on a fakeTx that fails the statements named in
// fail; it records how units ended.
type fakeEngine struct {
	fail      map[string]error
	committed int
	rolled    int
	queries   int
}

type fakeTx struct{ e *fakeEngine }

func (t fakeTx) Run(_ context.Context, q forge.Statement, _ forge.RowWriter) (forge.Result, error) {
	if err := t.e.fail[q.SQL]; err != nil {
		return forge.Result{}, err
	}
	return forge.Result{RowsAffected: 1}, nil
}

func (t fakeTx) Describe(context.Context, string) (forge.StatementInfo, error) {
	return forge.StatementInfo{}, nil
}

func (e *fakeEngine) unit(fn func(forge.Tx) error) error {
	if err := fn(fakeTx{e}); err != nil {
		e.rolled++
		return err
	}
	e.committed++
	return nil
}

func (e *fakeEngine) Query(ctx context.Context, _ string, q forge.Statement, w forge.RowWriter) (forge.Result, error) {
	e.queries++
	return fakeTx{e}.Run(ctx, q, w)
}
func (e *fakeEngine) Read(_ context.Context, _ string, fn func(forge.Tx) error) error {
	return e.unit(fn)
}
func (e *fakeEngine) Write(_ context.Context, _ string, fn func(forge.Tx) error) error {
	return e.unit(fn)
}

// outcomes is a forge.BatchOutput that writes down each outcome.
type outcomes struct{ got []string }

func (o *outcomes) Reset()                   { o.got = o.got[:0] }
func (o *outcomes) Rows(int) forge.RowWriter { return nil }
func (o *outcomes) Done(i int, _ forge.Result, err error) error {
	if err != nil {
		o.got = append(o.got, strconv.Itoa(i)+":"+err.Error())
	} else {
		o.got = append(o.got, strconv.Itoa(i)+":ok")
	}
	return nil
}
func (o *outcomes) Changes(i int, c forge.Changes) {
	o.got = append(o.got, strconv.Itoa(i)+":changes "+strconv.Itoa(len(c.List)))
}

func stmts(sqls ...string) []forge.Statement {
	out := make([]forge.Statement, len(sqls))
	for i, s := range sqls {
		out[i] = forge.Statement{SQL: s}
	}
	return out
}

func TestBatch(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	tests := []struct {
		name      string
		b         forge.Batch
		fail      map[string]error
		err       string // "" = nil
		index     int
		got       string
		committed int
		rolled    int
		queries   int
	}{
		{name: "transaction", b: forge.Batch{Statements: stmts("a", "b")}, got: "[0:ok 1:ok]", committed: 1},
		{name: "transaction fails", b: forge.Batch{Statements: stmts("a", "b", "c")}, fail: map[string]error{"b": boom},
			err: "statement 1: boom", index: 1, got: "[0:ok]", rolled: 1},
		{name: "dry run rolls back", b: forge.Batch{Statements: stmts("a", "b"), DryRun: true}, got: "[0:ok 1:ok]", rolled: 1},
		{name: "separate", b: forge.Batch{Statements: stmts("a", "b", "c"), Separate: true}, fail: map[string]error{"b": boom},
			got: "[0:ok 1:boom 2:ok]", queries: 3},
		{name: "separate dry run", b: forge.Batch{Statements: stmts("a", "b"), Separate: true, DryRun: true},
			got: "[0:ok 1:ok]", rolled: 2},
		{name: "separate, no database", b: forge.Batch{Statements: stmts("a", "b"), Separate: true},
			fail: map[string]error{"a": forge.ErrDatabaseNotFound}, err: forge.ErrDatabaseNotFound.Error(), index: -1, got: "[]", queries: 1},
		{name: "too many", b: forge.Batch{Statements: stmts("a", "b", "c", "d")}, err: "The batch holds 4 statements; at most 3 are allowed (FORGE_MAX_BATCH_STATEMENTS).",
			index: -1, got: "[]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := &fakeEngine{fail: tc.fail}
			var out outcomes
			err := New(e, Config{MaxStatements: 3}).Batch(context.Background(), "db", tc.b, &out)
			if (err == nil) != (tc.err == "") || err != nil && err.Error() != tc.err {
				t.Fatalf("err %v, want %q", err, tc.err)
			}
			var se *forge.StatementError
			if tc.err != "" && errors.As(err, &se) != (tc.index >= 0) || se != nil && se.Index != tc.index {
				t.Fatalf("statement error %v, want index %d", se, tc.index)
			}
			if g := strings.Join(strings.Fields("["+strings.Join(out.got, " ")+"]"), " "); g != tc.got {
				t.Fatalf("outcomes %s, want %s", g, tc.got)
			}
			if e.committed != tc.committed || e.rolled != tc.rolled || e.queries != tc.queries {
				t.Fatalf("committed %d rolled back %d queries %d, want %d %d %d", e.committed, e.rolled, e.queries,
					tc.committed, tc.rolled, tc.queries)
			}
		})
	}
}
