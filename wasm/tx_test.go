package wasm

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// Units of work (tx.go): Read and Write handed a forge.Tx.

func run(ctx context.Context, tx forge.Tx, sql string, args ...any) error {
	_, err := tx.Run(ctx, wstmt(sql, args...), nil)
	return err
}

// TestWriteCommitsOrRollsBack: a Write commits what its callback ran if
// the callback returns nil, and nothing otherwise; a statement that fails
// is undone alone and the callback decides.
func TestWriteCommitsOrRollsBack(t *testing.T) {
	t.Parallel()
	errMine := errors.New("mine")
	const ins = "INSERT INTO t (v) VALUES (?)"
	cases := []struct {
		name    string
		fn      func(ctx context.Context, tx forge.Tx) error
		wantErr func(error) bool
		want    string // the table's values afterwards
	}{
		{"commit", func(ctx context.Context, tx forge.Tx) error {
			if err := run(ctx, tx, ins, 1); err != nil {
				return err
			}
			return run(ctx, tx, ins, 2)
		}, nil, "1,2,5"},
		{"callback error rolls back", func(ctx context.Context, tx forge.Tx) error {
			if err := run(ctx, tx, ins, 1); err != nil {
				return err
			}
			return errMine
		}, func(err error) bool { return errors.Is(err, errMine) }, "5"},
		{"failed statement returned rolls back", func(ctx context.Context, tx forge.Tx) error {
			if err := run(ctx, tx, ins, 1); err != nil {
				return err
			}
			return run(ctx, tx, ins, 5) // UNIQUE
		}, func(err error) bool { var se *forge.SQLError; return errors.As(err, &se) }, "5"},
		{"failed statement skipped, the rest commits", func(ctx context.Context, tx forge.Tx) error {
			if err := run(ctx, tx, ins, 1); err != nil {
				return err
			}
			if err := run(ctx, tx, ins, 5); err == nil {
				return errors.New("duplicate accepted")
			}
			return run(ctx, tx, ins, 2)
		}, nil, "1,2,5"},
		{"failed RETURNING undone, the rest commits", func(ctx context.Context, tx forge.Tx) error {
			_, err := tx.Run(ctx, wstmt(ins+" RETURNING v", 7), refuseRows{})
			if err == nil {
				return errors.New("refused row accepted")
			}
			return run(ctx, tx, ins, 2)
		}, nil, "2,5"},
		{"a lost transaction fails the unit", func(ctx context.Context, tx forge.Tx) error {
			if err := run(ctx, tx, ins, 1); err != nil {
				return err
			}
			err := run(ctx, tx, "INSERT OR ROLLBACK INTO t (v) VALUES (5)")
			if !errors.Is(err, forge.ErrTxLost) {
				return errors.New("not lost: " + err.Error())
			}
			if err := run(ctx, tx, ins, 2); !errors.Is(err, forge.ErrTxLost) {
				return errors.New("ran after the loss")
			}
			return nil // the unit fails all the same
		}, func(err error) bool { return errors.Is(err, forge.ErrTxLost) }, "5"},
		{"transaction control refused", func(ctx context.Context, tx forge.Tx) error {
			if err := run(ctx, tx, ins, 1); err != nil {
				return err
			}
			for _, sql := range []string{"COMMIT", "END", "ROLLBACK", "BEGIN"} {
				if err := run(ctx, tx, sql); !errors.Is(err, forge.ErrTxControl) {
					return errors.New(sql + " not refused")
				}
			}
			// Savepoints nest inside the unit.
			for _, sql := range []string{"SAVEPOINT s", "INSERT INTO t (v) VALUES (3)", "ROLLBACK TO s", "RELEASE s"} {
				if err := run(ctx, tx, sql); err != nil {
					return err
				}
			}
			return nil
		}, nil, "1,5"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, _, db := newDB(t, Config{})
			exec(t, e, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER UNIQUE);\nINSERT INTO t (v) VALUES (5)")
			ctx := context.Background()
			err := e.Write(ctx, db, func(tx forge.Tx) error { return tc.fn(ctx, tx) })
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !tc.wantErr(err) {
				t.Fatalf("Write: %v", err)
			}
			if v := values(t, e, db); v != tc.want {
				t.Errorf("table holds %s, want %s", v, tc.want)
			}
			// Nothing is left open or held: a write goes in at once.
			exec(t, e, db, "INSERT INTO t (v) VALUES (100)")
		})
	}
}

// refuseRows is a RowWriter that refuses the first row.
type refuseRows struct{}

func (refuseRows) Columns([]string) error { return nil }
func (refuseRows) Row(forge.Row) error    { return errors.New("no rows, thanks") }

// TestReadOnlyWhatSQLiteCallsReadOnly: a Read runs what SQLite prepares as
// read-only and refuses the rest before it runs, on a reader and on the
// lent writer alike.
func TestReadOnlyWhatSQLiteCallsReadOnly(t *testing.T) {
	t.Parallel()
	cases := []struct {
		sql  string
		want error
	}{
		{"SELECT v FROM t", nil},
		{"WITH x AS (SELECT 1) SELECT * FROM x", nil},
		{"PRAGMA user_version", nil},
		{"INSERT INTO t (v) VALUES (9)", forge.ErrReadOnly},
		{"WITH x(a) AS (SELECT 9) INSERT INTO t (v) SELECT a FROM x", forge.ErrReadOnly},
		{"DELETE FROM t", forge.ErrReadOnly},
		{"CREATE TABLE u (x)", forge.ErrReadOnly},
		{"PRAGMA user_version = 3", forge.ErrReadOnly},
		{"COMMIT", forge.ErrTxControl},
		{"BEGIN", forge.ErrTxControl},
	}
	for _, onReader := range []bool{false, true} {
		name := "on the lent writer"
		if onReader {
			name = "on a reader"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e, _, db := newDB(t, Config{})
			exec(t, e, db, "CREATE TABLE t (v);\nINSERT INTO t VALUES (1)")
			if onReader {
				release := holdWriter(t, e, db)
				defer release()
			}
			ctx := context.Background()
			for _, tc := range cases {
				err := e.Read(ctx, db, func(tx forge.Tx) error {
					_, err := tx.Run(ctx, forge.Statement{SQL: tc.sql}, &recorder{})
					return err
				})
				if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
					t.Errorf("%s: %v, want %v", tc.sql, err, tc.want)
				}
			}
			if n := queryInt(t, e, db, "SELECT count(*) FROM t"); n != 1 {
				t.Errorf("%d rows: a Read wrote", n)
			}
		})
	}
}

// TestDescribe: what a statement is, without running it.
func TestDescribe(t *testing.T) {
	t.Parallel()
	e, _, db := newDB(t, Config{})
	exec(t, e, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v)")
	cases := []struct {
		sql  string
		want forge.StatementInfo
	}{
		{"SELECT id, v AS value FROM t WHERE id = ? AND v = :v", forge.StatementInfo{ReadOnly: true, Columns: []string{"id", "value"}, Params: []string{"", "v"}}},
		{"INSERT INTO t (v) VALUES (@a) RETURNING id", forge.StatementInfo{Columns: []string{"id"}, Params: []string{"a"}}},
		{"DELETE FROM t WHERE id = $id", forge.StatementInfo{Params: []string{"id"}}},
		{"  -- nothing\n", forge.StatementInfo{Empty: true}},
	}
	ctx := context.Background()
	err := e.Read(ctx, db, func(tx forge.Tx) error {
		for _, tc := range cases {
			got, err := tx.Describe(ctx, tc.sql)
			if err != nil {
				t.Errorf("%s: %v", tc.sql, err)
			} else if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s: %+v, want %+v", tc.sql, got, tc.want)
			}
		}
		if _, err := tx.Describe(ctx, "SELECT * FROM nosuch"); err == nil || !strings.Contains(err.Error(), "no such table") {
			t.Errorf("describe of a missing table: %v", err)
		}
		if _, err := tx.Describe(ctx, "ATTACH 'x' AS y"); !errors.Is(err, forge.ErrNotAuthorized) {
			t.Errorf("describe of ATTACH: %v, want the sandbox's refusal", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, e, db, "SELECT count(*) FROM t"); n != 0 {
		t.Errorf("Describe ran something: %d rows", n)
	}
}

// TestUnitDeadlines: a unit stops at its deadline and writes nothing; a
// statement given a shorter context of its own stops at that one, and the
// unit goes on.
func TestUnitDeadlines(t *testing.T) {
	t.Parallel()
	e, _, db := newDB(t, Config{QueryTimeout: time.Minute})
	exec(t, e, db, "CREATE TABLE t (v)")
	short := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 200*time.Millisecond)
	}
	t.Run("write unit", func(t *testing.T) {
		ctx, cancel := short()
		defer cancel()
		err := e.Write(ctx, db, func(tx forge.Tx) error {
			if err := run(ctx, tx, "INSERT INTO t (v) VALUES (1)"); err != nil {
				return err
			}
			_, err := tx.Run(ctx, forge.Statement{SQL: runaway}, &recorder{})
			return err
		})
		if !errors.Is(err, forge.ErrTimeout) {
			t.Fatalf("Write: %v, want ErrTimeout", err)
		}
	})
	t.Run("read unit", func(t *testing.T) {
		ctx, cancel := short()
		defer cancel()
		err := e.Read(ctx, db, func(tx forge.Tx) error {
			_, err := tx.Run(ctx, forge.Statement{SQL: runaway}, &recorder{})
			return err
		})
		if !errors.Is(err, forge.ErrTimeout) {
			t.Fatalf("Read: %v, want ErrTimeout", err)
		}
	})
	t.Run("statement's own context", func(t *testing.T) {
		ctx := context.Background()
		err := e.Write(ctx, db, func(tx forge.Tx) error {
			sctx, cancel := short()
			defer cancel()
			if _, err := tx.Run(sctx, forge.Statement{SQL: runaway}, &recorder{}); !errors.Is(err, forge.ErrTimeout) {
				return errors.New("the statement did not stop at its own deadline")
			}
			return run(ctx, tx, "INSERT INTO t (v) VALUES (2)")
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	if v := values(t, e, db); v != "2" {
		t.Errorf("table holds %s, want 2", v)
	}
}

// TestWriteContainsFaults: a callback that panics, or a statement that
// traps its instance, rolls the unit back and discards the instance; the
// writer's role goes on and the next write gets in.
func TestWriteContainsFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		fn   func(ctx context.Context, tx forge.Tx) error
	}{
		{"callback panics", func(ctx context.Context, tx forge.Tx) error {
			if err := run(ctx, tx, "INSERT INTO t (v) VALUES (1)"); err != nil {
				return err
			}
			panic("a bug of the caller")
		}},
		{"statement traps", func(ctx context.Context, tx forge.Tx) error {
			if err := run(ctx, tx, "INSERT INTO t (v) VALUES (1)"); err != nil {
				return err
			}
			return run(ctx, tx, "INSERT INTO t (v) SELECT 1"+strings.Repeat("+1", 400))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, _, db := newDB(t, Config{Limits: Limits{ExprDepth: 1000}, BusyTimeout: 2 * time.Second})
			exec(t, e, db, "CREATE TABLE t (v)")
			ctx := context.Background()
			err := e.Write(ctx, db, func(tx forge.Tx) error { return tc.fn(ctx, tx) })
			if !errors.Is(err, forge.ErrEngineFault) {
				t.Fatalf("Write: %v, want ErrEngineFault", err)
			}
			if s := e.Stats(); s.Faults != 1 {
				t.Errorf("%d instances discarded, want 1", s.Faults)
			}
			start := time.Now()
			exec(t, e, db, "INSERT INTO t (v) VALUES (2)")
			if d := time.Since(start); d > time.Second {
				t.Errorf("the next write waited %v", d)
			}
			if v := values(t, e, db); v != "2" {
				t.Errorf("table holds %s, want 2", v)
			}
		})
	}
}

// TestTxOutlivesItsCallback: a Tx kept past its callback does nothing.
func TestTxOutlivesItsCallback(t *testing.T) {
	t.Parallel()
	e, _, db := newDB(t, Config{})
	exec(t, e, db, "CREATE TABLE t (v)")
	ctx := context.Background()
	for _, unit := range []func(context.Context, string, func(forge.Tx) error) error{e.Read, e.Write} {
		var kept forge.Tx
		if err := unit(ctx, db, func(tx forge.Tx) error { kept = tx; return nil }); err != nil {
			t.Fatal(err)
		}
		if _, err := kept.Run(ctx, forge.Statement{SQL: "SELECT 1"}, nil); !errors.Is(err, forge.ErrTxDone) {
			t.Errorf("Run after the callback: %v, want ErrTxDone", err)
		}
		if _, err := kept.Describe(ctx, "SELECT 1"); !errors.Is(err, forge.ErrTxDone) {
			t.Errorf("Describe after the callback: %v, want ErrTxDone", err)
		}
	}
}

// TestUnitsOnUnknownDatabase: units name databases as Query does.
func TestUnitsOnUnknownDatabase(t *testing.T) {
	t.Parallel()
	e, _ := newTestEngine(t, Config{})
	ctx := context.Background()
	called := false
	fn := func(forge.Tx) error { called = true; return nil }
	for _, unit := range []func(context.Context, string, func(forge.Tx) error) error{e.Read, e.Write} {
		if err := unit(ctx, "nope", fn); !errors.Is(err, forge.ErrDatabaseNotFound) {
			t.Errorf("error %v, want ErrDatabaseNotFound", err)
		}
	}
	if called {
		t.Error("a callback ran without a database")
	}
}
