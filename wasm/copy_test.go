package wasm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/volumes"
)

// fill makes table t of n rows of size-byte blobs in database name.
func fill(tb testing.TB, e *Engine, name string, n, size int) {
	tb.Helper()
	ctx := context.Background()
	if _, err := e.Query(ctx, name, forge.Statement{SQL: "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)"}, nil); err != nil {
		tb.Fatal(err)
	}
	for done := 0; done < n; done += 5000 {
		err := e.Write(ctx, name, func(tx forge.Tx) error {
			_, err := tx.Run(ctx, forge.Statement{SQL: "INSERT INTO t(v) SELECT randomblob(?2) FROM generate_series(1, ?1)",
				Params: forge.Params{Positional: []forge.Value{forge.IntValue(int64(min(5000, n-done))), forge.IntValue(int64(size))}}}, nil)
			return err
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// TestCopyToUnderWrites: a copy is one snapshot while writes go on, and
// writers are not held up for its duration.
func TestCopyToUnderWrites(t *testing.T) {
	e, layout := newTestEngine(t, Config{})
	createDB(t, layout, "c")
	fill(t, e, "c", 20000, 500)
	ctx := context.Background()
	var stop atomic.Bool
	var writes atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if _, err := e.Query(ctx, "c", forge.Statement{SQL: "INSERT INTO t(v) VALUES (x'00')"}, nil); err != nil {
				t.Error(err)
				return
			}
			writes.Add(1)
		}
	}()
	dest := filepath.Join(t.TempDir(), "copy.db")
	before := writes.Load()
	if err := e.CopyTo(ctx, "c", dest, CopyOptions{Sync: true}); err != nil {
		t.Fatal(err)
	}
	during := writes.Load() - before
	stop.Store(true)
	wg.Wait()
	if during == 0 {
		t.Errorf("no write went through during the copy")
	}
	// The copy opens alone (rollback journal) and is sound.
	b, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	if b[18] != 1 || b[19] != 1 {
		t.Errorf("copy is not a rollback-journal file: %d %d", b[18], b[19])
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if _, err := os.Stat(dest + suffix); err == nil {
			t.Errorf("%s left beside the copy", suffix)
		}
	}
	t.Logf("%d writes during the copy", during)
}

// TestCopyToCanceled: a canceled copy stops and leaves no file.
func TestCopyToCanceled(t *testing.T) {
	e, layout := newTestEngine(t, Config{})
	createDB(t, layout, "c")
	fill(t, e, "c", 20000, 500)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dest := filepath.Join(t.TempDir(), "copy.db")
	err := e.CopyTo(ctx, "c", dest, CopyOptions{})
	if !errors.Is(err, forge.ErrCanceled) {
		t.Fatalf("err %v", err)
	}
	if _, err := os.Stat(dest); err == nil {
		t.Errorf("a canceled copy left its file")
	}
	if err := e.CopyTo(context.Background(), "nope", dest, CopyOptions{}); !errors.Is(err, forge.ErrDatabaseNotFound) {
		t.Errorf("copy of no database: %v", err)
	}
}

// BenchmarkCopyTo: the backup copy of a database of about 100 MB.
func BenchmarkCopyTo(b *testing.B) {
	e, layout := newTestEngine(b, Config{})
	createDB(b, layout, "c")
	fill(b, e, "c", 100_000, 1000)
	dest := filepath.Join(b.TempDir(), "copy.db")
	for b.Loop() {
		start := time.Now()
		if err := e.CopyTo(context.Background(), "c", dest, CopyOptions{}); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms")
	}
}

// TestCopyIsOneSnapshot: copies taken while transactions write two
// tables together (and the log is checkpointed, restarted and grown
// under them) are each sound and hold both tables at the same commit.
func TestCopyIsOneSnapshot(t *testing.T) {
	e, layout := newTestEngine(t, Config{})
	createDB(t, layout, "s")
	ctx := context.Background()
	stopWrites := writeTwoTables(t, e, "s")
	dir := t.TempDir()
	fast := 0
	for i := 0; i < 12; i++ {
		time.Sleep(40 * time.Millisecond)
		dest := filepath.Join(dir, "copy.db")
		// The fast path itself, not CopyTo's fallback.
		db, err := e.acquire(ctx, "s")
		if err != nil {
			t.Fatal(err)
		}
		err = db.fastCopy(ctx, dest)
		e.release(db)
		if errors.Is(err, errWALShape) {
			t.Logf("copy %d: %v", i, err) // the log grew past maxWALCopy: CopyTo would use the backup API
			continue
		}
		if err != nil {
			t.Fatalf("fast copy %d: %v", i, err)
		}
		fast++
		b, err := os.ReadFile(dest)
		if err != nil {
			t.Fatal(err)
		}
		checkOneSnapshot(t, e, layout, i, b)
	}
	stopWrites()
	if fast < 6 {
		t.Errorf("only %d of 12 copies took the fast way", fast)
	}
}

// rowsOf is a RowWriter calling f for each row.
type rowsOf func(r forge.Row)

func (rowsOf) Columns([]string) error  { return nil }
func (f rowsOf) Row(r forge.Row) error { f(r); return nil }

// writeTwoTables keeps writing tables a and b (made here) of database
// name in step (each commit adds and deletes alike in both), with a
// reader now and then holding old snapshots, until the returned func is
// called: a copy that is one snapshot has as many rows in a as in b.
func writeTwoTables(t *testing.T, e *Engine, name string) func() {
	ctx := context.Background()
	for _, q := range []string{"CREATE TABLE a(id INTEGER PRIMARY KEY, v BLOB)", "CREATE TABLE b(id INTEGER PRIMARY KEY, v BLOB)"} {
		if _, err := e.Query(ctx, name, forge.Statement{SQL: q}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				err := e.Write(ctx, name, func(tx forge.Tx) error {
					n := forge.IntValue(int64(1 + i%20))
					for _, q := range []string{
						"INSERT INTO a(v) SELECT randomblob(3000) FROM generate_series(1, ?1)",
						"INSERT INTO b(v) SELECT randomblob(3000) FROM generate_series(1, ?1)",
						"DELETE FROM a WHERE id % 7 = 0 AND id > (SELECT max(id) FROM a) - 100",
						"DELETE FROM b WHERE id % 7 = 0 AND id > (SELECT max(id) FROM b) - 100",
						"DELETE FROM a WHERE id < (SELECT max(id) FROM a) - 2000",
						"DELETE FROM b WHERE id < (SELECT max(id) FROM b) - 2000",
					} {
						st := forge.Statement{SQL: q}
						if strings.Contains(q, "?1") {
							st.Params = forge.Params{Positional: []forge.Value{n}}
						}
						if _, err := tx.Run(ctx, st, nil); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil && !errors.Is(err, forge.ErrTimeout) {
					t.Error(err)
					return
				}
			}
		}()
	}
	// A reader now and then holds old snapshots, so that checkpoints stop short.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			_ = e.Read(ctx, name, func(tx forge.Tx) error {
				_, err := tx.Run(ctx, forge.Statement{SQL: "SELECT count(*) FROM a"}, nil)
				time.Sleep(20 * time.Millisecond)
				return err
			})
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return func() {
		stop.Store(true)
		wg.Wait()
	}
}

// checkOneSnapshot opens the copy b of writeTwoTables' database and fails
// unless it is sound and a and b agree.
func checkOneSnapshot(t *testing.T, e *Engine, layout *volumes.Layout, i int, b []byte) {
	t.Helper()
	ctx := context.Background()
	createDB(t, layout, "check")
	p, _ := layout.Path("check")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	problems, err := e.IntegrityCheck(ctx, "check")
	if err != nil || len(problems) > 0 {
		t.Fatalf("copy %d: %v %v", i, problems, err)
	}
	var got []int64
	_, err = e.Query(ctx, "check", forge.Statement{SQL: "SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM b), (SELECT coalesce(max(id),0) FROM a), (SELECT coalesce(max(id),0) FROM b)"},
		rowsOf(func(r forge.Row) { got = []int64{r.Int(0), r.Int(1), r.Int(2), r.Int(3)} }))
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != got[1] || got[2] != got[3] {
		t.Fatalf("copy %d is not one snapshot: a has %d rows up to %d, b %d up to %d", i, got[0], got[2], got[1], got[3])
	}
	if err := e.Exclusive(ctx, "check", func() error { return layout.Remove("check") }); err != nil {
		t.Fatal(err)
	}
}
