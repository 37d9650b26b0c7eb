package wasm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// state is everything a statement could change in a test database: the
// schema, the rows of t, and the two header fields a client may set.
const stateSQL = `SELECT
 (SELECT group_concat(type || ':' || name || ':' || coalesce(sql, ''), '|') FROM (SELECT * FROM sqlite_schema ORDER BY name)),
 (SELECT group_concat(id || '=' || quote(v), ',') FROM (SELECT * FROM t ORDER BY id)),
 (SELECT user_version FROM pragma_user_version),
 (SELECT application_id FROM pragma_application_id)`

func dbState(tb testing.TB, e *Engine, db string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rec := &recorder{}
	if _, err := e.Query(ctx, db, forge.Statement{SQL: stateSQL}, rec); err != nil {
		tb.Fatalf("state of %s: %v", db, err)
	}
	return fmt.Sprint(rec.rows)
}

// TestReadOnlyStatement: a request marked ReadOnly runs only statements
// SQLite reports read-only once prepared, however the text is dressed up,
// on a reader and on the writer, and also when the statement is already in
// the connection's cache from a request that could write.
func TestReadOnlyStatement(t *testing.T) {
	t.Parallel()
	e, _, db := newDB(t, Config{})
	// hold_writer is holdWriter's table, made here so that it is part of
	// the state compared before and after.
	exec(t, e, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v);\nINSERT INTO t(v) VALUES ('a'), ('b');\nCREATE INDEX t_by_v ON t(v);\nCREATE TABLE hold_writer(x)")
	cases := []struct {
		sql   string
		write bool // refused with ErrReadOnly
	}{
		{"INSERT INTO t(v) VALUES ('x')", true},
		{"   \n\tinsert into t(v) values ('x')", true},
		{"/* just a read */ INSERT INTO t(v) VALUES ('x')", true},
		{"WITH x(v) AS (SELECT 'x') INSERT INTO t(v) SELECT v FROM x", true},
		{"with recursive x(v) as (select 1) insert into t(v) select v from x", true},
		{"REPLACE INTO t(id, v) VALUES (1, 'x')", true},
		{"INSERT OR REPLACE INTO t(id, v) VALUES (1, 'x')", true},
		{"INSERT INTO t(id, v) VALUES (1, 'x') ON CONFLICT(id) DO UPDATE SET v = 'y'", true},
		{"INSERT INTO t(v) VALUES ('x') RETURNING id", true},
		{"UPDATE t SET v = 'x'", true},
		{"UPDATE t SET v = 'x' WHERE 0", true}, // a no-op, but it could write
		{"DELETE FROM t", true},
		{"CREATE TABLE u(a)", true},
		{"CREATE TABLE IF NOT EXISTS t(a)", true}, // a no-op here, still not read-only
		{"CREATE INDEX t_v ON t(v)", true},
		{"CREATE VIEW w AS SELECT 1", true},
		{"CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END", true},
		{"CREATE VIRTUAL TABLE f USING fts5(a)", true},
		{"DROP TABLE t", true},
		{"ALTER TABLE t ADD COLUMN w", true},
		{"ALTER TABLE t RENAME TO u", true},
		{"PRAGMA user_version = 5", true},
		{"pragma application_id=7", true},
		{"ANALYZE", true},
		{"REINDEX", true}, // t_by_v is rebuilt (with no index at all, REINDEX is read-only)
		{"BEGIN IMMEDIATE", true},
		{"EXPLAIN INSERT INTO t(v) VALUES ('x')", true}, // SQLite answers as for the INSERT
		{"SELECT * FROM t", false},
		{"  select v from t where id = 1", false},
		{"WITH x AS (SELECT * FROM t) SELECT count(*) FROM x", false},
		{"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 5) SELECT sum(x) FROM c", false},
		{"VALUES (1), (2)", false},
		{"PRAGMA table_info(t)", false},
		{"PRAGMA user_version", false},
		{"SELECT * FROM pragma_table_info('t')", false},
		{"EXPLAIN QUERY PLAN SELECT * FROM t", false},
		{"BEGIN", false}, // rolled back when the request ends
		{"SAVEPOINT s", false},
		{"-- nothing but a comment", false},
	}
	before := dbState(t, e, db)
	for _, writer := range []bool{false, true} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("writer=%v/%s", writer, tc.sql), func(t *testing.T) {
				release := func() {}
				if !writer {
					// The writer is busy: the statement runs on a reader.
					release = holdWriter(t, e, db)
				}
				defer release()
				_, err := e.Query(context.Background(), db, forge.Statement{SQL: tc.sql, ReadOnly: true}, &recorder{})
				if tc.write {
					if !errors.Is(err, forge.ErrReadOnly) {
						t.Fatalf("err %v, want ErrReadOnly", err)
					}
				} else if err != nil {
					t.Fatalf("err %v, want none", err)
				}
			})
		}
	}
	if after := dbState(t, e, db); after != before {
		t.Fatalf("a read-only request changed the database:\nbefore %s\nafter  %s", before, after)
	}

	// The same text, cached by a request that could write, is still refused.
	query(t, e, db, "INSERT INTO t(v) VALUES ('cached')", forge.Params{})
	n := queryInt(t, e, db, "SELECT count(*) FROM t")
	if _, err := e.Query(context.Background(), db, forge.Statement{SQL: "INSERT INTO t(v) VALUES ('cached')", ReadOnly: true}, nil); !errors.Is(err, forge.ErrReadOnly) {
		t.Fatalf("cached INSERT with ReadOnly: %v", err)
	}
	if got := queryInt(t, e, db, "SELECT count(*) FROM t"); got != n {
		t.Fatalf("rows %d, want %d", got, n)
	}
}

// FuzzReadOnlySQL: whatever the SQL, a request marked ReadOnly leaves the
// database as it found it, and fails, if it fails, with an error of the
// engine's vocabulary.
func FuzzReadOnlySQL(f *testing.F) {
	for _, s := range []string{
		"SELECT * FROM t",
		"INSERT INTO t(v) VALUES (1)",
		"WITH x AS (SELECT 1) INSERT INTO t(v) SELECT * FROM x",
		"  insert into t(v) values (2) returning *",
		"REPLACE INTO t(id, v) VALUES (1, 2)",
		"UPDATE t SET v = v + 1",
		"DELETE FROM t",
		"CREATE TABLE x(a)",
		"DROP TABLE t",
		"PRAGMA user_version = 9",
		"PRAGMA application_id = 9",
		"SELECT * FROM pragma_user_version",
		"BEGIN",
		"BEGIN IMMEDIATE",
		"SAVEPOINT a",
		"ANALYZE",
		"CREATE VIRTUAL TABLE f USING fts5(a)",
		"EXPLAIN DELETE FROM t",
		"VALUES (1)",
	} {
		f.Add(s)
	}
	e, _, db := newDB(f, Config{QueryTimeout: 100 * time.Millisecond, HeapLimit: 16 << 20, MaxDBBytes: 4 << 20})
	exec(f, e, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v);\nINSERT INTO t(v) VALUES ('a'), (2)")
	before := dbState(f, e, db)
	f.Fuzz(func(t *testing.T, sql string) {
		_, err := e.Query(context.Background(), db, forge.Statement{SQL: sql, ReadOnly: true}, &recorder{})
		var se *forge.SQLError
		var ie *forge.InputError
		switch {
		case err == nil, errors.Is(err, forge.ErrReadOnly), errors.As(err, &se), errors.As(err, &ie),
			errors.Is(err, forge.ErrNotAuthorized), errors.Is(err, forge.ErrTimeout), errors.Is(err, forge.ErrBusy),
			errors.Is(err, forge.ErrOutOfMemory), errors.Is(err, forge.ErrEngineFault):
		default:
			t.Fatalf("%q: error outside the engine's vocabulary: %v", sql, err)
		}
		if after := dbState(t, e, db); after != before {
			t.Fatalf("%q with ReadOnly changed the database:\nbefore %s\nafter  %s", sql, before, after)
		}
	})
}

// The statements of TestReadOnlyStatement must not depend on the case of
// their keywords: SQLite's answer does not, and neither may ours.
func TestReadOnlyIgnoresCase(t *testing.T) {
	t.Parallel()
	e, _, db := newDB(t, Config{})
	exec(t, e, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v)")
	for _, sql := range []string{"INSERT INTO t(v) VALUES (1)", "DELETE FROM t", "PRAGMA USER_VERSION = 1"} {
		for _, s := range []string{sql, strings.ToLower(sql), strings.ToUpper(sql), "\n " + strings.ToLower(sql) + " ;"} {
			if _, err := e.Query(context.Background(), db, forge.Statement{SQL: s, ReadOnly: true}, nil); !errors.Is(err, forge.ErrReadOnly) {
				t.Errorf("%q: %v, want ErrReadOnly", s, err)
			}
		}
	}
}
