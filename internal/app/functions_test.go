package app_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/praetorian/db-forge/forge"
	ft "github.com/praetorian/db-forge/functions/functest"
	"github.com/praetorian/db-forge/internal/contracttest"
)

// call sends one request with key (the admin key when "") through the
// validating client.
func (g *gateway) call(t testing.TB, key, method, path, contentType string, body []byte, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, g.url+path, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	if key == "" {
		key = g.adminKey
	}
	req.Header.Set("X-API-Key", key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := g.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (g *gateway) deploy(t testing.TB, db, name string, module []byte) (int, string) {
	t.Helper()
	return g.call(t, "", "PUT", "/api/db/"+db+"/functions/"+name, "application/wasm", module)
}

func wantCode(t *testing.T, what string, status int, body string, wantStatus int, code string) {
	t.Helper()
	if status != wantStatus || !strings.Contains(body, `"code":"`+code+`"`) {
		t.Fatalf("%s: %d %s, want %d %s", what, status, body, wantStatus, code)
	}
}

// TestFunctionsOverHTTP: the examples, built with the Go toolchain,
// deployed, described, called and deleted over HTTP on the real engine.
func TestFunctionsOverHTTP(t *testing.T) {
	g := start(t, t.TempDir())
	admin := g.client()
	rw := spawnKey(t, admin, "fa")
	spawnKey(t, admin, "fb")
	_, ro := mintKey(t, admin, "fa", `{"scope": "read-only"}`)

	if st, body := g.deploy(t, "fa", "echo", ft.Example(t, "echo")); st != 201 || !strings.Contains(body, `"forge_handle"`) {
		t.Fatalf("deploy: %d %s", st, body)
	}
	if st, body := g.deploy(t, "fa", "echo", ft.Example(t, "echo")); st != 200 {
		t.Fatalf("redeploy: %d %s", st, body)
	}
	if st, body := g.call(t, ro, "POST", "/api/db/fa/functions/echo", "application/json", []byte(`{"a":[1,2]}`)); st != 200 || body != `{"a":[1,2]}` {
		t.Fatalf("echo: %d %s", st, body)
	}
	contracttest.Expect(t, admin.Do(t, "GET", "/api/db/fa/functions/echo", nil), 200, "")
	r := admin.Do(t, "GET", "/api/db/fa/functions", nil)
	contracttest.Expect(t, r, 200, "")
	if !strings.Contains(string(r.Raw), `"name":"echo"`) {
		t.Fatalf("list: %s", r.Raw)
	}
	// Another database has none of them.
	st, body := g.call(t, "", "POST", "/api/db/fb/functions/echo", "", nil)
	wantCode(t, "fb's echo", st, body, 404, forge.CodeFunctionNotFound)

	// A validated insert: the invalid one writes nothing, the valid one
	// commits; a read-only key's call cannot write.
	if st, body := g.deploy(t, "fa", "insert", ft.Example(t, "insert")); st != 201 {
		t.Fatalf("deploy insert: %d %s", st, body)
	}
	if st, body := g.call(t, rw, "POST", "/api/db/fa/functions/insert", "application/json", []byte(`{"title": ""}`)); st != 422 || !strings.Contains(body, "INVALID_TITLE") {
		t.Fatalf("invalid insert: %d %s", st, body)
	}
	if st, body := g.call(t, rw, "POST", "/api/db/fa/functions/insert", "application/json", []byte(`{"title": "hello", "body": "x"}`)); st != 200 || body != `{"id":1}` {
		t.Fatalf("insert: %d %s", st, body)
	}
	if st, body := g.call(t, ro, "POST", "/api/db/fa/functions/insert", "application/json", []byte(`{"title": "ro"}`)); st != 500 || !strings.Contains(body, "READ_ONLY_KEY") {
		t.Fatalf("read-only insert: %d %s", st, body)
	}
	contracttest.Expect(t, admin.Do(t, "POST", "/api/db/fa/query", `{"sql": "SELECT id, title FROM posts"}`), 200,
		`{"data": [{"id": 1, "title": "hello"}], "rows_affected": 1}`)

	// An aggregate over a table.
	contracttest.Expect(t, admin.Do(t, "POST", "/api/db/fa/batch", `{"statements": [
		{"sql": "CREATE TABLE orders(customer TEXT, amount REAL)"},
		{"sql": "INSERT INTO orders VALUES ('ann', 10), ('ann', 20.5), ('bob', 1)"}]}`), 200, "")
	if st, body := g.deploy(t, "fa", "aggregate", ft.Example(t, "aggregate")); st != 201 {
		t.Fatalf("deploy aggregate: %d %s", st, body)
	}
	if st, body := g.call(t, ro, "POST", "/api/db/fa/functions/aggregate", "application/json", []byte(`{"customer": "ann"}`)); st != 200 ||
		body != `{"average":15.25,"customer":"ann","orders":2,"total":30.5}` {
		t.Fatalf("aggregate: %d %s", st, body)
	}

	// A row by its id, encoded by the host (guest.QueryRow): text with
	// escapes, a real, a blob and NULL as /query writes them; none: 404.
	contracttest.Expect(t, admin.Do(t, "POST", "/api/db/fa/batch", `{"statements": [
		{"sql": "CREATE TABLE kv(id INTEGER PRIMARY KEY, name TEXT, score REAL, b BLOB, n)"},
		{"sql": "INSERT INTO kv VALUES (7, 'a \"q\" <é>', 0.5, x'0001', NULL)"}]}`), 200, "")
	if st, body := g.deploy(t, "fa", "lookup", ft.Example(t, "lookup")); st != 201 {
		t.Fatalf("deploy lookup: %d %s", st, body)
	}
	if st, body := g.call(t, ro, "POST", "/api/db/fa/functions/lookup", "application/json", []byte(`{"id": 7}`)); st != 200 ||
		body != `{"id":7,"name":"a \"q\" \u003cé\u003e","score":0.5,"b":{"base64":"AAE="},"n":null}` {
		t.Fatalf("lookup: %d %s", st, body)
	}
	st, body = g.call(t, ro, "POST", "/api/db/fa/functions/lookup", "application/json", []byte(`{"id": 8}`))
	wantCode(t, "lookup of none", st, body, 404, "NOT_FOUND")
	st, body = g.call(t, ro, "POST", "/api/db/fa/functions/lookup", "application/json", []byte(`[]`))
	wantCode(t, "lookup without id", st, body, 400, "BAD_INPUT")

	// Deploys refused.
	st, body = g.call(t, "", "PUT", "/api/db/fa/functions/x", "application/json", []byte(`{}`))
	wantCode(t, "json deploy", st, body, 415, "UNSUPPORTED_MEDIA_TYPE")
	st, body = g.deploy(t, "fa", "Bad-Name", ft.Example(t, "echo"))
	wantCode(t, "bad name", st, body, 400, forge.CodeFunctionInvalid)
	st, body = g.deploy(t, "fa", "junk", []byte("not wasm at all"))
	wantCode(t, "junk", st, body, 400, forge.CodeFunctionInvalid)
	st, body = g.deploy(t, "ghost", "echo", ft.Example(t, "echo"))
	wantCode(t, "no database", st, body, 404, "DATABASE_NOT_FOUND")

	// Delete; then a delete of the database takes its functions, and a
	// new database of the name has none.
	contracttest.Expect(t, admin.Do(t, "DELETE", "/api/db/fa/functions/aggregate", nil), 200, "")
	st, body = g.call(t, "", "GET", "/api/db/fa/functions/aggregate", "", nil)
	wantCode(t, "deleted", st, body, 404, forge.CodeFunctionNotFound)
	contracttest.Expect(t, admin.Do(t, "DELETE", "/admin/databases/fa", nil), 200, "")
	spawnKey(t, admin, "fa")
	st, body = g.call(t, "", "POST", "/api/db/fa/functions/echo", "", nil)
	wantCode(t, "echo of a new database", st, body, 404, forge.CodeFunctionNotFound)

	// Metrics per function.
	mr := admin.Do(t, "GET", "/metrics", nil)
	if !strings.Contains(string(mr.Raw), `forge_function_calls_total{code="ok",db="fa",function="echo"} 1`) {
		t.Errorf("metrics lack the echo's call:\n%s", mr.Raw)
	}
}

// TestFunctionTransactions: a call's statements commit together or not
// at all: a function that writes and then traps, runs out of time, asks
// for too much memory, answers too much or passes a bad pointer leaves
// nothing, and the gateway and other databases go on.
func TestFunctionTransactions(t *testing.T) {
	g := start(t, t.TempDir(), "FORGE_FUNCTION_MEMORY_MB=8", "FORGE_FUNCTION_MAX_OUTPUT_BYTES=1024")
	admin := g.client()
	spawnKey(t, admin, "tx")
	spawnKey(t, admin, "other")
	contracttest.Expect(t, admin.Do(t, "POST", "/api/db/tx/query", `{"sql": "CREATE TABLE t(v)"}`), 200, "")
	contracttest.Expect(t, admin.Do(t, "POST", "/api/db/other/query", `{"sql": "CREATE TABLE t(v)"}`), 200, "")

	imports := []ft.Import{
		{Module: "forge", Name: "query", Params: 4, Results: 1},   // 0
		{Module: "forge", Name: "respond", Params: 2, Results: 1}, // 1
	}
	sql := "INSERT INTO t VALUES (1)"
	insert := ft.Cat(ft.I32(1024), ft.I32(int32(len(sql))), ft.I32(0), ft.I32(0), ft.Call(0), []byte{ft.OpDrop})
	mod := func(body []byte) []byte {
		m := ft.Handle(imports, 0, ft.Cat(insert, body))
		m.Data = []ft.Data{{Offset: 1024, Bytes: []byte(sql)}}
		return m.Bytes()
	}
	cases := []struct {
		name   string
		body   []byte
		status int
		code   string
		hdr    []string
	}{
		{"ok", ft.I32(200), 200, "", nil},
		{"trap", []byte{ft.OpUnreachable}, 500, forge.CodeFunctionTrapped, nil},
		{"own_error", ft.I32(409), 409, "", nil},
		{"loop", ft.Cat([]byte{ft.OpLoop, ft.BlockVoid, ft.OpBr, 0, ft.OpEnd}, ft.I32(200)), 504, forge.CodeFunctionTimeout,
			[]string{"X-Query-Timeout", "300ms"}},
		{"grow", ft.Cat([]byte{ft.OpLoop, ft.BlockVoid}, ft.I32(1), []byte{ft.OpMemoryGrow, 0}, ft.I32(-1),
			[]byte{ft.OpI32Eq, ft.OpIf, ft.BlockVoid, ft.OpUnreachable, ft.OpEnd, ft.OpBr, 0, ft.OpEnd}, ft.I32(200)),
			400, forge.CodeFunctionMemoryLimit, nil},
		{"output", ft.Cat(ft.I32(0), ft.I32(4096), ft.Call(1)), 413, forge.CodeFunctionOutputLimit, nil},
		{"bad_pointer", ft.Cat(ft.I32(-8), ft.I32(100), ft.I32(0), ft.I32(0), ft.Call(0)), 500, forge.CodeFunctionTrapped, nil},
	}
	want := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if st, body := g.deploy(t, "tx", c.name, mod(c.body)); st != 201 {
				t.Fatalf("deploy: %d %s", st, body)
			}
			st, body := g.call(t, "", "POST", "/api/db/tx/functions/"+c.name, "", nil, c.hdr...)
			if st != c.status || (c.code != "" && !strings.Contains(body, `"code":"`+c.code+`"`)) {
				t.Fatalf("call: %d %s, want %d %s", st, body, c.status, c.code)
			}
			if c.status == 200 {
				want++
			}
			r := admin.Do(t, "POST", "/api/db/tx/query", `{"sql": "SELECT count(*) AS n FROM t"}`)
			contracttest.Expect(t, r, 200, "")
			if n := r.Body.(map[string]any)["data"].([]any)[0].(map[string]any)["n"]; fmt.Sprint(n) != fmt.Sprint(want) {
				t.Fatalf("rows after %s: %v, want %d", c.name, n, want)
			}
			contracttest.Expect(t, admin.Do(t, "POST", "/api/db/other/query", `{"sql": "INSERT INTO t VALUES (2)"}`), 200, "")
		})
	}
	// A module importing what the host does not offer, named.
	m := ft.Handle([]ft.Import{{Module: "env", Name: "system", Params: 1, Results: 1}}, 0, ft.I32(200))
	st, body := g.deploy(t, "tx", "foreign", m.Bytes())
	wantCode(t, "foreign import", st, body, 400, forge.CodeFunctionInvalid)
	if !strings.Contains(body, "env.system") {
		t.Fatalf("the refusal does not name the import: %s", body)
	}
}

// TestSQLFunction: a function deployed with sql_function is a scalar
// function of its database's SQL, of that database only; a module that
// runs SQL, or a name SQLite has, is refused; a delete takes it away.
func TestSQLFunction(t *testing.T) {
	g := start(t, t.TempDir())
	admin := g.client()
	spawnKey(t, admin, "sf")
	spawnKey(t, admin, "sg")
	contracttest.Expect(t, admin.Do(t, "POST", "/api/db/sf/batch", `{"statements": [
		{"sql": "CREATE TABLE posts(title TEXT)"},
		{"sql": "INSERT INTO posts VALUES ('Hello, World!'), ('  Go & WASM  '), (NULL)"}]}`), 200, "")
	// A connection is open before the deploy: the deploy refreshes it.
	contracttest.Expect(t, admin.Do(t, "POST", "/api/db/sf/query", `{"sql": "SELECT count(*) AS n FROM posts"}`), 200, "")
	q := `?sql_function=` + url.QueryEscape(`{"name": "slugify", "args": 1, "deterministic": true}`)
	if st, body := g.call(t, "", "PUT", "/api/db/sf/functions/slugify"+q, "application/wasm", ft.Example(t, "slugify")); st != 201 ||
		!strings.Contains(body, `"sql_function":{"name":"slugify","args":1,"deterministic":true}`) {
		t.Fatalf("deploy: %d %s", st, body)
	}
	contracttest.Expect(t, admin.Do(t, "POST", "/api/db/sf/query", `{"sql": "SELECT slugify(title) AS s FROM posts ORDER BY rowid"}`), 200,
		`{"data": [{"s": "hello-world"}, {"s": "go-wasm"}, {"s": null}], "rows_affected": 3}`)
	// Another database does not have it.
	r := admin.Do(t, "POST", "/api/db/sg/query", `{"sql": "SELECT slugify('x')"}`)
	if r.Status != 400 || !strings.Contains(string(r.Raw), "no such function") {
		t.Fatalf("sg: %d %s", r.Status, r.Raw)
	}
	// Refused: a module that runs SQL; a name SQLite has; a bad parameter.
	st, body := g.call(t, "", "PUT", "/api/db/sf/functions/ins"+q, "application/wasm", ft.Example(t, "insert"))
	wantCode(t, "SQL in an SQL function", st, body, 400, forge.CodeFunctionInvalid)
	st, body = g.call(t, "", "PUT", "/api/db/sf/functions/row"+q, "application/wasm", ft.Example(t, "lookup"))
	wantCode(t, "query_row in an SQL function", st, body, 400, forge.CodeFunctionInvalid)
	st, body = g.call(t, "", "PUT", "/api/db/sf/functions/up?sql_function="+url.QueryEscape(`{"name": "upper", "args": 1}`), "application/wasm", ft.Example(t, "slugify"))
	wantCode(t, "upper", st, body, 400, forge.CodeFunctionInvalid)
	st, body = g.call(t, "", "PUT", "/api/db/sf/functions/up?sql_function=nope", "application/wasm", ft.Example(t, "slugify"))
	wantCode(t, "bad sql_function", st, body, 400, "INVALID_VALUE")
	// Deleted: gone from SQL too.
	contracttest.Expect(t, admin.Do(t, "DELETE", "/api/db/sf/functions/slugify", nil), 200, "")
	r = admin.Do(t, "POST", "/api/db/sf/query", `{"sql": "SELECT slugify(title) FROM posts"}`)
	if r.Status != 400 || !strings.Contains(string(r.Raw), "no such function") {
		t.Fatalf("after delete: %d %s", r.Status, r.Raw)
	}
}
