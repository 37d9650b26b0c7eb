package wasm

import (
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/praetorian/db-forge/forge"
)

const unicodeText = "héllo wörld — 日本語 🎉 Ω"

func TestLiteralTypes(t *testing.T) {
	t.Parallel()
	e, _, db := newDB(t, Config{})
	cases := []struct {
		name string
		sql  string
		want forge.Value
	}{
		{"integer above 2^53", "SELECT 9007199254740993", forge.IntValue(9007199254740993)},
		{"integer max", "SELECT 9223372036854775807", forge.IntValue(math.MaxInt64)},
		{"integer min", "SELECT -9223372036854775808", forge.IntValue(math.MinInt64)},
		{"integer zero", "SELECT 0", forge.IntValue(0)},
		{"real with zero fraction stays real", "SELECT 1100.0", forge.FloatValue(1100)},
		{"real", "SELECT 0.1", forge.FloatValue(0.1)},
		{"real negative exponent", "SELECT -2.5e-300", forge.FloatValue(-2.5e-300)},
		{"text unicode", "SELECT '" + unicodeText + "'", forge.TextValue(unicodeText)},
		{"text empty", "SELECT ''", forge.TextValue("")},
		{"null", "SELECT NULL", forge.NullValue()},
		{"blob with zero bytes", "SELECT x'00ff000001'", forge.BlobValue([]byte{0, 0xff, 0, 0, 1})},
		{"blob empty", "SELECT x''", forge.BlobValue([]byte{})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec, res := query(t, e, db, tc.sql, forge.Params{})
			if !res.ReturnsRows || res.RowsAffected != 1 {
				t.Errorf("result %+v: want ReturnsRows with 1 row", res)
			}
			checkRows(t, tc.sql, rec.rows, rows([]forge.Value{tc.want}))
		})
	}
}

// TestParamTypes binds each kind of value, reads it back with its SQLite
// type, and does the same through a table column.
func TestParamTypes(t *testing.T) {
	t.Parallel()
	e, _, db := newDB(t, Config{})
	exec(t, e, db, `CREATE TABLE v(id INTEGER PRIMARY KEY, x);
CREATE TABLE r(id INTEGER PRIMARY KEY, x REAL)`)
	cases := []struct {
		name     string
		in       forge.Value
		wantType string
		want     forge.Value // read back; in when zero
	}{
		{"integer above 2^53", forge.IntValue(9007199254740993), "integer", forge.Value{}},
		{"integer max", forge.IntValue(math.MaxInt64), "integer", forge.Value{}},
		{"integer min", forge.IntValue(math.MinInt64), "integer", forge.Value{}},
		{"integer negative", forge.IntValue(-42), "integer", forge.Value{}},
		{"float whole", forge.FloatValue(1100), "real", forge.Value{}},
		{"float fraction", forge.FloatValue(0.1), "real", forge.Value{}},
		{"float max", forge.FloatValue(math.MaxFloat64), "real", forge.Value{}},
		{"text unicode", forge.TextValue(unicodeText), "text", forge.Value{}},
		{"text with NUL", forge.TextValue("a\x00b"), "text", forge.Value{}},
		{"text empty", forge.TextValue(""), "text", forge.Value{}},
		{"blob with zero bytes", forge.BlobValue([]byte{0, 1, 0, 0xfe, 0}), "blob", forge.Value{}},
		{"blob empty", forge.BlobValue([]byte{}), "blob", forge.Value{}},
		{"blob nil", forge.BlobValue(nil), "blob", forge.BlobValue([]byte{})},
		{"null", forge.NullValue(), "null", forge.Value{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want := tc.want
			if want.Kind == forge.Null && tc.in.Kind != forge.Null {
				want = tc.in
			}
			if want.Kind == forge.Blob && want.Bytes == nil {
				want.Bytes = []byte{}
			}
			rec, _ := query(t, e, db, "SELECT ?1, typeof(?1)", pos(tc.in))
			checkRows(t, "bound", rec.rows, rows(append([]forge.Value{want}, forge.TextValue(tc.wantType))))

			ins, res := query(t, e, db, "INSERT INTO v(x) VALUES (?) RETURNING id", pos(tc.in))
			if len(ins.rows) != 1 || res.RowsAffected != 1 {
				t.Fatalf("insert returned %v, result %+v", ins.rows, res)
			}
			rec, _ = query(t, e, db, "SELECT x, typeof(x) FROM v WHERE id = ?", pos(ins.rows[0][0]))
			checkRows(t, "stored", rec.rows, rows(append([]forge.Value{want}, forge.TextValue(tc.wantType))))
		})
	}

	// A REAL column keeps whole numbers REAL, however they are bound.
	t.Run("real column", func(t *testing.T) {
		t.Parallel()
		for _, in := range []forge.Value{forge.FloatValue(1100), forge.IntValue(1100)} {
			ins, _ := query(t, e, db, "INSERT INTO r(x) VALUES (?) RETURNING id", pos(in))
			rec, _ := query(t, e, db, "SELECT x, typeof(x) FROM r WHERE id = ?", pos(ins.rows[0][0]))
			checkRows(t, "real column "+in.Kind.String(), rec.rows, rows(row(1100.0, "real")))
		}
	})
}

func TestNamedParams(t *testing.T) {
	t.Parallel()
	e, _, db := newDB(t, Config{})
	cases := []struct {
		name string
		sql  string
		p    forge.Params
		want []forge.Value
	}{
		{"colon", "SELECT :a", named("a", forge.IntValue(1)), row(1)},
		{"at", "SELECT @a", named("a", forge.TextValue("x")), row("x")},
		{"dollar", "SELECT $a", named("a", forge.FloatValue(2.5)), row(2.5)},
		{"mixed sigils", "SELECT :a, @b, $c", named("c", forge.NullValue(), "b", forge.IntValue(2), "a", forge.IntValue(1)), row(1, 2, nil)},
		{"repeated", "SELECT :a + :a", named("a", forge.IntValue(21)), row(42)},
		{"extra names ignored", "SELECT :a", named("a", forge.IntValue(1), "zzz", forge.IntValue(2)), row(1)},
		{"positional", "SELECT ?, ?", pos(forge.IntValue(1), forge.TextValue("two")), row(1, "two")},
		{"numbered", "SELECT ?2, ?1", pos(forge.IntValue(1), forge.IntValue(2)), row(2, 1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec, _ := query(t, e, db, tc.sql, tc.p)
			checkRows(t, tc.sql, rec.rows, rows(tc.want))
		})
	}
}

func TestBindErrors(t *testing.T) {
	t.Parallel()
	e, _, db := newDB(t, Config{})
	cases := []struct {
		name    string
		sql     string
		p       forge.Params
		wantMsg string
	}{
		{"missing named", "SELECT :x", named(), "You did not supply a value for binding parameter :x."},
		{"missing one of two", "SELECT :a, @x", named("a", forge.IntValue(1)), "You did not supply a value for binding parameter :x."},
		{"too few positional", "SELECT ?, ?", pos(forge.IntValue(1)), "Incorrect number of bindings supplied. The current statement uses 2, and there are 1 supplied."},
		{"too many positional", "SELECT 1", pos(forge.IntValue(1)), "Incorrect number of bindings supplied. The current statement uses 0, and there are 1 supplied."},
		{"none for positional", "SELECT ?", forge.Params{}, "Incorrect number of bindings supplied. The current statement uses 1, and there are 0 supplied."},
		{"object for positional", "SELECT ?", named("x", forge.IntValue(1)), "Binding 1 has no name, but you supplied a dictionary (which has only names)."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.Query(context.Background(), db, forge.Statement{SQL: tc.sql, Params: tc.p}, &recorder{})
			se := sqlError(t, err)
			if se.Message != tc.wantMsg {
				t.Errorf("message %q, want %q", se.Message, tc.wantMsg)
			}
		})
	}
	// The statements stay usable once given the right parameters.
	rec, _ := query(t, e, db, "SELECT ?, ?", pos(forge.IntValue(1), forge.IntValue(2)))
	checkRows(t, "after errors", rec.rows, rows(row(1, 2)))
}

func TestReturnsRows(t *testing.T) {
	t.Parallel()
	e, _, db := newDB(t, Config{})
	exec(t, e, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL)")

	// Steps run in order on one database: each depends on the last.
	steps := []struct {
		name         string
		sql          string
		wantRows     bool
		wantCols     []string
		want         [][]forge.Value
		wantAffected int64
	}{
		{"insert three", "INSERT INTO t(name) VALUES ('a'), ('b'), ('c')", false, nil, nil, 3},
		{"create table after insert", "CREATE TABLE u(x)", false, nil, nil, 0},
		{"cte", "WITH a AS (SELECT 1) SELECT * FROM a", true, []string{"1"}, rows(row(1)), 1},
		{"pragma table_info", "PRAGMA table_info(t)", true,
			[]string{"cid", "name", "type", "notnull", "dflt_value", "pk"},
			rows(row(0, "id", "INTEGER", 0, nil, 1), row(1, "name", "TEXT", 1, nil, 0)), 2},
		{"insert returning", "INSERT INTO t(name) VALUES ('d') RETURNING id, name", true,
			[]string{"id", "name"}, rows(row(4, "d")), 1},
		{"update", "UPDATE t SET name = name || '!' WHERE id <= 2", false, nil, nil, 2},
		{"update nothing", "UPDATE t SET name = 'x' WHERE id > 100", false, nil, nil, 0},
		{"drop after update", "DROP TABLE u", false, nil, nil, 0},
		{"select no rows", "SELECT id FROM t WHERE 0", true, []string{"id"}, nil, 0},
		{"update returning", "UPDATE t SET name = 'z' WHERE id = 3 RETURNING name", true, []string{"name"}, rows(row("z")), 1},
		{"delete", "DELETE FROM t WHERE id > 2", false, nil, nil, 2},
		{"select", "SELECT id, name FROM t ORDER BY id", true, []string{"id", "name"}, rows(row(1, "a!"), row(2, "b!")), 2},
		{"empty", "  -- nothing here", false, nil, nil, 0},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			rec, res := query(t, e, db, s.sql, forge.Params{})
			if res.ReturnsRows != s.wantRows {
				t.Errorf("ReturnsRows %v, want %v", res.ReturnsRows, s.wantRows)
			}
			wantCalls := 0
			if s.wantRows {
				wantCalls = 1
			}
			if rec.columnsCalls != wantCalls {
				t.Errorf("Columns called %d times, want %d", rec.columnsCalls, wantCalls)
			}
			if res.RowsAffected != s.wantAffected {
				t.Errorf("RowsAffected %d, want %d", res.RowsAffected, s.wantAffected)
			}
			checkCols(t, s.sql, rec.cols, s.wantCols)
			checkRows(t, s.sql, rec.rows, s.want)
		})
	}
	t.Run("insert", func(t *testing.T) {
		_, res := query(t, e, db, "INSERT INTO t(name) VALUES (?)", pos(forge.TextValue("e")))
		if res.ReturnsRows || res.RowsAffected != 1 {
			t.Errorf("result %+v, want 1 row affected", res)
		}
	})
}

// errWriter fails at a given point.
type errWriter struct {
	failColumns bool
	rows        int
}

var errStop = errors.New("writer stops")

func (w *errWriter) Columns([]string) error {
	if w.failColumns {
		return errStop
	}
	return nil
}

func (w *errWriter) Row(forge.Row) error {
	w.rows++
	if w.rows == 2 {
		return errStop
	}
	return nil
}

func TestWriterErrorStopsStatement(t *testing.T) {
	t.Parallel()
	e, _, db := newDB(t, Config{})
	exec(t, e, db, "CREATE TABLE t(x)")
	cases := []struct {
		name      string
		sql       string
		w         *errWriter
		wantCount []int64 // rows in t afterwards: one of these
	}{
		{"columns", "SELECT 1", &errWriter{failColumns: true}, []int64{0}},
		{"second row", "SELECT value FROM generate_series(1, 10)", &errWriter{}, []int64{0}},
		// SQLite makes every change of INSERT ... RETURNING at its first
		// step and would keep them when the statement is reset early; the
		// engine runs it in a savepoint, so a writer error undoes it all.
		{"returning", "INSERT INTO t(x) VALUES (1), (2), (3) RETURNING x", &errWriter{}, []int64{0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Query(context.Background(), db, forge.Statement{SQL: tc.sql}, tc.w)
			if !errors.Is(err, errStop) || err != errStop {
				t.Fatalf("error %v, want the writer's own error unchanged", err)
			}
			if !tc.w.failColumns && tc.w.rows != 2 {
				t.Errorf("writer saw %d rows after failing at the second", tc.w.rows)
			}
			if n := queryInt(t, e, db, "SELECT count(*) FROM t"); !slices.Contains(tc.wantCount, n) {
				t.Errorf("t holds %d rows, want one of %v", n, tc.wantCount)
			}
			exec(t, e, db, "DELETE FROM t")
		})
	}
}

func TestOneStatementAtATime(t *testing.T) {
	t.Parallel()
	e, _, db := newDB(t, Config{})
	exec(t, e, db, "CREATE TABLE t(x)")
	const refused = "You can only execute one statement at a time."
	cases := []struct {
		name string
		sql  string
		ok   bool
	}{
		{"two selects", "SELECT 1; SELECT 2", false},
		{"no space", "SELECT 1;SELECT 2", false},
		{"empty statement between", "SELECT 1; ; SELECT 2", false},
		{"second after comment", "SELECT 1; /* c */ SELECT 2", false},
		{"write after read", "SELECT 1; INSERT INTO t VALUES (1)", false},
		{"garbage after", "SELECT 1; nonsense", false},
		{"trailing line comment", "SELECT 1; -- comment", true},
		{"trailing block comment", "SELECT 1; /* comment */", true},
		{"trailing semicolon", "SELECT 1;", true},
		{"trailing whitespace", "SELECT 1;  \n\t", true},
		{"double semicolon", "SELECT 1;;", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			_, err := e.Query(context.Background(), db, forge.Statement{SQL: tc.sql}, rec)
			if tc.ok {
				if err != nil {
					t.Fatalf("%q: %v", tc.sql, err)
				}
				checkRows(t, tc.sql, rec.rows, rows(row(1)))
				return
			}
			if se := sqlError(t, err); se.Message != refused {
				t.Errorf("%q: message %q, want %q", tc.sql, se.Message, refused)
			}
			if rec.columnsCalls != 0 {
				t.Errorf("%q: a refused statement ran", tc.sql)
			}
		})
	}
	if n := queryInt(t, e, db, "SELECT count(*) FROM t"); n != 0 {
		t.Errorf("t holds %d rows: part of a refused statement ran", n)
	}
}

func TestSQLErrors(t *testing.T) {
	t.Parallel()
	e, _, db := newDB(t, Config{})
	exec(t, e, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, u TEXT UNIQUE, n TEXT NOT NULL);\nINSERT INTO t VALUES (1, 'a', 'x')")
	cases := []struct {
		name     string
		sql      string
		wantMsg  string
		wantCode string
	}{
		{"no such table", "SELECT * FROM nope", "no such table: nope", "SQLITE_ERROR"},
		{"syntax", "SELEC 1", `near "SELEC": syntax error`, "SQLITE_ERROR"},
		{"unique", "INSERT INTO t VALUES (2, 'a', 'y')", "UNIQUE constraint failed: t.u", "SQLITE_CONSTRAINT_UNIQUE"},
		{"primary key", "INSERT INTO t VALUES (1, 'b', 'y')", "UNIQUE constraint failed: t.id", "SQLITE_CONSTRAINT_PRIMARYKEY"},
		{"not null", "INSERT INTO t VALUES (3, 'c', NULL)", "NOT NULL constraint failed: t.n", "SQLITE_CONSTRAINT_NOTNULL"},
		{"no transaction", "COMMIT", "cannot commit - no transaction is active", "SQLITE_ERROR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Query(context.Background(), db, forge.Statement{SQL: tc.sql}, nil)
			se := sqlError(t, err)
			if se.Message != tc.wantMsg || se.Code != tc.wantCode {
				t.Errorf("got %q %s, want %q %s", se.Message, se.Code, tc.wantMsg, tc.wantCode)
			}
		})
	}
}

// TestSchemaChangeUnderCachedStatement: SELECT * prepared before an ALTER
// TABLE reports the table's new columns, on the writer and on a reader.
func TestSchemaChangeUnderCachedStatement(t *testing.T) {
	t.Parallel()
	for _, onReader := range []bool{false, true} {
		name := "writer"
		if onReader {
			name = "reader"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e, _, db := newDB(t, Config{MaxReaders: 1})
			exec(t, e, db, "CREATE TABLE t(a);\nINSERT INTO t(a) VALUES (1)")
			// selectAll runs SELECT * FROM t; onReader, while the writer is
			// held so that the (one) reader serves it.
			selectAll := func() *recorder {
				t.Helper()
				if onReader {
					defer holdWriter(t, e, db)()
				}
				rec, _ := query(t, e, db, "SELECT * FROM t", forge.Params{})
				return rec
			}
			first := selectAll()
			checkCols(t, "before", first.cols, []string{"a"})
			exec(t, e, db, "ALTER TABLE t ADD COLUMN c2 DEFAULT 'd'")
			second := selectAll()
			checkCols(t, "after ADD COLUMN", second.cols, []string{"a", "c2"})
			checkRows(t, "after ADD COLUMN", second.rows, rows(row(1, "d")))
			exec(t, e, db, "ALTER TABLE t RENAME COLUMN a TO b")
			third := selectAll()
			checkCols(t, "after RENAME COLUMN", third.cols, []string{"b", "c2"})
			exec(t, e, db, "ALTER TABLE t DROP COLUMN c2")
			fourth := selectAll()
			checkCols(t, "after DROP COLUMN", fourth.cols, []string{"b"})
			checkRows(t, "after DROP COLUMN", fourth.rows, rows(row(1)))
			// Names handed to an earlier writer are not rewritten later.
			checkCols(t, "first result, kept", first.cols, []string{"a"})
			checkCols(t, "second result, kept", second.cols, []string{"a", "c2"})
			checkCols(t, "third result, kept", third.cols, []string{"b", "c2"})
		})
	}
}

// holdWriter runs a write on db that stops at its first row, holding the
// writer (and the write lock) until the returned func is called. It writes
// to its own table, hold_writer.
func holdWriter(t *testing.T, e *Engine, db string) (release func()) {
	t.Helper()
	query(t, e, db, "CREATE TABLE IF NOT EXISTS hold_writer(x)", forge.Params{})
	g := newGateWriter()
	done := make(chan error, 1)
	go func() {
		_, err := e.Query(context.Background(), db, forge.Statement{SQL: "INSERT INTO hold_writer VALUES (1) RETURNING x"}, g)
		done <- err
	}()
	waitFor(t, g.started, 10*time.Second, "the blocking statement")
	return func() {
		t.Helper()
		close(g.release)
		if err := waitFor(t, done, 10*time.Second, "the blocking statement to end"); err != nil {
			t.Error(err)
		}
	}
}

// TestOpenTransactionRolledBack: a request that leaves a transaction open
// does not keep the database locked, whichever connection served it.
func TestOpenTransactionRolledBack(t *testing.T) {
	t.Parallel()
	cases := []struct {
		begin    string
		onReader bool
	}{
		{"BEGIN", false},
		{"BEGIN", true},
		{"BEGIN DEFERRED", true},
		{"SAVEPOINT sp", false},
		{"SAVEPOINT sp", true},
		// These take the write lock: SQLite reports them as writes, so
		// they always run on the writer.
		{"BEGIN IMMEDIATE", false},
		{"BEGIN EXCLUSIVE", false},
	}
	for _, tc := range cases {
		begin, onReader := tc.begin, tc.onReader
		name := begin + " on writer"
		if onReader {
			name = begin + " on reader"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// A short busy timeout makes a lock left behind fail fast.
			e, _, db := newDB(t, Config{BusyTimeout: 300 * time.Millisecond})
			exec(t, e, db, "CREATE TABLE t(x)")
			release := func() {}
			if onReader {
				release = holdWriter(t, e, db)
			}
			query(t, e, db, begin, forge.Params{})
			// The next requests find no transaction of that one: a
			// write is not blocked by its lock, and a ROLLBACK (run on
			// the same idle connection) finds nothing to roll back.
			release()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := e.Query(ctx, db, forge.Statement{SQL: "INSERT INTO t(x) VALUES (1)"}, nil); err != nil {
				t.Fatalf("insert after an open %s: %v", begin, err)
			}
			if _, err := routes(e).InsertRows(ctx, db, "t", []forge.Record{{{Column: "x", Value: forge.IntValue(2)}}}); err != nil {
				t.Fatalf("InsertRows after an open %s: %v", begin, err)
			}
			// The inserts were committed on their own: nothing is left
			// to roll them back.
			if _, err := e.Query(ctx, db, forge.Statement{SQL: "ROLLBACK"}, nil); err == nil {
				t.Error("ROLLBACK succeeded: a transaction was still open")
			}
			if n := queryInt(t, e, db, "SELECT count(*) FROM t"); n != 2 {
				t.Errorf("t holds %d rows, want 2", n)
			}
		})
	}
	t.Run("a later request is not inside an earlier BEGIN", func(t *testing.T) {
		t.Parallel()
		e, _, db := newDB(t, Config{BusyTimeout: 300 * time.Millisecond})
		exec(t, e, db, "CREATE TABLE t(x)")
		query(t, e, db, "BEGIN", forge.Params{})
		query(t, e, db, "INSERT INTO t(x) VALUES (1)", forge.Params{})
		if _, err := e.Query(context.Background(), db, forge.Statement{SQL: "COMMIT"}, nil); err == nil {
			t.Error("COMMIT succeeded: the BEGIN of an earlier request was still open")
		}
		if n := queryInt(t, e, db, "SELECT count(*) FROM t"); n != 1 {
			t.Errorf("t holds %d rows, want the autocommitted 1", n)
		}
	})
}

const runaway = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c"

func TestTimeout(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		timeout time.Duration // engine QueryTimeout
		ctx     func() (context.Context, context.CancelFunc)
		sql     string
		want    error
	}{
		// The engine's timeout bounds the test's own statements too; on a
		// busy CI machine a file sync can take a good part of 200 ms.
		{"engine timeout, read", time.Second, nil, runaway, forge.ErrTimeout},
		{"engine timeout, write", time.Second, nil,
			"INSERT INTO t(x) SELECT x FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT x FROM c)", forge.ErrTimeout},
		{"request deadline shorter than engine's", time.Minute, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 200*time.Millisecond)
		}, runaway, forge.ErrTimeout},
		{"request canceled", time.Minute, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(200*time.Millisecond, cancel)
			return ctx, cancel
		}, runaway, forge.ErrCanceled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, _, db := newDB(t, Config{QueryTimeout: tc.timeout})
			exec(t, e, db, "CREATE TABLE t(x)")
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tc.ctx != nil {
				ctx, cancel = tc.ctx()
			}
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := e.Query(ctx, db, forge.Statement{SQL: tc.sql}, &recorder{})
				done <- err
			}()
			err := waitFor(t, done, 30*time.Second, "the runaway statement to be interrupted")
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			// The database still answers, and the write left nothing.
			if n := queryInt(t, e, db, "SELECT 1"); n != 1 {
				t.Errorf("SELECT 1 = %d", n)
			}
			if n := queryInt(t, e, db, "SELECT count(*) FROM t"); n != 0 {
				t.Errorf("t holds %d rows after an interrupted insert", n)
			}
			query(t, e, db, "INSERT INTO t(x) VALUES (1)", forge.Params{})
		})
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	e, layout, db := newDB(t, Config{})
	createDB(t, layout, "other")
	exec(t, e, db, "CREATE TABLE t(x)")
	query(t, e, "other", "SELECT 1", forge.Params{})

	// Close waits for a running statement, which completes normally.
	g := newGateWriter()
	running := make(chan error, 1)
	go func() {
		_, err := e.Query(context.Background(), db, forge.Statement{SQL: "SELECT 1"}, g)
		running <- err
	}()
	waitFor(t, g.started, 10*time.Second, "the running statement")
	closed := make(chan error, 1)
	go func() { closed <- e.Close(context.Background()) }()
	notYet(t, closed, 200*time.Millisecond, "Close returning while a statement runs")
	close(g.release)
	if err := waitFor(t, running, 10*time.Second, "the running statement"); err != nil {
		t.Errorf("running statement: %v", err)
	}
	if err := waitFor(t, closed, 10*time.Second, "Close"); err != nil {
		t.Errorf("Close: %v", err)
	}

	ctx := context.Background()
	calls := []struct {
		name string
		call func() error
	}{
		{"Query", func() error { _, err := e.Query(ctx, db, forge.Statement{SQL: "SELECT 1"}, nil); return err }},
		{"Query other", func() error { _, err := e.Query(ctx, "other", forge.Statement{SQL: "SELECT 1"}, nil); return err }},
		{"SelectRows", func() error { _, err := routes(e).SelectRows(ctx, db, "t", nil, nil); return err }},
		{"InsertRows", func() error { _, err := routes(e).InsertRows(ctx, db, "t", []forge.Record{{}}); return err }},
		{"CreateTable", func() error {
			return routes(e).CreateTable(ctx, db, forge.TableSpec{Name: "u", Columns: []forge.ColumnSpec{{Name: "x"}}})
		}},
		{"Exclusive", func() error { return e.Exclusive(ctx, db, func() error { return nil }) }},
		{"Check", func() error { return e.Check(ctx) }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); !errors.Is(err, forge.ErrClosed) {
				t.Errorf("error %v, want %v", err, forge.ErrClosed)
			}
		})
	}
	if s := e.Stats(); s.Open != 0 {
		t.Errorf("%d databases open after Close", s.Open)
	}
	if err := e.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestUnknownDatabase(t *testing.T) {
	t.Parallel()
	e, layout := newTestEngine(t, Config{})
	ctx := context.Background()
	cases := []struct {
		name string
		db   string
		want error
		call func(db string) error
	}{
		{"Query", "nope", forge.ErrDatabaseNotFound, func(db string) error {
			_, err := e.Query(ctx, db, forge.Statement{SQL: "SELECT 1"}, nil)
			return err
		}},
		{"SelectRows", "nope", forge.ErrDatabaseNotFound, func(db string) error {
			_, err := routes(e).SelectRows(ctx, db, "t", nil, nil)
			return err
		}},
		{"InsertRows", "nope", forge.ErrDatabaseNotFound, func(db string) error {
			_, err := routes(e).InsertRows(ctx, db, "t", nil)
			return err
		}},
		{"CreateTable", "nope", forge.ErrDatabaseNotFound, func(db string) error {
			return routes(e).CreateTable(ctx, db, forge.TableSpec{Name: "t", Columns: []forge.ColumnSpec{{Name: "x"}}})
		}},
		{"invalid name", "../etc", forge.ErrInvalidName, func(db string) error {
			_, err := e.Query(ctx, db, forge.Statement{SQL: "SELECT 1"}, nil)
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(tc.db); !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
	if s := e.Stats(); s.Open != 0 || s.Opened != 0 {
		t.Errorf("stats %+v after failed opens: want nothing open", s)
	}
	// The engine created no file, and a database created later opens.
	if ok, _ := layout.Exists("nope"); ok {
		t.Fatal("the engine created database nope")
	}
	createDB(t, layout, "nope")
	if n := queryInt(t, e, "nope", "SELECT 1"); n != 1 {
		t.Errorf("SELECT 1 = %d", n)
	}
}

// TestWALMode: the writer switches the file to WAL so readers run beside it.
func TestWALMode(t *testing.T) {
	t.Parallel()
	e, layout, db := newDB(t, Config{})
	// journal_mode is the gateway's: clients may not even read it (see
	// sandbox.go), so look at the file with a connection of our own.
	query(t, e, db, "SELECT 1", forge.Params{})
	path, err := layout.Resolve(db)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sqlite3.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	mode, _, err := raw.Prepare("PRAGMA journal_mode")
	if err != nil {
		t.Fatal(err)
	}
	if !mode.Step() || mode.ColumnText(0) != "wal" {
		t.Errorf("journal_mode %q, want wal (%v)", mode.ColumnText(0), mode.Err())
	}
	_ = mode.Close()
	_ = raw.Close()

	// A reader reads while the writer holds an open write transaction.
	exec(t, e, db, "CREATE TABLE t(x);\nINSERT INTO t VALUES (1)")
	g := newGateWriter()
	done := make(chan error, 1)
	go func() {
		_, err := e.Query(context.Background(), db, forge.Statement{SQL: "INSERT INTO t VALUES (2) RETURNING x"}, g)
		done <- err
	}()
	waitFor(t, g.started, 10*time.Second, "the insert")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := &recorder{}
	if _, err := e.Query(ctx, db, forge.Statement{SQL: "SELECT count(*) FROM t"}, r); err != nil {
		t.Fatalf("read beside a writer: %v", err)
	}
	checkRows(t, "read beside a writer", r.rows, rows(row(1)))
	close(g.release)
	if err := waitFor(t, done, 10*time.Second, "the insert"); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, e, db, "SELECT count(*) FROM t"); n != 2 {
		t.Errorf("count %d after the insert, want 2", n)
	}
}

// TestStaleReaderSchema: a reader whose copy of the schema predates DDL run
// on the writer still serves requests correctly. SQLite checks the schema
// when a statement runs, but some statements fail to prepare against an old
// copy (CREATE of a name dropped since, ALTER TABLE on a column added since);
// every statement is prepared first on an idle reader when there is one.
func TestStaleReaderSchema(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		setup string
		ddl   []string // each its own request, after the reader last looked
		check string   // a query that must then succeed
		cols  []string // its columns
	}{
		{"recreate a dropped table", "CREATE TABLE t(x)",
			[]string{"DROP TABLE t", "CREATE TABLE t(y)"}, "SELECT * FROM t", []string{"y"}},
		{"drop an added column", "CREATE TABLE t(x)",
			[]string{"ALTER TABLE t ADD COLUMN z", "ALTER TABLE t DROP COLUMN z"}, "SELECT * FROM t", []string{"x"}},
		{"rename an added column", "CREATE TABLE t(x)",
			[]string{"ALTER TABLE t ADD COLUMN z", "ALTER TABLE t RENAME COLUMN z TO w"}, "SELECT * FROM t", []string{"x", "w"}},
		{"index an added column", "CREATE TABLE t(x)",
			[]string{"ALTER TABLE t ADD COLUMN z", "CREATE INDEX t_z ON t(z)"}, "SELECT z FROM t INDEXED BY t_z", []string{"z"}},
		{"recreate a dropped view", "CREATE TABLE t(x);\nCREATE VIEW v AS SELECT 1 AS one",
			[]string{"DROP VIEW v", "CREATE VIEW v AS SELECT 2 AS two"}, "SELECT * FROM v", []string{"two"}},
		{"rename a table", "CREATE TABLE t(x)",
			[]string{"ALTER TABLE t RENAME TO u", "CREATE TABLE t(q)"}, "SELECT * FROM t, u", []string{"q", "x"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, _, db := newDB(t, Config{MaxReaders: 1})
			exec(t, e, db, tc.setup)
			// The reader reads the schema while the writer is busy.
			release := holdWriter(t, e, db)
			query(t, e, db, "SELECT count(*) FROM sqlite_schema", forge.Params{})
			release()
			for _, sql := range tc.ddl {
				query(t, e, db, sql, forge.Params{})
			}
			rec, _ := query(t, e, db, tc.check, forge.Params{})
			checkCols(t, tc.check, rec.cols, tc.cols)
		})
	}
}

// TestRowKinds: a row read in one call tells TEXT from BLOB by the view
// go-sqlite3 gives of each (stmtRow.load), empty ones and values that
// look alike included, for the kinds a table stores and for expressions.
func TestRowKinds(t *testing.T) {
	e, _, db := newDB(t, Config{})
	exec(t, e, db, `CREATE TABLE k (v);
INSERT INTO k VALUES (''), (x''), ('a'), (x'61'), (x'00'), (zeroblob(3)), (NULL), (7), (300), (-2.5), ('ünï'), (CAST('b' AS BLOB))`)
	rec, _ := query(t, e, db, "SELECT v, typeof(v) FROM k ORDER BY rowid", forge.Params{})
	want := []forge.Kind{forge.Text, forge.Blob, forge.Text, forge.Blob, forge.Blob, forge.Blob, forge.Null, forge.Integer, forge.Integer, forge.Float, forge.Text, forge.Blob}
	if len(rec.rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rec.rows), len(want))
	}
	names := map[forge.Kind]string{forge.Text: "text", forge.Blob: "blob", forge.Null: "null", forge.Integer: "integer", forge.Float: "real"}
	for i, r := range rec.rows {
		if r[0].Kind != want[i] || names[r[0].Kind] != r[1].Str {
			t.Errorf("row %d: kind %v (SQLite: %s), want %v", i, r[0].Kind, r[1].Str, want[i])
		}
	}
	checkRows(t, "values", [][]forge.Value{rec.rows[2][:1], rec.rows[3][:1], rec.rows[10][:1]}, rows(row("a"), row([]byte("a")), row("ünï")))
	// Expressions, which SQLite hands over as its own values, not a page's.
	rec, _ = query(t, e, db, "SELECT 'x' || 'y', x'0102', '', x'', 1.0, NULL, upper('q'), randomblob(2)", forge.Params{})
	got := make([]forge.Kind, len(rec.rows[0]))
	for i, v := range rec.rows[0] {
		got[i] = v.Kind
	}
	if w := []forge.Kind{forge.Text, forge.Blob, forge.Text, forge.Blob, forge.Float, forge.Null, forge.Text, forge.Blob}; !reflect.DeepEqual(got, w) {
		t.Errorf("expressions: kinds %v, want %v", got, w)
	}
}
