package functions_test

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
	"github.com/praetorian/db-forge/functions"
	ft "github.com/praetorian/db-forge/functions/functest"
)

// dirs is Files over a temporary directory: databases are directories.
type dirs struct{ root string }

func (d dirs) Dir(db string) (string, error) { return filepath.Join(d.root, db), nil }
func (d dirs) Exists(db string) (bool, error) {
	_, err := os.Stat(filepath.Join(d.root, db))
	return err == nil, nil
}

// engine is a fake engine: a unit's statements are recorded, and kept
// as "committed" only when the unit commits.
type engine struct {
	mu        sync.Mutex
	committed []string
	units     int
}

type tx struct {
	ran []string
}

type row struct{}

func (row) Kind(int) forge.Kind { return forge.Integer }
func (row) Int(int) int64       { return 7 }
func (row) Float(int) float64   { return 0 }
func (row) Text(int) []byte     { return nil }
func (row) Blob(int) []byte     { return nil }
func (t *tx) Describe(context.Context, string) (forge.StatementInfo, error) {
	return forge.StatementInfo{}, nil
}

func (t *tx) Run(ctx context.Context, q forge.Statement, w forge.RowWriter) (forge.Result, error) {
	if strings.HasPrefix(q.SQL, "FAIL") {
		return forge.Result{}, &forge.SQLError{Message: "near FAIL: syntax error", Code: "SQLITE_ERROR"}
	}
	t.ran = append(t.ran, q.SQL)
	if strings.HasPrefix(q.SQL, "SELECT") {
		_ = w.Columns([]string{"id", "v"})
		_ = w.Row(row{})
		return forge.Result{ReturnsRows: true, RowsAffected: 1}, nil
	}
	return forge.Result{RowsAffected: 1}, nil
}

func (e *engine) unit(fn func(forge.Tx) error) error {
	t := &tx{}
	e.mu.Lock()
	e.units++
	e.mu.Unlock()
	if err := fn(t); err != nil {
		return err
	}
	e.mu.Lock()
	e.committed = append(e.committed, t.ran...)
	e.mu.Unlock()
	return nil
}

func (e *engine) Read(ctx context.Context, db string, fn func(forge.Tx) error) error {
	return e.unit(fn)
}

func (e *engine) Write(ctx context.Context, db string, fn func(forge.Tx) error) error {
	return e.unit(fn)
}

func newService(t testing.TB, cfg functions.Config) (*functions.Service, *engine) {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "db1"), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.MkdirAll(filepath.Join(root, "db2"), 0o755)
	eng := &engine{}
	if cfg.CacheDir == "" { // compiled code shared by the tests' runtimes (Go-built modules take seconds)
		cfg.CacheDir = filepath.Join(os.TempDir(), "db-forge-test-functions-cache")
	}
	s, err := functions.New(cfg, eng, dirs{root}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s, eng
}

func code(err error) string {
	var fe *forge.FunctionError
	if errors.As(err, &fe) {
		return fe.Code
	}
	if err != nil {
		return "other: " + err.Error()
	}
	return ""
}

func TestEchoExample(t *testing.T) {
	s, eng := newService(t, functions.Config{})
	ctx := context.Background()
	info, created, err := s.Deploy(ctx, "db1", "echo", ft.Example(t, "echo"), nil)
	if err != nil || !created || info.SHA256 == "" {
		t.Fatalf("deploy: %v %v %+v", err, created, info)
	}
	for i := range 3 {
		ans, err := s.Invoke(ctx, "db1", "echo", []byte(`{"i":1}`), false)
		if err != nil || ans.Status != 200 || string(ans.Body) != `{"i":1}` {
			t.Fatalf("call %d: %v %+v %s", i, err, ans, ans.Body)
		}
	}
	if eng.units != 0 {
		t.Fatalf("echo opened %d units", eng.units)
	}
	if _, err := s.Invoke(ctx, "db2", "echo", nil, false); code(err) != forge.CodeFunctionNotFound {
		t.Fatalf("another database's function: %v", err)
	}
	list, err := s.List(ctx, "db1")
	if err != nil || len(list) != 1 || list[0].Name != "echo" {
		t.Fatalf("list: %v %+v", err, list)
	}
	if err := s.Delete(ctx, "db1", "echo"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Invoke(ctx, "db1", "echo", nil, false); code(err) != forge.CodeFunctionNotFound {
		t.Fatalf("deleted: %v", err)
	}
}

func TestLookupAndInsertExamples(t *testing.T) {
	s, eng := newService(t, functions.Config{})
	ctx := context.Background()
	if _, _, err := s.Deploy(ctx, "db1", "lookup", ft.Example(t, "lookup"), nil); err != nil {
		t.Fatal(err)
	}
	ans, err := s.Invoke(ctx, "db1", "lookup", []byte(`{"id":7}`), false)
	if err != nil || ans.Status != 200 || string(ans.Body) != `{"id":7,"v":7}` {
		t.Fatalf("lookup: %v %d %s", err, ans.Status, ans.Body)
	}
	if _, _, err := s.Deploy(ctx, "db1", "insert", ft.Example(t, "insert"), nil); err != nil {
		t.Fatal(err)
	}
	ans, err = s.Invoke(ctx, "db1", "insert", []byte(`{"title":""}`), false)
	if err != nil || ans.Status != 422 {
		t.Fatalf("invalid insert: %v %d %s", err, ans.Status, ans.Body)
	}
	n := len(eng.committed)
	ans, err = s.Invoke(ctx, "db1", "insert", []byte(`{"title":"hello"}`), false)
	if err != nil || ans.Status != 200 || len(eng.committed) != n+2 {
		t.Fatalf("insert: %v %d %s %v", err, ans.Status, ans.Body, eng.committed)
	}
}

var hostImports = []ft.Import{
	{Module: "forge", Name: "query", Params: 4, Results: 1},   // 0
	{Module: "forge", Name: "respond", Params: 2, Results: 1}, // 1
}

// rowImports: hostImports and query_row (2).
var rowImports = append(append([]ft.Import(nil), hostImports...), ft.Import{Module: "forge", Name: "query_row", Params: 4, Results: 1})

func TestHostileModules(t *testing.T) {
	s, eng := newService(t, functions.Config{MemoryLimitBytes: 4 << 20, MaxOutputBytes: 1024})
	ctx := context.Background()
	sql := []byte("INSERT x")
	// Each first runs a statement (so there is something to roll back),
	// then misbehaves.
	insert := ft.Cat(ft.I32(1024), ft.I32(int32(len(sql))), ft.I32(0), ft.I32(0), ft.Call(0), []byte{ft.OpDrop})
	data := []ft.Data{{Offset: 1024, Bytes: sql}}
	cases := []struct {
		name   string
		mod    ft.Module
		deploy string // the deploy's code; "" = deploys
		call   string
	}{
		{name: "loop", mod: ft.Handle(hostImports, 0, ft.Cat(insert, []byte{ft.OpLoop, ft.BlockVoid, ft.OpBr, 0, ft.OpEnd}, ft.I32(200))),
			call: forge.CodeFunctionTimeout},
		{name: "grow", mod: ft.Handle(hostImports, 0, ft.Cat(insert, []byte{ft.OpLoop, ft.BlockVoid},
			ft.I32(1), []byte{ft.OpMemoryGrow, 0}, ft.I32(-1), []byte{ft.OpI32Eq, ft.OpIf, ft.BlockVoid, ft.OpUnreachable, ft.OpEnd, ft.OpBr, 0, ft.OpEnd}, ft.I32(200))),
			call: forge.CodeFunctionMemoryLimit},
		{name: "recursion", mod: ft.Module{Imports: hostImports, MinPages: 1, Funcs: []ft.Func{
			{Results: 1, Body: ft.Cat(insert, ft.Call(3)), Export: "forge_handle"},
			{Results: 1, Body: ft.Call(3)},
		}}, call: forge.CodeFunctionTrapped},
		{name: "bad-pointer", mod: ft.Handle(hostImports, 0, ft.Cat(insert, ft.I32(-16), ft.I32(64), ft.I32(0), ft.I32(0), ft.Call(0))),
			call: forge.CodeFunctionTrapped},
		{name: "bad-query-row-pointer", mod: ft.Handle(rowImports, 0, ft.Cat(insert, ft.I32(1024), ft.I32(8), ft.I32(65530), ft.I32(100), ft.Call(2))),
			call: forge.CodeFunctionTrapped},
		{name: "bad-respond-pointer", mod: ft.Handle(hostImports, 0, ft.Cat(insert, ft.I32(65530), ft.I32(100), ft.Call(1))),
			call: forge.CodeFunctionTrapped},
		{name: "output", mod: ft.Handle(hostImports, 0, ft.Cat(insert, ft.I32(0), ft.I32(2000), ft.Call(1))),
			call: forge.CodeFunctionOutputLimit},
		{name: "unreachable", mod: ft.Handle(hostImports, 0, ft.Cat(insert, []byte{ft.OpUnreachable})),
			call: forge.CodeFunctionTrapped},
		{name: "foreign-import", mod: ft.Handle([]ft.Import{{Module: "env", Name: "system", Params: 1, Results: 1}}, 0, ft.I32(200)),
			deploy: forge.CodeFunctionInvalid},
		{name: "wrong-import-type", mod: ft.Handle([]ft.Import{{Module: "forge", Name: "query", Params: 1, Results: 1}}, 0, ft.I32(200)),
			deploy: forge.CodeFunctionInvalid},
		{name: "wrong-query-row-type", mod: ft.Handle([]ft.Import{{Module: "forge", Name: "query_row", Params: 4, Results: 0}}, 0, ft.I32(200)),
			deploy: forge.CodeFunctionInvalid},
		{name: "huge-memory", mod: ft.Module{MinPages: 1000, Funcs: []ft.Func{{Results: 1, Body: ft.I32(200), Export: "forge_handle"}}},
			deploy: forge.CodeFunctionMemoryLimit},
		{name: "data-out-of-memory", mod: ft.Module{MinPages: 1, Data: []ft.Data{{Offset: 70000, Bytes: make([]byte, 1000)}},
			Funcs: []ft.Func{{Results: 1, Body: ft.I32(200), Export: "forge_handle"}}},
			deploy: forge.CodeFunctionInvalid},
		{name: "no-entry", mod: ft.Module{MinPages: 1, Funcs: []ft.Func{{Results: 1, Body: ft.I32(200), Export: "main"}}},
			deploy: forge.CodeFunctionInvalid},
		{name: "bad-status", mod: ft.Handle(hostImports, 0, ft.Cat(insert, ft.I32(302))), call: forge.CodeFunctionTrapped},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := c.mod
			m.Data = append(m.Data, data...)
			_, _, err := s.Deploy(ctx, "db1", strings.ReplaceAll(c.name, "-", "_"), m.Bytes(), nil)
			if code(err) != c.deploy {
				t.Fatalf("deploy: %v, want %q", err, c.deploy)
			}
			if c.deploy != "" {
				return
			}
			before := len(eng.committed)
			// The loop's deadline; the others get a deadline far past what
			// they need (the recursion's stack overflow took over 5 s, the
			// default, under -race on a busy machine: a timeout, not a trap).
			limit := 300 * time.Millisecond
			if c.call != forge.CodeFunctionTimeout {
				limit = 50 * time.Second
			}
			cctx, cancel := context.WithTimeout(ctx, limit)
			defer cancel()
			_, err = s.Invoke(cctx, "db1", strings.ReplaceAll(c.name, "-", "_"), nil, false)
			if code(err) != c.call {
				t.Fatalf("call: %v, want %q", err, c.call)
			}
			if len(eng.committed) != before {
				t.Fatalf("committed %v", eng.committed[before:])
			}
			// The gateway goes on: another function still runs.
			if _, _, err := s.Deploy(ctx, "db2", "echo", ft.Example(t, "echo"), nil); err != nil {
				t.Fatal(err)
			}
			if ans, err := s.Invoke(ctx, "db2", "echo", []byte("1"), false); err != nil || string(ans.Body) != "1" {
				t.Fatalf("echo after: %v", err)
			}
		})
	}
}
