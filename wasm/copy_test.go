package wasm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
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
