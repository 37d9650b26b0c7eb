package wasm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/praetorian/db-forge/forge"
)

// TestInstanceAccess: the engine reaches each instance's wazero module
// through ncruces' layout (instance.go). A library upgrade that moves it
// must fail here, not silently turn memory recycling off.
func TestInstanceAccess(t *testing.T) {
	t.Parallel()
	if !instanceAccess.ok {
		t.Fatal("the layout of sqlite3.Conn changed: instance access is unavailable")
	}
	e, _, db := newDB(t, Config{})
	var before, after int64
	err := e.with(context.Background(), db, true, func(c *conn) error {
		before = memorySize(c.db)
		if err := c.db.Exec("SELECT length(randomblob(3000000))"); err != nil {
			return err
		}
		after = memorySize(c.db)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if before < 64<<10 || before%(64<<10) != 0 || after < 3000000 {
		t.Errorf("memory %d bytes before and %d after a 3 MB blob", before, after)
	}
}

// TestFaults: statements that trap their wasm instance or run SQLite out of
// memory get their own error; the instance is replaced, the next request on
// the database works, and another database never notices.
func TestFaults(t *testing.T) {
	t.Parallel()
	chain := func(n int, sql string) string {
		parts := make([]string, 0, n)
		for i := 1; i <= n; i++ {
			parts = append(parts, fmt.Sprintf(sql, i, i-1))
		}
		return strings.Join(parts, ";\n")
	}
	cases := []struct {
		name  string
		cfg   Config
		setup string
		sql   string
		write bool // the statement runs on the writer
		want  error
	}{
		{
			// The deep-expression crash, with EXPR_DEPTH raised to SQLite's
			// own default to let it through the limit.
			name: "expression 400 deep", cfg: Config{Limits: Limits{ExprDepth: 1000}},
			sql: "SELECT 1" + strings.Repeat("+1", 400), want: forge.ErrEngineFault,
		},
		{
			name: "nested CASE 700 deep", cfg: Config{Limits: Limits{ExprDepth: 1000}},
			sql: "SELECT " + nested("CASE WHEN 1 THEN ", "1", " END", 700), want: forge.ErrEngineFault,
		},
		{
			name: "expression 400 deep in a write", cfg: Config{Limits: Limits{ExprDepth: 1000}},
			sql: "INSERT INTO t(v) SELECT 1" + strings.Repeat("+1", 400), write: true, want: forge.ErrEngineFault,
		},
		{
			// No SQLite limit bounds nested views: a contained fault. (A
			// fresh connection expands the chain again at its first use;
			// healthy() does not touch it.)
			name:  "views nested 300 deep",
			setup: "CREATE VIEW v0 AS SELECT 1 AS x;\n" + chain(300, "CREATE VIEW v%d AS SELECT x FROM v%d"),
			sql:   "SELECT * FROM v300", want: forge.ErrEngineFault,
		},
		{
			name: "out of memory", cfg: Config{HeapLimit: 8 << 20},
			sql: "SELECT randomblob(3000000), randomblob(3000000), randomblob(3000000)", want: forge.ErrOutOfMemory,
		},
		{
			name: "out of memory sorting", cfg: Config{HeapLimit: 8 << 20},
			sql: "SELECT count(*) FROM (SELECT value FROM generate_series(1, 1000000) ORDER BY random())", want: forge.ErrOutOfMemory,
		},
		{
			name: "out of memory in a write", cfg: Config{HeapLimit: 8 << 20},
			sql: "INSERT INTO t(v) SELECT value FROM generate_series(1, 1000000) ORDER BY random()", write: true, want: forge.ErrOutOfMemory,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := tc.cfg
			cfg.BusyTimeout = 2 * time.Second
			f := newSandboxFixture(t, cfg)
			if tc.setup != "" {
				exec(t, f.e, "db", tc.setup)
			}
			_, err := f.e.Query(context.Background(), "db", forge.Statement{SQL: tc.sql}, &recorder{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if s := f.e.Stats(); s.Faults != 1 {
				t.Errorf("%d instances discarded, want 1", s.Faults)
			}
			// The replacement instance takes writes (no lock was left
			// behind) and reads; nothing of the failed write stayed.
			f.healthy(t)
			if n := queryInt(t, f.e, "db", "SELECT count(*) FROM t"); n != 1 {
				t.Errorf("t holds %d rows, want only the one healthy() wrote", n)
			}
		})
	}
}

// TestFaultWhileHoldingTheWriteLock: an instance that traps inside a write
// transaction (InsertRows holds BEGIN IMMEDIATE while it prepares; a
// trigger chain 200 long overflows the stack as SQLite codes it) cannot
// close itself. The engine closes its module, which closes its files and
// releases the lock: the next writer gets in at once.
func TestFaultWhileHoldingTheWriteLock(t *testing.T) {
	t.Parallel()
	f := newSandboxFixture(t, Config{BusyTimeout: 2 * time.Second})
	var ddl []string
	for i := 0; i <= 200; i++ {
		ddl = append(ddl, fmt.Sprintf("CREATE TABLE c%d(x)", i))
	}
	for i := 0; i < 200; i++ {
		ddl = append(ddl, fmt.Sprintf("CREATE TRIGGER ct%d AFTER INSERT ON c%d BEGIN INSERT INTO c%d VALUES (new.x); END", i, i, i+1))
	}
	exec(t, f.e, "db", strings.Join(ddl, ";\n"))
	ctx := context.Background()
	_, err := routes(f.e).InsertRows(ctx, "db", "c0", []forge.Record{{{Column: "x", Value: forge.IntValue(1)}}})
	if !errors.Is(err, forge.ErrEngineFault) {
		t.Fatalf("error %v, want ErrEngineFault", err)
	}
	start := time.Now()
	f.healthy(t)
	if d := time.Since(start); d > time.Second {
		t.Errorf("the next write waited %v: the lock outlived its instance", d)
	}
	if _, err := routes(f.e).InsertRows(ctx, "db", "c199", []forge.Record{{{Column: "x", Value: forge.IntValue(1)}}}); err != nil {
		t.Fatalf("InsertRows after the fault: %v", err)
	}
}

// TestMemoryRecycle: an instance whose linear memory grew past RecycleBytes
// is closed after its request instead of going back to the pool.
func TestMemoryRecycle(t *testing.T) {
	t.Parallel()
	e, _, db := newDB(t, Config{RecycleBytes: 8 << 20})
	exec(t, e, db, "CREATE TABLE t(x);\nINSERT INTO t VALUES (1)")
	for range 50 {
		queryInt(t, e, db, "SELECT count(*) FROM t")
	}
	if s := e.Stats(); s.Recycled != 0 {
		t.Fatalf("%d instances recycled by small queries", s.Recycled)
	}
	query(t, e, db, "SELECT randomblob(3000000), randomblob(3000000), randomblob(3000000)", forge.Params{})
	if s := e.Stats(); s.Recycled != 1 || s.Faults != 0 {
		t.Fatalf("stats %+v after a query that grew memory past 8 MiB, want one recycled", s)
	}
	if n := queryInt(t, e, db, "SELECT count(*) FROM t"); n != 1 {
		t.Errorf("count %d on the new instance", n)
	}
	query(t, e, db, "INSERT INTO t VALUES (2)", forge.Params{})
}

// TestQuota: max_page_count caps the database; a write past it is
// ErrDatabaseFull, reads go on, and deleting makes room again.
func TestQuota(t *testing.T) {
	t.Parallel()
	e, _, db := newDB(t, Config{MaxDBBytes: 128 << 10})
	exec(t, e, db, "CREATE TABLE t(b)")
	ctx := context.Background()
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = e.Query(ctx, db, forge.Statement{SQL: "INSERT INTO t VALUES (randomblob(10000))"}, nil)
	}
	if !errors.Is(err, forge.ErrDatabaseFull) {
		t.Fatalf("error %v after filling 128 KiB, want ErrDatabaseFull", err)
	}
	n := queryInt(t, e, db, "SELECT count(*) FROM t")
	if n == 0 || n > 13 {
		t.Errorf("%d rows of 10 kB fit in 128 KiB", n)
	}
	_, err = routes(e).InsertRows(ctx, db, "t", []forge.Record{
		{{Column: "b", Value: forge.BlobValue(make([]byte, 1000))}},
		{{Column: "b", Value: forge.BlobValue(make([]byte, 100000))}},
	})
	if !errors.Is(err, forge.ErrDatabaseFull) {
		t.Fatalf("InsertRows: error %v, want ErrDatabaseFull", err)
	}
	if m := queryInt(t, e, db, "SELECT count(*) FROM t"); m != n {
		t.Errorf("a failed InsertRows left %d rows, want %d", m, n)
	}
	query(t, e, db, "DELETE FROM t", forge.Params{})
	query(t, e, db, "INSERT INTO t VALUES (randomblob(10000))", forge.Params{})
	if pages := queryInt(t, e, db, "PRAGMA max_page_count"); pages != 32 {
		t.Errorf("max_page_count %d, want 128 KiB / 4 KiB", pages)
	}
}

// slowWriter sleeps at its first row.
type slowWriter struct{ d time.Duration }

func (w *slowWriter) Columns([]string) error { return nil }
func (w *slowWriter) Row(forge.Row) error    { time.Sleep(w.d); w.d = 0; return nil }

// TestReturningUndoneOnTimeout: INSERT ... RETURNING whose deadline passes
// while its rows stream out leaves nothing behind.
func TestReturningUndoneOnTimeout(t *testing.T) {
	t.Parallel()
	e, _, db := newDB(t, Config{QueryTimeout: 300 * time.Millisecond})
	exec(t, e, db, "CREATE TABLE t(x)")
	_, err := e.Query(context.Background(), db, forge.Statement{
		SQL: "INSERT INTO t(x) SELECT value FROM generate_series(1, 10) RETURNING x",
	}, &slowWriter{d: 600 * time.Millisecond})
	if !errors.Is(err, forge.ErrTimeout) {
		t.Fatalf("error %v, want ErrTimeout", err)
	}
	if n := queryInt(t, e, db, "SELECT count(*) FROM t"); n != 0 {
		t.Errorf("t holds %d rows after a timed-out INSERT ... RETURNING", n)
	}
	rec, _ := query(t, e, db, "INSERT INTO t(x) VALUES (1), (2) RETURNING x", forge.Params{})
	checkRows(t, "returning", rec.rows, rows(row(1), row(2)))
	if n := queryInt(t, e, db, "SELECT count(*) FROM t"); n != 2 {
		t.Errorf("t holds %d rows after a good INSERT ... RETURNING, want 2", n)
	}
}

// TestDeadlineWhileLocked: a deadline that passes while a statement waits
// on another connection's lock is a timeout, not "busy"; a busy timeout
// that passes first is "busy".
func TestDeadlineWhileLocked(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		cfg   Config
		want  error
		least time.Duration
	}{
		{"deadline first", Config{QueryTimeout: 300 * time.Millisecond, BusyTimeout: 20 * time.Second}, forge.ErrTimeout, 250 * time.Millisecond},
		{"busy timeout first", Config{QueryTimeout: 20 * time.Second, BusyTimeout: 300 * time.Millisecond}, forge.ErrBusy, 250 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, layout, db := newDB(t, tc.cfg)
			exec(t, e, db, "CREATE TABLE t(x)")
			path, err := layout.Resolve(db)
			if err != nil {
				t.Fatal(err)
			}
			// Another process's connection holds the write lock.
			other, err := sqlite3.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			if err := other.Exec("BEGIN IMMEDIATE"); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = e.Query(context.Background(), db, forge.Statement{SQL: "INSERT INTO t VALUES (1)"}, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if d := time.Since(start); d < tc.least {
				t.Errorf("gave up after %v", d)
			}
			if err := other.Exec("ROLLBACK"); err != nil {
				t.Fatal(err)
			}
			query(t, e, db, "INSERT INTO t VALUES (1)", forge.Params{})
		})
	}
}

// TestQueryTimeoutOverride: a context deadline overrides QueryTimeout, up
// to MaxQueryTimeout.
func TestQueryTimeoutOverride(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		cfg         Config
		ctxTimeout  time.Duration
		least, most time.Duration
	}{
		{"longer than the default", Config{QueryTimeout: 300 * time.Millisecond, MaxQueryTimeout: 5 * time.Second},
			1500 * time.Millisecond, 1400 * time.Millisecond, 4900 * time.Millisecond},
		{"shorter than the default", Config{QueryTimeout: 5 * time.Second, MaxQueryTimeout: 10 * time.Second},
			300 * time.Millisecond, 250 * time.Millisecond, 4900 * time.Millisecond},
		{"capped at the maximum", Config{QueryTimeout: 300 * time.Millisecond, MaxQueryTimeout: 1500 * time.Millisecond},
			time.Hour, 1400 * time.Millisecond, 20 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, _, db := newDB(t, tc.cfg)
			ctx, cancel := context.WithTimeout(context.Background(), tc.ctxTimeout)
			defer cancel()
			start := time.Now()
			_, err := e.Query(ctx, db, forge.Statement{SQL: runaway}, &recorder{})
			d := time.Since(start)
			if !errors.Is(err, forge.ErrTimeout) {
				t.Fatalf("error %v, want ErrTimeout", err)
			}
			if d < tc.least || d > tc.most {
				t.Errorf("interrupted after %v, want between %v and %v", d, tc.least, tc.most)
			}
		})
	}
}
