package tables

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/volumes"
	"github.com/praetorian/db-forge/wasm"
)

// The routes run against the real engine: a fixture is an engine over a
// fresh data directory, with the routes' Service on it.

// testCacheDir is the wasm package's test cache of the compiled SQLite
// module (a cold compile takes about 2 s).
var testCacheDir = filepath.Join(os.TempDir(), "db-forge-test-wasm-cache")

const unicodeText = "héllo wörld — 日本語 🎉 Ω"

type fixture struct {
	*wasm.Engine
	*Service
}

// newDB returns a fixture with one database, "db", already created.
func newDB(tb testing.TB, cfg wasm.Config) (*fixture, *volumes.Layout, string) {
	tb.Helper()
	cfg.CacheDir = testCacheDir
	layout, err := volumes.Open(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	e, err := wasm.New(cfg, layout.Resolve, nil)
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
	if _, err := layout.Create("db"); err != nil {
		tb.Fatal(err)
	}
	return &fixture{Engine: e, Service: New(e)}, layout, "db"
}

// recorder is a RowWriter that keeps a copy of everything it is given.
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
		switch k := row.Kind(i); k {
		case forge.Integer:
			vals[i] = forge.IntValue(row.Int(i))
		case forge.Float:
			vals[i] = forge.FloatValue(row.Float(i))
		case forge.Text:
			vals[i] = forge.TextValue(string(row.Text(i)))
		case forge.Blob:
			vals[i] = forge.BlobValue(append([]byte{}, row.Blob(i)...))
		}
	}
	r.rows = append(r.rows, vals)
	return nil
}

// query runs one statement and fails the test on error.
func query(tb testing.TB, e *fixture, db, sql string, p forge.Params) (*recorder, forge.Result) {
	tb.Helper()
	rec := &recorder{}
	res, err := e.Query(context.Background(), db, forge.Statement{SQL: sql, Params: p}, rec)
	if err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
	return rec, res
}

// exec runs statements one Query at a time (split on ";\n").
func exec(tb testing.TB, e *fixture, db, script string) {
	tb.Helper()
	for _, sql := range strings.Split(script, ";\n") {
		if strings.TrimSpace(sql) != "" {
			query(tb, e, db, sql, forge.Params{})
		}
	}
}

// queryInt runs a query that returns one integer.
func queryInt(tb testing.TB, e *fixture, db, sql string) int64 {
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
