package wasm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/tables"
	"github.com/praetorian/db-forge/volumes"
)

// testCacheDir keeps the compiled SQLite module between test runs: the cold
// compile takes about 2 s, loading it about 50 ms.
var testCacheDir = filepath.Join(os.TempDir(), "db-forge-test-wasm-cache")

// newTestEngine returns an engine over a fresh data directory. The wazero
// runtime is process-wide, so every engine of this test binary keeps the
// default memory limit.
func newTestEngine(tb testing.TB, cfg Config) (*Engine, *volumes.Layout) {
	tb.Helper()
	if cfg.MemoryLimit != 0 {
		tb.Fatalf("test engines share one runtime; leave MemoryLimit at its default")
	}
	cfg.CacheDir = testCacheDir
	layout, err := volumes.Open(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	e, err := New(cfg, layout.Resolve, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			tb.Errorf("close engine: %v", err)
		}
	})
	return e, layout
}

// createDB makes the files of database name.
func createDB(tb testing.TB, layout *volumes.Layout, name string) {
	tb.Helper()
	created, err := layout.Create(name)
	if err != nil {
		tb.Fatalf("create %s: %v", name, err)
	}
	if !created {
		tb.Fatalf("create %s: already there", name)
	}
}

// newDB is newTestEngine with one database, "db", already created.
func newDB(tb testing.TB, cfg Config) (*Engine, *volumes.Layout, string) {
	tb.Helper()
	e, layout := newTestEngine(tb, cfg)
	createDB(tb, layout, "db")
	return e, layout, "db"
}

// pos and named build Params.
func pos(vals ...forge.Value) forge.Params { return forge.Params{Positional: vals} }

func named(kv ...any) forge.Params {
	p := forge.Params{IsNamed: true, Named: []forge.NamedValue{}}
	for i := 0; i < len(kv); i += 2 {
		p.Named = append(p.Named, forge.NamedValue{Name: kv[i].(string), Value: kv[i+1].(forge.Value)})
	}
	return p
}

// recorder is a RowWriter that keeps a copy of everything it is given. It
// keeps the names slice it was handed as is, to catch an engine that
// reuses it after Columns returned.
type recorder struct {
	columnsCalls int
	cols         []string
	rows         [][]forge.Value
}

func (r *recorder) Columns(names []string) error {
	r.columnsCalls++
	if r.rows != nil {
		return errors.New("Columns called after a row")
	}
	r.cols = names
	return nil
}

func (r *recorder) Row(row forge.Row) error {
	if r.columnsCalls != 1 {
		return fmt.Errorf("Row called after %d Columns calls", r.columnsCalls)
	}
	vals := make([]forge.Value, len(r.cols))
	for i := range vals {
		vals[i] = readValue(row, i)
	}
	r.rows = append(r.rows, vals)
	return nil
}

// readValue copies column i of the current row.
func readValue(row forge.Row, i int) forge.Value {
	switch k := row.Kind(i); k {
	case forge.Integer:
		return forge.IntValue(row.Int(i))
	case forge.Float:
		return forge.FloatValue(row.Float(i))
	case forge.Text:
		return forge.TextValue(string(row.Text(i)))
	case forge.Blob:
		return forge.BlobValue(append([]byte{}, row.Blob(i)...))
	default:
		return forge.NullValue()
	}
}

// query runs one statement and fails the test on error.
func query(tb testing.TB, e *Engine, db, sql string, p forge.Params) (*recorder, forge.Result) {
	tb.Helper()
	rec := &recorder{}
	res, err := e.Query(context.Background(), db, forge.Statement{SQL: sql, Params: p}, rec)
	if err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
	return rec, res
}

// exec runs statements one Query at a time (split on ";\n").
func exec(tb testing.TB, e *Engine, db, script string) {
	tb.Helper()
	for _, sql := range strings.Split(script, ";\n") {
		if strings.TrimSpace(sql) == "" {
			continue
		}
		query(tb, e, db, sql, forge.Params{})
	}
}

// queryInt runs a query that returns one integer.
func queryInt(tb testing.TB, e *Engine, db, sql string) int64 {
	tb.Helper()
	rec, _ := query(tb, e, db, sql, forge.Params{})
	if len(rec.rows) != 1 || len(rec.rows[0]) != 1 || rec.rows[0][0].Kind != forge.Integer {
		tb.Fatalf("%s: want one integer, got %v", sql, rec.rows)
	}
	return rec.rows[0][0].Int
}

// row builds an expected row from Go values: nil, int, int64, float64,
// string, []byte.
func row(vals ...any) []forge.Value {
	out := make([]forge.Value, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case nil:
			out[i] = forge.NullValue()
		case int:
			out[i] = forge.IntValue(int64(v))
		case int64:
			out[i] = forge.IntValue(v)
		case float64:
			out[i] = forge.FloatValue(v)
		case string:
			out[i] = forge.TextValue(v)
		case []byte:
			out[i] = forge.BlobValue(v)
		default:
			panic(fmt.Sprintf("row: unsupported %T", v))
		}
	}
	return out
}

func rows(rs ...[]forge.Value) [][]forge.Value { return rs }

func checkRows(tb testing.TB, what string, got, want [][]forge.Value) {
	tb.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		tb.Errorf("%s: rows\n got %v\nwant %v", what, got, want)
	}
}

func checkCols(tb testing.TB, what string, got, want []string) {
	tb.Helper()
	if !reflect.DeepEqual(got, want) {
		tb.Errorf("%s: columns %q, want %q", what, got, want)
	}
}

// sqlError returns err as a *forge.SQLError, failing the test if it is not.
func sqlError(tb testing.TB, err error) *forge.SQLError {
	tb.Helper()
	var se *forge.SQLError
	if !errors.As(err, &se) {
		tb.Fatalf("error %v (%T): want a *forge.SQLError", err, err)
	}
	return se
}

// gateWriter is a RowWriter that stops at its first row until released, so
// that a test holds a connection for as long as it needs to.
type gateWriter struct {
	started chan struct{} // closed at the first row
	release chan struct{} // close to let the statement finish
	once    sync.Once
}

func newGateWriter() *gateWriter {
	return &gateWriter{started: make(chan struct{}), release: make(chan struct{})}
}

func (g *gateWriter) Columns([]string) error { return nil }

func (g *gateWriter) Row(forge.Row) error {
	g.once.Do(func() { close(g.started) })
	<-g.release
	return nil
}

// waitFor fails the test if ch is not closed (or sent on) within d.
func waitFor[T any](tb testing.TB, ch <-chan T, d time.Duration, what string) T {
	tb.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		tb.Fatalf("timed out after %v waiting for %s", d, what)
	}
	var zero T
	return zero
}

// notYet fails the test if ch yields within d.
func notYet[T any](tb testing.TB, ch <-chan T, d time.Duration, what string) {
	tb.Helper()
	select {
	case <-ch:
		tb.Fatalf("%s happened too early", what)
	case <-time.After(d):
	}
}

// routes is the tables and rows routes over e's units of work (package
// tables, above the engine), for the tests that drive the engine through
// them.
func routes(e *Engine) *tables.Service { return tables.New(e) }

// record builds a row to insert from column, value pairs.
func record(kv ...any) forge.Record {
	r := forge.Record{}
	for i := 0; i < len(kv); i += 2 {
		r = append(r, forge.Field{Column: kv[i].(string), Value: row(kv[i+1])[0]})
	}
	return r
}
