// Package contracttest is the seed contract (shared/design/SEED-API.md) as a
// black-box HTTP test suite. It talks to a running gateway by URL only, so
// the same cases prove every orchestrator backend and every way of running
// the gateway (in-process, a container behind the stack).
package contracttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Config tells the suite what to expect of the backend under test.
type Config struct {
	BaseURL string // e.g. http://127.0.0.1:41234
	// ContainerIDs is set when spawn must return a non-empty container_id
	// (the Docker backend); the local backend returns "".
	ContainerIDs bool
	// Prefix makes database names unique to this run.
	Prefix string
	// APIKey, when set, is sent by every request as "Authorization:
	// Bearer <APIKey>": the admin key of a gateway that enforces
	// authentication. It also runs the authentication cases. Empty: no
	// key is sent (a gateway with FORGE_AUTH=disabled).
	APIKey string
}

// Client is a small JSON-over-HTTP client for tests.
type Client struct {
	Base string
	HTTP *http.Client
	// APIKey, when set, goes in every request's Authorization header as a
	// bearer token.
	APIKey string
}

// WithKey is c sending key instead of its own ("" = none).
func (c Client) WithKey(key string) Client {
	c.APIKey = key
	return c
}

// Response is a decoded answer.
type Response struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   any // decoded with UseNumber; nil if not JSON
}

// Do sends method path with body (string, []byte or a value to marshal).
func (c Client) Do(t testing.TB, method, path string, body any) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.Base+path, rd)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	r := Response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) == nil {
		r.Body = v
	}
	return r
}

// J parses a JSON literal the way responses are decoded, for comparisons.
func J(t testing.TB, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("bad expectation %s: %v", s, err)
	}
	return v
}

// Expect checks status and, when want is not "", the exact JSON body.
func Expect(t testing.TB, r Response, status int, want string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Raw)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if want != "" && !sameBody(r.Body, J(t, want)) {
		t.Fatalf("body\n got %s\nwant %s", r.Raw, want)
	}
}

// sameBody compares an answer with the contract's: equal, except that an
// object answer may have fields the contract does not name ("our own API
// may add fields", SEED-API.md: /query's "meta"). Below the top level,
// values must be equal: a row with an extra column is a different row.
func sameBody(got, want any) bool {
	g, gok := got.(map[string]any)
	w, wok := want.(map[string]any)
	if !gok || !wok {
		return reflect.DeepEqual(got, want)
	}
	for k, wv := range w {
		gv, ok := g[k]
		if !ok || !reflect.DeepEqual(gv, wv) {
			return false
		}
	}
	return true
}

// ExpectError checks an error answer: the status, the exact detail, and the
// structured error object beside it ({"code", "message", "status"}).
func ExpectError(t testing.TB, r Response, status int, detail string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Raw)
	}
	m, ok := r.Body.(map[string]any)
	if !ok {
		t.Fatalf("error body is not a JSON object: %s", r.Raw)
	}
	got, _ := m["detail"].(string)
	if strings.HasSuffix(detail, "*") {
		if !strings.HasPrefix(got, strings.TrimSuffix(detail, "*")) {
			t.Fatalf("detail %q, want prefix %q", got, strings.TrimSuffix(detail, "*"))
		}
	} else if got != detail {
		t.Fatalf("detail %q, want %q", got, detail)
	}
	e, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("no structured error object: %s", r.Raw)
	}
	if code, _ := e["code"].(string); code == "" || strings.ToUpper(code) != code {
		t.Errorf("error.code %q: want an UPPER_SNAKE code", code)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Errorf("error.message is empty")
	}
	if st, _ := e["status"].(json.Number); st.String() != fmt.Sprint(status) {
		t.Errorf("error.status %v, want %d", e["status"], status)
	}
}

// Run runs the whole contract against cfg.BaseURL, every exchange checked
// against the gateway's own OpenAPI document (ValidatingHTTP).
func Run(t *testing.T, cfg Config) {
	base := strings.TrimRight(cfg.BaseURL, "/")
	c := Client{Base: base, APIKey: cfg.APIKey, HTTP: ValidatingHTTP(t, base)}
	name := func(s string) string { return cfg.Prefix + s }

	t.Run("root", func(t *testing.T) {
		Expect(t, c.Do(t, "GET", "/", nil), 200, `{"message": "Praetorian DB-Forge is online."}`)
	})

	t.Run("lifecycle", func(t *testing.T) { runLifecycle(t, c, cfg, name("life")) })
	t.Run("invalid names", func(t *testing.T) { runInvalidNames(t, c) })
	t.Run("unknown database", func(t *testing.T) { runUnknownDatabase(t, c, name("ghost")) })

	db := name("data")
	r := c.Do(t, "POST", "/admin/databases/spawn/"+db, nil)
	if r.Status != 201 && r.Status != 200 {
		t.Fatalf("spawn %s: %d %s", db, r.Status, r.Raw)
	}
	defer c.Do(t, "DELETE", "/admin/databases/"+db, nil)
	t.Run("tables and rows", func(t *testing.T) { runTablesAndRows(t, c, db) })
	t.Run("query", func(t *testing.T) { runQuery(t, c, db) })
	t.Run("types", func(t *testing.T) { runTypes(t, c, db) })
	t.Run("params", func(t *testing.T) { runParams(t, c, db) })
	t.Run("bad bodies", func(t *testing.T) { runBadBodies(t, c, db) })
	t.Run("routing", func(t *testing.T) { runRouting(t, c) })
	if cfg.APIKey != "" {
		t.Run("authentication", func(t *testing.T) { runAuthentication(t, c, name("auth"), db) })
	}
}

// runAuthentication: a spawn's api_key opens its database and nothing
// else; no key is a 401 with a challenge; deleting the database ends the
// key, also for a new database of the same name.
func runAuthentication(t *testing.T, admin Client, db, other string) {
	r := admin.Do(t, "POST", "/admin/databases/spawn/"+db, nil)
	Expect(t, r, 201, "")
	key, _ := r.Body.(map[string]any)["api_key"].(string)
	if !strings.HasPrefix(key, "dbf_") {
		t.Fatalf("spawn gave no api_key: %s", r.Raw)
	}
	defer admin.Do(t, "DELETE", "/admin/databases/"+db, nil)
	anon, agent := admin.WithKey(""), admin.WithKey(key)
	query := `{"sql": "SELECT 1 AS one"}`

	r = anon.Do(t, "POST", "/api/db/"+db+"/query", query)
	ExpectError(t, r, 401, "Authentication required*")
	if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("401 without a Bearer challenge: %v", r.Header)
	}
	Expect(t, anon.Do(t, "GET", "/", nil), 200, "")
	Expect(t, agent.Do(t, "POST", "/api/db/"+db+"/query", query), 200, `{"data": [{"one": 1}], "rows_affected": 1}`)
	ExpectError(t, agent.Do(t, "POST", "/api/db/"+other+"/query", query), 403, "This API key is for another database.")
	ExpectError(t, agent.Do(t, "GET", "/admin/databases", nil), 403, "This route needs the admin key.")
	ExpectError(t, admin.WithKey(key+"x").Do(t, "POST", "/api/db/"+db+"/query", query), 401, "Invalid API key.")

	// A read-only key reads and cannot write, whatever the statement looks like.
	r = admin.Do(t, "POST", "/admin/databases/"+db+"/keys", `{"scope": "read-only"}`)
	Expect(t, r, 201, "")
	reader := admin.WithKey(r.Body.(map[string]any)["key"].(string))
	Expect(t, reader.Do(t, "POST", "/api/db/"+db+"/query", query), 200, "")
	for _, sql := range []string{"  create table t(a)", "PRAGMA user_version = 1"} {
		ExpectError(t, reader.Do(t, "POST", "/api/db/"+db+"/query", map[string]string{"sql": sql}), 403, "This API key is read-only*")
	}

	Expect(t, admin.Do(t, "DELETE", "/admin/databases/"+db, nil), 200, "")
	ExpectError(t, agent.Do(t, "POST", "/api/db/"+db+"/query", query), 401, "Invalid API key.")
	Expect(t, admin.Do(t, "POST", "/admin/databases/spawn/"+db, nil), 201, "")
	ExpectError(t, agent.Do(t, "POST", "/api/db/"+db+"/query", query), 401, "Invalid API key.")
}

func runLifecycle(t *testing.T, c Client, cfg Config, db string) {
	r := c.Do(t, "POST", "/admin/databases/spawn/"+db, nil)
	if r.Status != 201 {
		t.Fatalf("spawn: %d %s", r.Status, r.Raw)
	}
	m := r.Body.(map[string]any)
	if m["message"] != "Database instance spawned successfully." || m["db_name"] != db {
		t.Fatalf("spawn body: %s", r.Raw)
	}
	id, ok := m["container_id"].(string)
	if !ok || (cfg.ContainerIDs && id == "") || (!cfg.ContainerIDs && id != "") {
		t.Fatalf("container_id %v (backend with containers: %v)", m["container_id"], cfg.ContainerIDs)
	}

	r = c.Do(t, "POST", "/admin/databases/spawn/"+db, nil)
	Expect(t, r, 200, "")
	m = r.Body.(map[string]any)
	if m["message"] != "Database instance already exists and is running." || m["db_name"] != db || m["container_id"] != id {
		t.Fatalf("second spawn body: %s", r.Raw)
	}

	listed := func() map[string]any {
		r := c.Do(t, "GET", "/admin/databases", nil)
		Expect(t, r, 200, "")
		arr, ok := r.Body.([]any)
		if !ok {
			t.Fatalf("list is not an array: %s", r.Raw)
		}
		for _, it := range arr {
			o := it.(map[string]any)
			if o["name"] == db {
				return o
			}
		}
		return nil
	}
	o := listed()
	if o == nil {
		t.Fatalf("spawned %s not listed", db)
	}
	if o["container_id"] != id || o["status"] != "running" {
		t.Fatalf("list entry %v", o)
	}

	// Data written before a prune survives it.
	Expect(t, c.Do(t, "POST", "/api/db/"+db+"/query", `{"sql": "CREATE TABLE keep (v TEXT)"}`), 200, "")
	Expect(t, c.Do(t, "POST", "/api/db/"+db+"/query", `{"sql": "INSERT INTO keep VALUES ('kept')"}`), 200,
		`{"message": "Query executed successfully.", "rows_affected": 1}`)

	Expect(t, c.Do(t, "POST", "/admin/databases/prune/"+db, nil), 200,
		fmt.Sprintf(`{"message": "Database instance pruned successfully.", "db_name": %q}`, db))
	if listed() != nil {
		t.Fatalf("pruned %s still listed", db)
	}
	ExpectError(t, c.Do(t, "POST", "/admin/databases/prune/"+db, nil), 404, "Database instance not found.")

	// Spawning again brings the instance back over the kept data.
	r = c.Do(t, "POST", "/admin/databases/spawn/"+db, nil)
	Expect(t, r, 201, "")
	Expect(t, c.Do(t, "POST", "/api/db/"+db+"/query", `{"sql": "SELECT v FROM keep"}`), 200,
		`{"data": [{"v": "kept"}], "rows_affected": 1}`)

	Expect(t, c.Do(t, "DELETE", "/admin/databases/"+db, nil), 200,
		fmt.Sprintf(`{"message": "Database deleted successfully.", "db_name": %q}`, db))
	if listed() != nil {
		t.Fatalf("deleted %s still listed", db)
	}
	ExpectError(t, c.Do(t, "POST", "/api/db/"+db+"/query", `{"sql": "SELECT 1"}`), 404, "Database not found.")
	ExpectError(t, c.Do(t, "DELETE", "/admin/databases/"+db, nil), 404, "Database not found.")
}

func runInvalidNames(t *testing.T, c Client) {
	for _, n := range []string{"-x", "_x", "a..b", "x-wal", "x-SHM", "db-journal", "a%20b", "%C3%BC", strings.Repeat("a", 129)} {
		t.Run(n[:min(len(n), 12)], func(t *testing.T) {
			ExpectError(t, c.Do(t, "POST", "/admin/databases/spawn/"+n, nil), 400, "Invalid database name.")
			ExpectError(t, c.Do(t, "POST", "/api/db/"+n+"/query", `{"sql":"SELECT 1"}`), 400, "Invalid database name.")
		})
	}
}

func runUnknownDatabase(t *testing.T, c Client, db string) {
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/db/" + db + "/query", `{"sql": "SELECT 1"}`},
		{"POST", "/api/db/" + db + "/tables", `{"table_name": "t", "columns": [{"name": "a", "type": "TEXT"}]}`},
		{"GET", "/api/db/" + db + "/tables/t/rows", ""},
		{"POST", "/api/db/" + db + "/tables/t/rows", `{"rows": [{"a": 1}]}`},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			ExpectError(t, c.Do(t, tc.method, tc.path, body), 404, "Database not found.")
		})
	}
	ExpectError(t, c.Do(t, "POST", "/admin/databases/prune/"+db, nil), 404, "Database instance not found.")

	// Existence is decided before the request is judged: a missing database
	// is 404 whatever is wrong with the body (or query string). The
	// prototype's own test sends the first tables body below.
	for _, tc := range []struct{ name, method, path, body string }{
		{"tables, no columns", "POST", "/api/db/" + db + "/tables", `{"table_name": "test", "columns": []}`},
		{"tables, no table_name", "POST", "/api/db/" + db + "/tables", `{"columns": [{"name": "a", "type": "TEXT"}]}`},
		{"tables, bad type", "POST", "/api/db/" + db + "/tables", `{"table_name": "t", "columns": [{"name": "a", "type": "TEXT); --"}]}`},
		{"query, no sql", "POST", "/api/db/" + db + "/query", `{"params": []}`},
		{"query, sql not a string", "POST", "/api/db/" + db + "/query", `{"sql": 1}`},
		{"query, unknown field", "POST", "/api/db/" + db + "/query", `{"sql": "SELECT 1", "sqll": 1}`},
		{"select, filter twice", "GET", "/api/db/" + db + "/tables/t/rows?a=1&a=2", ""},
		{"insert, no rows", "POST", "/api/db/" + db + "/tables/t/rows", `{"rows": []}`},
		{"insert, rows not an array", "POST", "/api/db/" + db + "/tables/t/rows", `{"rows": {"a": 1}}`},
		{"insert, no body", "POST", "/api/db/" + db + "/tables/t/rows", ""},
	} {
		t.Run("invalid request/"+tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			ExpectError(t, c.Do(t, tc.method, tc.path, body), 404, "Database not found.")
		})
	}
	// A body that is not JSON at all may be refused first (FastAPI's 422).
	for _, path := range []string{"/query", "/tables", "/tables/t/rows"} {
		t.Run("not JSON/"+path, func(t *testing.T) {
			r := c.Do(t, "POST", "/api/db/"+db+path, `{"sql": `)
			switch r.Status {
			case 404:
				ExpectError(t, r, 404, "Database not found.")
			case 400, 422:
				ExpectError(t, r, r.Status, "*")
			default:
				t.Fatalf("status %d, want 404 (or 400/422 for the body); body %s", r.Status, r.Raw)
			}
		})
	}
}

func runTablesAndRows(t *testing.T, c Client, db string) {
	base := "/api/db/" + db
	spec := `{"table_name": "tasks", "columns": [{"name": "id", "type": "INTEGER", "primary_key": true}, {"name": "description", "type": "TEXT", "not_null": true}, {"name": "status", "type": "TEXT", "default": "pending"}]}`
	Expect(t, c.Do(t, "POST", base+"/tables", spec), 201, `{"message": "Table 'tasks' created successfully."}`)
	// CREATE TABLE IF NOT EXISTS semantics.
	Expect(t, c.Do(t, "POST", base+"/tables", spec), 201, `{"message": "Table 'tasks' created successfully."}`)

	Expect(t, c.Do(t, "POST", base+"/tables/tasks/rows", `{"rows": [{"description": "Write spec"}, {"description": "Ship it", "status": "done"}, {"id": 10, "description": "Celebrate"}]}`),
		201, `{"message": "Rows inserted successfully.", "rows_affected": 3}`)
	Expect(t, c.Do(t, "GET", base+"/tables/tasks/rows", nil), 200, `{"data": [
		{"id": 1, "description": "Write spec", "status": "pending"},
		{"id": 2, "description": "Ship it", "status": "done"},
		{"id": 10, "description": "Celebrate", "status": "pending"}], "rows_affected": 3}`)
	Expect(t, c.Do(t, "GET", base+"/tables/tasks/rows?status=pending", nil), 200, `{"data": [
		{"id": 1, "description": "Write spec", "status": "pending"},
		{"id": 10, "description": "Celebrate", "status": "pending"}], "rows_affected": 2}`)
	Expect(t, c.Do(t, "GET", base+"/tables/tasks/rows?status=pending&id=10", nil), 200,
		`{"data": [{"id": 10, "description": "Celebrate", "status": "pending"}], "rows_affected": 1}`)
	Expect(t, c.Do(t, "GET", base+"/tables/tasks/rows?status=nothing", nil), 200, `{"data": [], "rows_affected": 0}`)

	// Rows in rowid order whatever the insertion or index order.
	Expect(t, c.Do(t, "POST", base+"/tables", `{"table_name": "people", "columns": [{"name": "name", "type": "TEXT"}, {"name": "age", "type": "INTEGER"}]}`), 201, "")
	Expect(t, c.Do(t, "POST", base+"/tables/people/rows", `{"rows": [{"name": "Zed", "age": 30}, {"name": "Alice", "age": 30}, {"name": "Bob"}]}`), 201,
		`{"message": "Rows inserted successfully.", "rows_affected": 3}`)
	Expect(t, c.Do(t, "GET", base+"/tables/people/rows?age=30", nil), 200,
		`{"data": [{"name": "Zed", "age": 30}, {"name": "Alice", "age": 30}], "rows_affected": 2}`)

	// All rows or none: the second row breaks NOT NULL.
	r := c.Do(t, "POST", base+"/tables/tasks/rows", `{"rows": [{"description": "first"}, {"status": "no description"}]}`)
	ExpectError(t, r, 400, "SQL Error: NOT NULL constraint failed: tasks.description")
	Expect(t, c.Do(t, "GET", base+"/tables/tasks/rows?description=first", nil), 200, `{"data": [], "rows_affected": 0}`)

	// Column names are checked against the table; values are bound.
	r = c.Do(t, "GET", base+"/tables/tasks/rows?nope=1", nil)
	ExpectError(t, r, 400, "Unknown column 'nope' in table 'tasks'.")
	r = c.Do(t, "POST", base+"/tables/tasks/rows", `{"rows": [{"description": "x", "nope": 1}]}`)
	ExpectError(t, r, 400, "Unknown column 'nope' in table 'tasks'.")
	Expect(t, c.Do(t, "GET", base+"/tables/tasks/rows?description=x'%20OR%20'1'='1", nil), 200, `{"data": [], "rows_affected": 0}`)

	// An insert of no rows is refused with the prototype's words.
	ExpectError(t, c.Do(t, "POST", base+"/tables/tasks/rows", `{"rows": []}`), 400, "No rows provided.")

	ExpectError(t, c.Do(t, "GET", base+"/tables/missing/rows", nil), 404, "Table not found.")
	ExpectError(t, c.Do(t, "POST", base+"/tables/missing/rows", `{"rows": [{"a": 1}]}`), 404, "Table not found.")

	// Types must be type names, not SQL; names must be identifiers.
	ExpectError(t, c.Do(t, "POST", base+"/tables", `{"table_name": "evil", "columns": [{"name": "a", "type": "TEXT); DROP TABLE tasks; --"}]}`), 400, "Invalid column type*")
	ExpectError(t, c.Do(t, "POST", base+"/tables", `{"table_name": "evil\"; DROP TABLE tasks; --", "columns": [{"name": "a", "type": "TEXT"}]}`), 400, "Invalid table name*")
	Expect(t, c.Do(t, "GET", base+"/tables/tasks/rows?id=1", nil), 200, "")
}

func runQuery(t *testing.T, c Client, db string) {
	q := func(sql string, params any) Response {
		body := map[string]any{"sql": sql}
		if params != nil {
			body["params"] = params
		}
		return c.Do(t, "POST", "/api/db/"+db+"/query", body)
	}
	Expect(t, q("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL)", nil), 200,
		`{"message": "Query executed successfully.", "rows_affected": 0}`)
	Expect(t, q("INSERT INTO items (name, price) VALUES (?, ?), (?, ?)", []any{"lamp", 1100.0, "desk", 250.5}), 200,
		`{"message": "Query executed successfully.", "rows_affected": 2}`)
	// DDL does not repeat the previous statement's change count.
	Expect(t, q("CREATE INDEX items_name ON items(name)", nil), 200,
		`{"message": "Query executed successfully.", "rows_affected": 0}`)
	Expect(t, q("SELECT price, name, id FROM items ORDER BY id", nil), 200,
		`{"data": [{"price": 1100.0, "name": "lamp", "id": 1}, {"price": 250.5, "name": "desk", "id": 2}], "rows_affected": 2}`)
	// Column order follows the SELECT list, byte for byte.
	r := q("SELECT price, name, id FROM items WHERE id = 1", nil)
	if !bytes.Contains(r.Raw, []byte(`{"price":1100.0,"name":"lamp","id":1}`)) {
		t.Fatalf("row not in SELECT order or 1100.0 not kept a real: %s", r.Raw)
	}
	Expect(t, q("UPDATE items SET price = price * 2", nil), 200, `{"message": "Query executed successfully.", "rows_affected": 2}`)
	Expect(t, q("WITH cheap AS (SELECT * FROM items WHERE price < 1000) SELECT name FROM cheap", nil), 200,
		`{"data": [{"name": "desk"}], "rows_affected": 1}`)
	Expect(t, q("  insert into items (name) values ('chair') returning id, name", nil), 200,
		`{"data": [{"id": 3, "name": "chair"}], "rows_affected": 1}`)
	r = q("PRAGMA table_info(items)", nil)
	Expect(t, r, 200, "")
	if n := r.Body.(map[string]any)["rows_affected"]; n != json.Number("3") {
		t.Fatalf("PRAGMA table_info rows_affected %v: %s", n, r.Raw)
	}
	Expect(t, q("DELETE FROM items WHERE id > 1", nil), 200, `{"message": "Query executed successfully.", "rows_affected": 2}`)
	ExpectError(t, q("SELEC 1", nil), 400, `SQL Error: near "SELEC": syntax error`)
	ExpectError(t, q("SELECT * FROM nowhere", nil), 400, "SQL Error: no such table: nowhere")
	ExpectError(t, q("INSERT INTO items (id) VALUES (1)", nil), 400, "SQL Error: UNIQUE constraint failed: items.id")
	ExpectError(t, q("SELECT 1; SELECT 2", nil), 400, "SQL Error: You can only execute one statement at a time.")
	Expect(t, q("SELECT 1 AS one; -- trailing comment", nil), 200, `{"data": [{"one": 1}], "rows_affected": 1}`)
}

func runTypes(t *testing.T, c Client, db string) {
	r := c.Do(t, "POST", "/api/db/"+db+"/query",
		`{"sql": "SELECT 9007199254740993 AS big, -9223372036854775808 AS min, 9223372036854775807 AS max, 1100.0 AS real, 0.1 AS tenth, NULL AS nil, 'héllo \"q\"' AS text, x'00ff10' AS blob, 1e999 AS inf"}`)
	Expect(t, r, 200, `{"data": [{"big": 9007199254740993, "min": -9223372036854775808, "max": 9223372036854775807,
		"real": 1100.0, "tenth": 0.1, "nil": null, "text": "héllo \"q\"", "blob": {"$blob": "AP8Q"}, "inf": "Infinity"}], "rows_affected": 1}`)
	if !bytes.Contains(r.Raw, []byte(`"big":9007199254740993`)) || !bytes.Contains(r.Raw, []byte(`"real":1100.0`)) {
		t.Fatalf("integers must be written exactly and reals as reals: %s", r.Raw)
	}
	// Parameters bind as their JSON types and come back the same.
	r = c.Do(t, "POST", "/api/db/"+db+"/query",
		`{"sql": "SELECT ? AS i, typeof(?) AS ti, ? AS f, typeof(?) AS tf, ? AS s, ? AS n, ? AS b, typeof(?) AS tb, ? AS t", "params": [9007199254740993, 9007199254740993, 1.5, 1.0, "x", null, {"$blob": "AP8Q"}, {"$blob": ""}, true]}`)
	Expect(t, r, 200, `{"data": [{"i": 9007199254740993, "ti": "integer", "f": 1.5, "tf": "real", "s": "x", "n": null, "b": {"$blob": "AP8Q"}, "tb": "blob", "t": 1}], "rows_affected": 1}`)
}

func runParams(t *testing.T, c Client, db string) {
	path := "/api/db/" + db + "/query"
	Expect(t, c.Do(t, "POST", path, `{"sql": "SELECT :a AS a, @b AS b, $c AS c", "params": {"a": 1, "b": "two", "c": 3.5}}`), 200,
		`{"data": [{"a": 1, "b": "two", "c": 3.5}], "rows_affected": 1}`)
	ExpectError(t, c.Do(t, "POST", path, `{"sql": "SELECT ?, ?", "params": [1]}`), 400,
		"SQL Error: Incorrect number of bindings supplied. The current statement uses 2, and there are 1 supplied.")
	ExpectError(t, c.Do(t, "POST", path, `{"sql": "SELECT :a", "params": {"b": 1}}`), 400,
		"SQL Error: You did not supply a value for binding parameter :a.")
}

func runBadBodies(t *testing.T, c Client, db string) {
	path := "/api/db/" + db + "/query"
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"not json", `{"sql": `, 400},
		{"unknown field", `{"sql": "SELECT 1", "sqll": 1}`, 400},
		{"duplicate key", `{"sql": "SELECT 1", "sql": "SELECT 2"}`, 400},
		{"case-folded duplicate", `{"sql": "SELECT 1", "SQL": "DROP TABLE x"}`, 400},
		{"integer over int64", `{"sql": "SELECT ?", "params": [9223372036854775808]}`, 400},
		{"NUL in sql", `{"sql": "SELECT 1\u0000; DROP TABLE x"}`, 400},
		{"missing sql", `{"params": []}`, 422},
		{"sql not a string", `{"sql": 1}`, 422},
		{"body not an object", `[]`, 422},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ExpectError(t, c.Do(t, "POST", path, tc.body), tc.status, "*")
		})
	}
}

func runRouting(t *testing.T, c Client) {
	ExpectError(t, c.Do(t, "GET", "/no/such/route", nil), 404, "Not Found")
	ExpectError(t, c.Do(t, "GET", "/admin/databases/spawn/x", nil), 405, "Method Not Allowed")
}
