package wasm

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
)

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cfg  Config
	}{
		{"synchronous", Config{Synchronous: "OFF", CacheDir: testCacheDir}},
		{"memory limit differs from the process runtime's", Config{MemoryLimit: 64 << 20, CacheDir: testCacheDir}},
		{"memory limit too small", Config{MemoryLimit: 1 << 10, CacheDir: testCacheDir}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Make sure the runtime exists, so the comparison is with it.
			newTestEngine(t, Config{})
			if _, err := New(tc.cfg, func(string) (string, error) { return "", forge.ErrDatabaseNotFound }, nil); err == nil {
				t.Error("New accepted the config")
			}
		})
	}
}

// iterations scales a loop down under the race detector.
func iterations(n int) int {
	if raceEnabled {
		return max(n/5, 1)
	}
	return n
}

// TestConcurrentReadsAndWrites hammers a few databases with concurrent reads
// and writes through every entry point: each goroutine reads its own
// writes back at once, and the final counts are exact.
func TestConcurrentReadsAndWrites(t *testing.T) {
	t.Parallel()
	const workers = 8
	dbs := []string{"h0", "h1", "h2"}
	ops := iterations(250)
	e, layout := newTestEngine(t, Config{MaxReaders: 2})
	for _, db := range dbs {
		createDB(t, layout, db)
		exec(t, e, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, g INTEGER NOT NULL, v INTEGER NOT NULL)")
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	// inserted[w][d]: rows worker w put in database d; sums likewise.
	inserted := make([][]int64, workers)
	sums := make([][]int64, workers)
	for w := range workers {
		inserted[w] = make([]int64, len(dbs))
		sums[w] = make([]int64, len(dbs))
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			fail := func(format string, args ...any) {
				errs <- fmt.Errorf("worker %d: "+format, append([]any{w}, args...)...)
			}
			for i := range ops {
				d := rng.IntN(len(dbs))
				db := dbs[d]
				g := forge.IntValue(int64(w))
				switch op := rng.IntN(5); op {
				case 0, 1: // Query INSERT
					v := int64(i)
					res, err := e.Query(ctx, db, forge.Statement{SQL: "INSERT INTO t(g, v) VALUES (?, ?)", Params: pos(g, forge.IntValue(v))}, nil)
					if err != nil || res.RowsAffected != 1 {
						fail("insert: %+v, %v", res, err)
						return
					}
					inserted[w][d]++
					sums[w][d] += v
				case 2: // InsertRows of a few rows
					n := 1 + rng.IntN(4)
					recs := make([]forge.Record, n)
					for j := range recs {
						recs[j] = record("g", w, "v", 1)
					}
					got, err := routes(e).InsertRows(ctx, db, "t", recs)
					if err != nil || got != int64(n) {
						fail("InsertRows: %d, %v", got, err)
						return
					}
					inserted[w][d] += int64(n)
					sums[w][d] += int64(n)
				case 3: // Query SELECT: read your own writes
					rec := &recorder{}
					_, err := e.Query(ctx, db, forge.Statement{SQL: "SELECT count(*), total(v) FROM t WHERE g = :g", Params: named("g", g)}, rec)
					if err != nil {
						fail("select: %v", err)
						return
					}
					want := [][]forge.Value{row(inserted[w][d], float64(sums[w][d]))}
					if fmt.Sprint(rec.rows) != fmt.Sprint(want) {
						fail("%s: own rows %v, want %v", db, rec.rows, want)
						return
					}
				case 4: // SelectRows
					rec := &recorder{}
					res, err := routes(e).SelectRows(ctx, db, "t", []forge.Filter{{Column: "g", Value: g}}, rec)
					if err != nil || res.RowsAffected != inserted[w][d] || int64(len(rec.rows)) != inserted[w][d] {
						fail("SelectRows %s: %d rows, want %d, %v", db, res.RowsAffected, inserted[w][d], err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for d, db := range dbs {
		var wantN, wantSum int64
		for w := range workers {
			wantN += inserted[w][d]
			wantSum += sums[w][d]
		}
		if n := queryInt(t, e, db, "SELECT count(*) FROM t"); n != wantN {
			t.Errorf("%s: %d rows, want %d", db, n, wantN)
		}
		if s := queryInt(t, e, db, "SELECT coalesce(sum(v), 0) FROM t"); s != wantSum {
			t.Errorf("%s: sum %d, want %d", db, s, wantSum)
		}
	}
}

// TestLRUEvictionUnderLoad: many databases, few open at a time, used
// concurrently in random order. Every request succeeds with its own
// database's data; evicted databases reopen.
func TestLRUEvictionUnderLoad(t *testing.T) {
	t.Parallel()
	const (
		maxOpen = 4
		nDBs    = 20
		workers = 6
	)
	ops := iterations(150)
	e, layout := newTestEngine(t, Config{MaxOpen: maxOpen})
	names := make([]string, nDBs)
	for i := range names {
		names[i] = fmt.Sprintf("lru%02d", i)
		createDB(t, layout, names[i])
		exec(t, e, names[i], "CREATE TABLE t(k INTEGER PRIMARY KEY, name TEXT, n INTEGER NOT NULL DEFAULT 0)")
		query(t, e, names[i], "INSERT INTO t(k, name) VALUES (1, ?)", pos(forge.TextValue(names[i])))
	}
	updates := make([]atomic.Int64, nDBs)
	var peakOpen atomic.Int64
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 2))
			for range ops {
				i := rng.IntN(nDBs)
				var err error
				if rng.IntN(3) == 0 {
					var res forge.Result
					res, err = e.Query(ctx, names[i], forge.Statement{SQL: "UPDATE t SET n = n + 1 WHERE k = 1"}, nil)
					if err == nil && res.RowsAffected != 1 {
						err = fmt.Errorf("update changed %d rows", res.RowsAffected)
					}
					if err == nil {
						updates[i].Add(1)
					}
				} else {
					rec := &recorder{}
					_, err = e.Query(ctx, names[i], forge.Statement{SQL: "SELECT name FROM t WHERE k = 1"}, rec)
					if err == nil && fmt.Sprint(rec.rows) != fmt.Sprint(rows(row(names[i]))) {
						err = fmt.Errorf("read %v", rec.rows)
					}
				}
				if err != nil {
					errs <- fmt.Errorf("worker %d, %s: %w", w, names[i], err)
					return
				}
				if open := int64(e.Stats().Open); open > peakOpen.Load() {
					peakOpen.Store(open) // racy max; good enough for a bound
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s := e.Stats()
	if s.Open > maxOpen || peakOpen.Load() > maxOpen {
		t.Errorf("open databases: %d now, %d at peak; want <= %d", s.Open, peakOpen.Load(), maxOpen)
	}
	if s.Evicted == 0 || s.Opened <= nDBs {
		t.Errorf("stats %+v: want evictions and reopens", s)
	}
	if s.Opened-s.Evicted != int64(s.Open) {
		t.Errorf("stats %+v: opened - evicted should equal open", s)
	}
	for i, name := range names {
		if n := queryInt(t, e, name, "SELECT n FROM t WHERE k = 1"); n != updates[i].Load() {
			t.Errorf("%s: n = %d, want %d", name, n, updates[i].Load())
		}
	}
}

// TestEvictedWhileBusy: a database evicted while a request holds it keeps
// serving that request and closes after it; its next request reopens it.
func TestEvictedWhileBusy(t *testing.T) {
	t.Parallel()
	e, layout := newTestEngine(t, Config{MaxOpen: 2})
	for _, n := range []string{"x", "y", "z"} {
		createDB(t, layout, n)
	}
	exec(t, e, "x", "CREATE TABLE t(v);\nINSERT INTO t VALUES (1), (2), (3)")
	g := newGateWriter()
	done := make(chan error, 1)
	rec := &recorder{}
	go func() {
		_, err := e.Query(context.Background(), "x", forge.Statement{SQL: "SELECT v FROM t ORDER BY v"}, &teeWriter{g, rec})
		done <- err
	}()
	waitFor(t, g.started, 10*time.Second, "the query on x")
	query(t, e, "y", "SELECT 1", forge.Params{})
	query(t, e, "z", "SELECT 1", forge.Params{})
	if s := e.Stats(); s.Open != 2 || s.Evicted != 1 {
		t.Fatalf("stats %+v: want x evicted, 2 open", s)
	}
	// x reopens beside its evicted instance, and writes through it.
	query(t, e, "x", "INSERT INTO t VALUES (4)", forge.Params{})
	close(g.release)
	if err := waitFor(t, done, 10*time.Second, "the query on x"); err != nil {
		t.Fatal(err)
	}
	checkRows(t, "evicted query", rec.rows, rows(row(1), row(2), row(3)))
	if n := queryInt(t, e, "x", "SELECT count(*) FROM t"); n != 4 {
		t.Errorf("x holds %d rows, want 4", n)
	}
}

// teeWriter passes a result to two writers.
type teeWriter struct{ a, b forge.RowWriter }

func (w *teeWriter) Columns(names []string) error {
	return errors.Join(w.a.Columns(names), w.b.Columns(names))
}

func (w *teeWriter) Row(r forge.Row) error {
	return errors.Join(w.a.Row(r), w.b.Row(r))
}

// TestExclusive walks the delete path: Exclusive waits for a running
// request, holds new ones back while fn runs, and after fn removed the
// files the name is gone.
func TestExclusive(t *testing.T) {
	t.Parallel()
	e, layout, db := newDB(t, Config{})
	createDB(t, layout, "bystander")
	exec(t, e, db, "CREATE TABLE t(v);\nINSERT INTO t VALUES (1)")
	ctx := context.Background()

	// 1. A long request runs on db.
	long := newGateWriter()
	longDone := make(chan error, 1)
	go func() {
		_, err := e.Query(ctx, db, forge.Statement{SQL: "SELECT v FROM t"}, long)
		longDone <- err
	}()
	waitFor(t, long.started, 10*time.Second, "the long query")

	// 2. Exclusive waits for it.
	inFn := make(chan struct{})
	finishFn := make(chan struct{})
	exDone := make(chan error, 1)
	go func() {
		exDone <- e.Exclusive(ctx, db, func() error {
			close(inFn)
			<-finishFn
			return layout.Remove(db)
		})
	}()
	notYet(t, inFn, 200*time.Millisecond, "fn running beside a request")
	// Other databases are not held back.
	query(t, e, "bystander", "SELECT 1", forge.Params{})

	// 3. The long request finishes normally; then fn runs.
	close(long.release)
	if err := waitFor(t, longDone, 10*time.Second, "the long query"); err != nil {
		t.Fatalf("long query: %v", err)
	}
	waitFor(t, inFn, 10*time.Second, "fn")
	if s := e.Stats(); s.Open != 1 {
		t.Errorf("stats %+v during fn: want only bystander open", s)
	}

	// 4. A request on db waits while fn runs...
	qDone := make(chan error, 1)
	go func() {
		_, err := e.Query(ctx, db, forge.Statement{SQL: "SELECT 1"}, nil)
		qDone <- err
	}()
	notYet(t, qDone, 200*time.Millisecond, "a query running during fn")
	// ...and a request that gives up while waiting says why.
	shortCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := e.Query(shortCtx, db, forge.Statement{SQL: "SELECT 1"}, nil); !errors.Is(err, forge.ErrTimeout) {
		t.Errorf("query with a short deadline during fn: %v, want %v", err, forge.ErrTimeout)
	}

	// 5. fn deletes the files; the waiting request finds no database.
	close(finishFn)
	if err := waitFor(t, exDone, 10*time.Second, "Exclusive"); err != nil {
		t.Fatalf("Exclusive: %v", err)
	}
	if err := waitFor(t, qDone, 10*time.Second, "the waiting query"); !errors.Is(err, forge.ErrDatabaseNotFound) {
		t.Errorf("waiting query: %v, want %v", err, forge.ErrDatabaseNotFound)
	}
	if _, err := e.Query(ctx, db, forge.Statement{SQL: "SELECT 1"}, nil); !errors.Is(err, forge.ErrDatabaseNotFound) {
		t.Errorf("query after delete: %v, want %v", err, forge.ErrDatabaseNotFound)
	}

	// 6. A database created again under the name is a new, empty one.
	createDB(t, layout, db)
	_, err := e.Query(ctx, db, forge.Statement{SQL: "SELECT v FROM t"}, nil)
	if se := sqlError(t, err); se.Message != "no such table: t" {
		t.Errorf("query on the new database: %q, want no such table", se.Message)
	}
}

func TestExclusiveOutcomes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("fn error is returned and the database stays", func(t *testing.T) {
		t.Parallel()
		e, _, db := newDB(t, Config{})
		exec(t, e, db, "CREATE TABLE t(v)")
		boom := errors.New("boom")
		if err := e.Exclusive(ctx, db, func() error { return boom }); !errors.Is(err, boom) {
			t.Errorf("Exclusive: %v, want %v", err, boom)
		}
		if n := queryInt(t, e, db, "SELECT count(*) FROM t"); n != 0 {
			t.Errorf("count %d", n)
		}
	})
	t.Run("gives up within ctx while a request runs", func(t *testing.T) {
		t.Parallel()
		e, _, db := newDB(t, Config{})
		g := newGateWriter()
		done := make(chan error, 1)
		go func() {
			_, err := e.Query(ctx, db, forge.Statement{SQL: "SELECT 1"}, g)
			done <- err
		}()
		waitFor(t, g.started, 10*time.Second, "the query")
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		called := false
		if err := e.Exclusive(short, db, func() error { called = true; return nil }); !errors.Is(err, forge.ErrTimeout) {
			t.Errorf("Exclusive: %v, want %v", err, forge.ErrTimeout)
		}
		if called {
			t.Error("fn ran beside a request")
		}
		close(g.release)
		if err := waitFor(t, done, 10*time.Second, "the query"); err != nil {
			t.Fatal(err)
		}
		// The name is not left gated.
		if n := queryInt(t, e, db, "SELECT 1"); n != 1 {
			t.Errorf("SELECT 1 = %d", n)
		}
	})
	t.Run("Exclusives on one name take turns", func(t *testing.T) {
		t.Parallel()
		e, _, db := newDB(t, Config{})
		var inside, overlaps atomic.Int32
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				err := e.Exclusive(ctx, db, func() error {
					if inside.Add(1) > 1 {
						overlaps.Add(1)
					}
					time.Sleep(20 * time.Millisecond)
					inside.Add(-1)
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if overlaps.Load() != 0 {
			t.Errorf("%d Exclusive calls overlapped", overlaps.Load())
		}
	})
	t.Run("name never opened", func(t *testing.T) {
		t.Parallel()
		e, layout, db := newDB(t, Config{})
		if err := e.Exclusive(ctx, db, func() error { return layout.Remove(db) }); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Query(ctx, db, forge.Statement{SQL: "SELECT 1"}, nil); !errors.Is(err, forge.ErrDatabaseNotFound) {
			t.Errorf("query after delete: %v, want %v", err, forge.ErrDatabaseNotFound)
		}
	})
}

// TestExclusiveWaitsForEvictedDatabase: a database the LRU evicted while a
// request held it still has that request's connection open; Exclusive must
// wait for it too, not only for the database the map holds.
func TestExclusiveWaitsForEvictedDatabase(t *testing.T) {
	t.Parallel()
	e, layout := newTestEngine(t, Config{MaxOpen: 1})
	createDB(t, layout, "x")
	createDB(t, layout, "y")
	ctx := context.Background()
	g := newGateWriter()
	longDone := make(chan error, 1)
	go func() {
		_, err := e.Query(ctx, "x", forge.Statement{SQL: "SELECT 1"}, g)
		longDone <- err
	}()
	waitFor(t, g.started, 10*time.Second, "the query on x")
	query(t, e, "y", "SELECT 1", forge.Params{}) // evicts x, which is busy
	if s := e.Stats(); s.Evicted != 1 {
		t.Fatalf("stats %+v: want x evicted", s)
	}
	inFn := make(chan struct{})
	exDone := make(chan error, 1)
	go func() {
		exDone <- e.Exclusive(ctx, "x", func() error { close(inFn); return nil })
	}()
	notYet(t, inFn, 200*time.Millisecond, "fn running beside a request on an evicted database")
	close(g.release)
	if err := waitFor(t, longDone, 10*time.Second, "the query on x"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, inFn, 10*time.Second, "fn")
	if err := waitFor(t, exDone, 10*time.Second, "Exclusive"); err != nil {
		t.Fatal(err)
	}
}

// TestCloseWaitsForEvictedDatabase: Close waits for every request, also
// those on databases the LRU already evicted.
func TestCloseWaitsForEvictedDatabase(t *testing.T) {
	t.Parallel()
	e, layout := newTestEngine(t, Config{MaxOpen: 1})
	createDB(t, layout, "x")
	createDB(t, layout, "y")
	ctx := context.Background()
	g := newGateWriter()
	longDone := make(chan error, 1)
	go func() {
		_, err := e.Query(ctx, "x", forge.Statement{SQL: "SELECT 1"}, g)
		longDone <- err
	}()
	waitFor(t, g.started, 10*time.Second, "the query on x")
	query(t, e, "y", "SELECT 1", forge.Params{}) // evicts x, which is busy
	closed := make(chan error, 1)
	go func() { closed <- e.Close(ctx) }()
	notYet(t, closed, 200*time.Millisecond, "Close returning while a request runs")
	close(g.release)
	if err := waitFor(t, longDone, 10*time.Second, "the query on x"); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(t, closed, 10*time.Second, "Close"); err != nil {
		t.Fatal(err)
	}
}
