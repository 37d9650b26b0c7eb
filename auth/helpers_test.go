package auth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/volumes"
	"github.com/praetorian/db-forge/wasm"
)

// The key store's tests run on the real SQL engine: SQLite in wasm, over a
// database file in a temporary data directory. This adapter is what the
// gateway's wiring will provide in production (over the reserved system
// database); it lives in a test file so that auth never imports wasm.

// testCacheDir keeps the compiled SQLite module between test runs (the
// cold compile takes about 2 s, loading it about 50 ms).
var testCacheDir = filepath.Join(os.TempDir(), "db-forge-test-wasm-cache")

// metaDB is the test's key database.
const metaDB = "meta"

// engineSQL implements SQL over one database of a wasm.Engine.
type engineSQL struct {
	e  *wasm.Engine
	db string
}

var _ SQL = engineSQL{}

func (s engineSQL) Exec(ctx context.Context, sql string, args ...forge.Value) (int64, error) {
	res, err := s.e.Query(ctx, s.db, forge.Statement{SQL: sql, Params: forge.Params{Positional: args}}, nil)
	return res.RowsAffected, err
}

func (s engineSQL) Query(ctx context.Context, sql string, args []forge.Value, each func(forge.Row) error) error {
	_, err := s.e.Query(ctx, s.db, forge.Statement{SQL: sql, Params: forge.Params{Positional: args}}, rowFunc(each))
	return err
}

// close stops the engine, as a gateway shutting down does.
func (s engineSQL) close(tb testing.TB) { closeEngine(tb, s.e) }

// rowFunc is a forge.RowWriter calling a function for each row.
type rowFunc func(forge.Row) error

func (f rowFunc) Columns([]string) error { return nil }
func (f rowFunc) Row(r forge.Row) error  { return f(r) }

// newDataDir makes a data directory with the key database's file.
func newDataDir(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	layout, err := volumes.Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := layout.Create(metaDB); err != nil {
		tb.Fatal(err)
	}
	// A database stays pending until its spawn completes; one still
	// pending when the layout is opened again is removed.
	if err := layout.Complete(metaDB); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// openStore starts an engine over the data directory dir and returns the
// key database on it. Closing is the caller's (restart tests close early)
// and is also registered as a cleanup.
func openStore(tb testing.TB, dir string) engineSQL {
	tb.Helper()
	layout, err := volumes.Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	e, err := wasm.New(wasm.Config{CacheDir: testCacheDir}, layout.Resolve, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { closeEngine(tb, e) })
	return engineSQL{e: e, db: metaDB}
}

func closeEngine(tb testing.TB, e *wasm.Engine) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		tb.Errorf("close engine: %v", err)
	}
}

// newKeys is Keys over a fresh store, on a fake clock.
func newKeys(tb testing.TB, opts Options) (*Keys, engineSQL, *clock) {
	tb.Helper()
	store := openStore(tb, newDataDir(tb))
	c := newClock()
	if opts.Now == nil {
		opts.Now = c.Now
	}
	k, err := New(context.Background(), store, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return k, store, c
}

// mustCreate makes a key or fails the test.
func mustCreate(tb testing.TB, k *Keys, db string, scope Scope, expiresIn time.Duration) (Key, Secret) {
	tb.Helper()
	key, tok, err := k.Create(context.Background(), db, scope, expiresIn)
	if err != nil {
		tb.Fatalf("Create(%q, %s, %v): %v", db, scope, expiresIn, err)
	}
	return key, tok
}

// clock is a fake clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 11, 27, 8, 35, 55, 123_456_789, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// failingSQL is a store whose writes fail when failWrites is set; reads
// go to the real one.
type failingSQL struct {
	SQL
	mu         sync.Mutex
	failWrites bool
}

var errStoreDown = errors.New("store down")

func (f *failingSQL) Exec(ctx context.Context, sql string, args ...forge.Value) (int64, error) {
	f.mu.Lock()
	fail := f.failWrites
	f.mu.Unlock()
	if fail && !strings.HasPrefix(sql, "CREATE") && !strings.HasPrefix(sql, "PRAGMA") {
		return 0, errStoreDown
	}
	return f.SQL.Exec(ctx, sql, args...)
}

func (f *failingSQL) setFail(v bool) {
	f.mu.Lock()
	f.failWrites = v
	f.mu.Unlock()
}
