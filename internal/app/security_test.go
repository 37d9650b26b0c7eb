package app_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The sandbox and the limits, end to end: every rule gets its hostile
// request, the exact status and code, then proof that the database still
// serves and that another database never noticed (docs/SECURITY.md).

// reply is a response of the gateway.
type reply struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r reply) code() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (r reply) detail() string {
	d, _ := r.body["detail"].(string)
	return d
}

// send makes one request; hdr is "Name: value" pairs.
// sendHeadersOnly announces a POST body of length bytes, sends none, and
// reads the answer.
func sendHeadersOnly(t testing.TB, base, path string, length int, hdr ...string) reply {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	req := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", path, length)
	for _, h := range hdr {
		req += h + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func send(t testing.TB, base, method, path string, body []byte, hdr ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range hdr {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// sqlBody is the query route's body for sql.
func sqlBody(sql string, params ...any) []byte {
	m := map[string]any{"sql": sql}
	if params != nil {
		m["params"] = params
	}
	b, _ := json.Marshal(m)
	return b
}

// want checks status and code, and that the detail starts with detail.
func want(t testing.TB, r reply, status int, code, detail string) {
	t.Helper()
	if r.status != status || code != "" && r.code() != code {
		t.Fatalf("got %d %s, want %d %s; body %s", r.status, r.code(), status, code, r.raw)
	}
	if !strings.HasPrefix(r.detail(), detail) {
		t.Fatalf("detail %q, want it to start with %q", r.detail(), detail)
	}
	if st, _ := r.body["error"].(map[string]any); code != "" && fmt.Sprint(st["status"]) != fmt.Sprint(status) {
		t.Fatalf("error.status %v, want %d", st["status"], status)
	}
}

// fixture is a gateway with the database under attack, "db" (table t),
// and a sibling, "other", holding a secret.
type fixture struct {
	g   *gateway
	dir string
}

func newFixture(t *testing.T, env ...string) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{g: start(t, dir, env...), dir: dir}
	for _, db := range []string{"db", "other"} {
		want(t, f.send(t, "POST", "/admin/databases/spawn/"+db, nil), 201, "", "")
	}
	want(t, f.query(t, "db", "CREATE TABLE t(id INTEGER PRIMARY KEY, v)"), 200, "", "")
	want(t, f.query(t, "other", "CREATE TABLE secret(v)"), 200, "", "")
	want(t, f.query(t, "other", "INSERT INTO secret VALUES ('s3cret')"), 200, "", "")
	return f
}

// send makes a request with the admin key.
func (f *fixture) send(t testing.TB, method, path string, body []byte, hdr ...string) reply {
	t.Helper()
	return send(t, f.g.url, method, path, body, append([]string{"Authorization: Bearer " + f.g.adminKey}, hdr...)...)
}

func (f *fixture) query(t testing.TB, db, sql string, hdr ...string) reply {
	t.Helper()
	return f.send(t, "POST", "/api/db/"+db+"/query", sqlBody(sql), hdr...)
}

// usable asserts that db reads and writes and that other is intact.
func (f *fixture) usable(t testing.TB, db string) {
	t.Helper()
	if r := f.query(t, db, "SELECT 1 AS one"); r.status != 200 || !bytes.Contains(r.raw, []byte(`"one":1`)) {
		t.Fatalf("%s after: %d %s", db, r.status, r.raw)
	}
	if db == "db" {
		if r := f.query(t, db, "INSERT INTO t(v) VALUES ('after')"); r.status != 200 {
			t.Fatalf("write after: %d %s", r.status, r.raw)
		}
	}
	r := f.query(t, "other", "SELECT v FROM secret")
	// The seed's fields exactly; "meta" (an addition) follows.
	if r.status != 200 || !strings.HasPrefix(string(r.raw), `{"data":[{"v":"s3cret"}],"rows_affected":1,"meta":{`) {
		t.Fatalf("other database after: %d %s", r.status, r.raw)
	}
}

func nest(open, mid, close string, n int) string {
	return strings.Repeat(open, n) + mid + strings.Repeat(close, n)
}

func TestHostileSQL(t *testing.T) {
	f := newFixture(t, "FORGE_HEAP_LIMIT_MB=8", "FORGE_MAX_RESPONSE_BYTES=65536")
	sibling := filepath.Join(f.dir, "databases", "other", "other.db")
	outside := filepath.Join(t.TempDir(), "stolen.db")
	const noAuth = "SQL_NOT_AUTHORIZED"
	cases := []struct {
		name   string
		body   []byte
		status int
		code   string
		detail string
	}{
		{"attach a sibling", sqlBody("ATTACH '" + sibling + "' AS o"), 403, noAuth, "Not authorized: ATTACH is not allowed"},
		{"attach by parameter", sqlBody("ATTACH ? AS o", sibling), 403, noAuth, "Not authorized: ATTACH is not allowed"},
		{"vacuum into a file", sqlBody("VACUUM INTO '" + outside + "'"), 403, noAuth, "Not authorized: VACUUM is not allowed"},
		{"vacuum", sqlBody("VACUUM"), 403, noAuth, "Not authorized: VACUUM is not allowed"},
		{"journal_mode", sqlBody("PRAGMA journal_mode=DELETE"), 403, noAuth, "Not authorized: PRAGMA journal_mode is not allowed."},
		{"query_only", sqlBody("PRAGMA query_only=ON"), 403, noAuth, "Not authorized: PRAGMA query_only is not allowed."},
		{"foreign_keys", sqlBody("PRAGMA foreign_keys=OFF"), 403, noAuth, "Not authorized: PRAGMA foreign_keys"},
		{"synchronous", sqlBody("PRAGMA synchronous=OFF"), 403, noAuth, "Not authorized: PRAGMA synchronous"},
		{"max_page_count", sqlBody("PRAGMA max_page_count=2147483647"), 403, noAuth, "Not authorized: PRAGMA max_page_count can only be read"},
		{"pragma function", sqlBody("SELECT * FROM pragma_database_list"), 403, noAuth, "Not authorized: PRAGMA database_list"},
		{"temp table", sqlBody("CREATE TEMP TABLE x(a)"), 403, noAuth, "Not authorized: Temporary tables"},
		{"temp trigger", sqlBody("CREATE TRIGGER temp.x AFTER INSERT ON t BEGIN DELETE FROM t; END"), 403, noAuth, "Not authorized: Temporary tables"},
		{"virtual table module", sqlBody("CREATE VIRTUAL TABLE s USING spellfix1"), 403, noAuth, `Not authorized: Virtual table module "spellfix1"`},
		{"table_info is fine", sqlBody("PRAGMA table_info(t)"), 200, "", ""},
		{"fts5 is fine", sqlBody("CREATE VIRTUAL TABLE doc USING fts5(body)"), 200, "", ""},
		{"expression 400 deep", sqlBody("SELECT 1" + strings.Repeat("+1", 400)), 400, "SQL_ERROR", "SQL Error: Expression tree is too large (maximum depth 100)"},
		{"parentheses 400 deep", sqlBody("SELECT " + nest("1+(", "1", ")", 400)), 400, "SQL_ERROR", "SQL Error: Parentheses nest too deeply (maximum depth 100)."},
		{"subqueries 300 deep", sqlBody(nest("SELECT * FROM (", "SELECT 1", ")", 300)), 400, "SQL_ERROR", "SQL Error: Parentheses nest too deeply"},
		{"compound select", sqlBody("SELECT 1" + strings.Repeat(" UNION SELECT 1", 300)), 400, "SQL_ERROR", "SQL Error: too many terms in compound SELECT"},
		{"string too long", sqlBody("SELECT randomblob(5000000)"), 400, "SQL_ERROR", "SQL Error: string or blob too big"},
		{"sql too long", sqlBody("SELECT 1" + strings.Repeat(" ", 100_000)), 400, "SQL_ERROR", "SQL Error: "},
		{"out of memory", sqlBody("SELECT randomblob(3000000), randomblob(3000000), randomblob(3000000)"), 400, "MEMORY_LIMIT_EXCEEDED",
			"The statement needed more memory than a connection may use"},
		{"response too large", sqlBody("SELECT randomblob(30000) FROM generate_series(1, 5)"), 413, "RESPONSE_TOO_LARGE",
			"The result exceeds the response limit of 64 KiB"},
		{"returning too large", sqlBody("INSERT INTO t(v) SELECT randomblob(30000) FROM generate_series(1, 5) RETURNING v"), 413, "RESPONSE_TOO_LARGE", "The result"},
		{"NUL in sql", []byte(`{"sql": "SELECT 1\u0000; ATTACH 'x' AS y"}`), 400, "INVALID_JSON", "Invalid JSON"},
		{"invalid UTF-8 in sql", []byte("{\"sql\": \"SELECT '\xff'\"}"), 400, "INVALID_JSON", "Invalid JSON"},
		{"duplicate key", []byte(`{"sql": "SELECT 1", "sql": "DROP TABLE t"}`), 400, "INVALID_JSON", "Invalid JSON"},
		{"case-folded duplicate key", []byte(`{"sql": "SELECT 1", "SQL": "DROP TABLE t"}`), 400, "INVALID_JSON", "Invalid JSON"},
		{"unknown field", []byte(`{"sql": "SELECT 1", "database": "other"}`), 400, "UNKNOWN_FIELD", `Unknown field "database"`},
		{"integer beyond int64", []byte(`{"sql": "SELECT ?", "params": [9223372036854775808]}`), 400, "INVALID_VALUE", "params[0]: integer"},
		{"infinity is encoded", sqlBody("SELECT 1e999 AS x"), 200, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.send(t, "POST", "/api/db/db/query", tc.body)
			want(t, r, tc.status, tc.code, tc.detail)
			f.usable(t, "db")
		})
	}
	if r := f.query(t, "db", "SELECT 1e999 AS x"); !strings.HasPrefix(string(r.raw), `{"data":[{"x":"Infinity"}],"rows_affected":1,`) {
		t.Errorf("infinity: %s", r.raw)
	}
	if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(outside), "*")); len(matches) > 0 {
		t.Errorf("VACUUM INTO wrote %v", matches)
	}
	// The too-large INSERT ... RETURNING left nothing behind.
	if r := f.query(t, "db", "SELECT count(*) AS n FROM t WHERE length(v) = 30000"); !bytes.Contains(r.raw, []byte(`"n":0`)) {
		t.Errorf("a refused INSERT ... RETURNING committed rows: %s", r.raw)
	}
}

// TestEngineFaultOverHTTP: a statement that crashes its instance (a chain
// of views deeper than the wasm stack, which no SQLite limit bounds) is
// 500 ENGINE_FAULT; the instance is replaced and the database serves on.
func TestEngineFaultOverHTTP(t *testing.T) {
	f := newFixture(t)
	want(t, f.query(t, "db", "CREATE VIEW v0 AS SELECT 1 AS x"), 200, "", "")
	for i := 1; i <= 300; i++ {
		want(t, f.query(t, "db", fmt.Sprintf("CREATE VIEW v%d AS SELECT x FROM v%d", i, i-1)), 200, "", "")
	}
	// A fresh instance expands the whole chain at its first use.
	if err := f.g.stop(); err != nil {
		t.Fatal(err)
	}
	f.g = start(t, f.dir)
	r := f.query(t, "db", "SELECT * FROM v300")
	want(t, r, 500, "ENGINE_FAULT", "The statement crashed its SQLite instance; the instance was replaced and the database is unharmed.")
	f.usable(t, "db")
	want(t, f.query(t, "db", "DROP VIEW v300"), 200, "", "")
	want(t, f.query(t, "db", "SELECT * FROM v100"), 200, "", "")
}

func TestTimeoutsOverHTTP(t *testing.T) {
	f := newFixture(t, "FORGE_QUERY_TIMEOUT=2s", "FORGE_MAX_QUERY_TIMEOUT=4s")
	const runaway = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c"
	cases := []struct {
		name        string
		header      string
		status      int
		code        string
		least, most time.Duration
	}{
		{"default deadline", "", 504, "QUERY_TIMEOUT", 1900 * time.Millisecond, 20 * time.Second},
		{"shorter, in ms", "X-Query-Timeout: 300", 504, "QUERY_TIMEOUT", 250 * time.Millisecond, 1900 * time.Millisecond},
		{"longer, as a duration", "X-Query-Timeout: 3s", 504, "QUERY_TIMEOUT", 2900 * time.Millisecond, 20 * time.Second},
		{"over the maximum", "X-Query-Timeout: 5s", 400, "INVALID_QUERY_TIMEOUT", 0, 20 * time.Second},
		{"not a duration", "X-Query-Timeout: soon", 400, "INVALID_QUERY_TIMEOUT", 0, 20 * time.Second},
		{"zero", "X-Query-Timeout: 0", 400, "INVALID_QUERY_TIMEOUT", 0, 20 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.header != "" {
				hdr = append(hdr, tc.header)
			}
			start := time.Now()
			r := f.query(t, "db", runaway, hdr...)
			d := time.Since(start)
			want(t, r, tc.status, tc.code, "")
			if d < tc.least || d > tc.most {
				t.Errorf("answered after %v, want between %v and %v", d, tc.least, tc.most)
			}
			f.usable(t, "db")
		})
	}
	// Every data route takes the header.
	for _, rt := range []struct{ method, path, body string }{
		{"POST", "/api/db/db/tables", `{"table_name": "x", "columns": [{"name": "a", "type": "TEXT"}]}`},
		{"GET", "/api/db/db/tables/t/rows", ""},
		{"POST", "/api/db/db/tables/t/rows", `{"rows": [{"v": 1}]}`},
	} {
		var body []byte
		if rt.body != "" {
			body = []byte(rt.body)
		}
		want(t, f.send(t, rt.method, rt.path, body, "X-Query-Timeout: forever"), 400, "INVALID_QUERY_TIMEOUT", "X-Query-Timeout must be")
		if r := f.send(t, rt.method, rt.path, body, "X-Query-Timeout: 2500ms"); r.status >= 300 {
			t.Errorf("%s %s with a good X-Query-Timeout: %d %s", rt.method, rt.path, r.status, r.raw)
		}
	}
	// A transaction left open is rolled back when its request ends.
	want(t, f.query(t, "db", "BEGIN"), 200, "", "")
	want(t, f.query(t, "db", "INSERT INTO t(v) VALUES ('committed alone')"), 200, "", "")
	want(t, f.query(t, "db", "ROLLBACK"), 400, "SQL_ERROR", "SQL Error: cannot rollback - no transaction is active")
	f.usable(t, "db")
}

func TestQuotaOverHTTP(t *testing.T) {
	f := newFixture(t, "FORGE_MAX_DB_SIZE_MB=1")
	var r reply
	for i := 0; i < 30; i++ {
		if r = f.query(t, "db", "INSERT INTO t(v) VALUES (randomblob(100000))"); r.status != 200 {
			break
		}
	}
	want(t, r, 507, "DATABASE_FULL", "Database is full: it has reached its size limit.")
	rows := f.send(t, "POST", "/api/db/db/tables/t/rows", []byte(`{"rows": [{"v": "small"}, {"v": {"$blob": "`+
		strings.Repeat("AAAA", 100_000)+`"}}]}`))
	want(t, rows, 507, "DATABASE_FULL", "Database is full")
	// Reads go on; deleting makes room.
	want(t, f.send(t, "GET", "/api/db/db/tables/t/rows?v=small", nil), 200, "", "")
	want(t, f.query(t, "db", "DELETE FROM t"), 200, "", "")
	f.usable(t, "db")
	want(t, f.query(t, "db", "INSERT INTO t(v) VALUES (randomblob(100000))"), 200, "", "")
}

func TestInputHygieneOverHTTP(t *testing.T) {
	f := newFixture(t, "FORGE_MAX_BODY_BYTES=65536")
	cases := []struct {
		name, method, path string
		body               []byte
		status             int
		code, detail       string
	}{
		{"filter with NUL", "GET", "/api/db/db/tables/t/rows?v=a%00b", nil, 400, "INVALID_VALUE", "Filters must be valid UTF-8 without NUL bytes."},
		{"filter with invalid UTF-8", "GET", "/api/db/db/tables/t/rows?v=%FF", nil, 400, "INVALID_VALUE", "Filters must be"},
		{"filter on an unknown column", "GET", "/api/db/db/tables/t/rows?nope=1", nil, 400, "UNKNOWN_COLUMN", "Unknown column 'nope' in table 't'."},
		{"filter twice, case folded", "GET", "/api/db/db/tables/t/rows?v=1&V=2", nil, 400, "INVALID_VALUE", `Column "V" is filtered more than once.`},
		// Route parameters are percent-decoded: "t%00x" is a name with a
		// NUL, which the identifier check refuses before SQLite sees it.
		{"table name with an escaped NUL", "GET", "/api/db/db/tables/t%00x/rows", nil, 400, "INVALID_IDENTIFIER", "Invalid table name."},
		{"row key not a column", "POST", "/api/db/db/tables/t/rows", []byte(`{"rows": [{"v": 1, "x": 2}]}`), 400, "UNKNOWN_COLUMN", "Unknown column 'x'"},
		{"row key twice", "POST", "/api/db/db/tables/t/rows", []byte(`{"rows": [{"v": 1, "V": 2}]}`), 400, "INVALID_JSON", "Invalid JSON"},
		{"table identifier", "POST", "/api/db/db/tables", []byte(`{"table_name": "x; DROP TABLE t", "columns": [{"name": "a", "type": "TEXT"}]}`), 400, "INVALID_IDENTIFIER", "Invalid table name"},
		{"column type", "POST", "/api/db/db/tables", []byte(`{"table_name": "x", "columns": [{"name": "a", "type": "TEXT) ; DROP TABLE t; --"}]}`), 400, "INVALID_COLUMN_TYPE", "Invalid column type"},
		{"name with dotdot", "POST", "/admin/databases/spawn/a..b", nil, 400, "INVALID_DATABASE_NAME", "Invalid database name."},
		{"name of dots", "POST", "/api/db/.../query", sqlBody("SELECT 1"), 400, "INVALID_DATABASE_NAME", "Invalid database name."},
		{"reserved suffix", "POST", "/admin/databases/spawn/db-wal", nil, 400, "INVALID_DATABASE_NAME", "Invalid database name."},
		{"name too long", "POST", "/admin/databases/spawn/" + strings.Repeat("a", 129), nil, 400, "INVALID_DATABASE_NAME", "Invalid database name."},
		{"name differing in case", "POST", "/admin/databases/spawn/OTHER", nil, 409, "DATABASE_NAME_CONFLICT", "Database name conflicts"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want(t, f.send(t, tc.method, tc.path, tc.body), tc.status, tc.code, tc.detail)
			f.usable(t, "db")
		})
	}
	// The gateway answers an oversized body as soon as it has read the
	// headers, then closes without reading the body. A client still writing
	// the body can see that close as a reset before it reads the answer
	// (ordinary HTTP; a client that wants the status sends the headers
	// first), so this case speaks HTTP by hand: headers, no body, answer.
	t.Run("body too large", func(t *testing.T) {
		r := sendHeadersOnly(t, f.g.url, "/api/db/db/query", 70000, "Authorization: Bearer "+f.g.adminKey)
		want(t, r, 413, "BODY_TOO_LARGE", "Request body exceeds the limit of 64 KiB.")
		f.usable(t, "db")
	})
	t.Run("headers too large", func(t *testing.T) {
		r := f.send(t, "POST", "/api/db/db/query", sqlBody("SELECT 1"), "X-Padding: "+strings.Repeat("x", 8000))
		want(t, r, 431, "HEADERS_TOO_LARGE", "Request headers are too large.")
		f.usable(t, "db")
	})
	if _, err := os.Stat(filepath.Join(f.dir, "databases", "OTHER")); !os.IsNotExist(err) {
		t.Errorf("a database differing only in case was created: %v", err)
	}
}

// TestConcurrencyCaps: past the per-database cap a request gets 429, past
// the overall cap 503, both with Retry-After, at once; health still answers.
func TestConcurrencyCaps(t *testing.T) {
	f := newFixture(t, "FORGE_MAX_INFLIGHT=2", "FORGE_MAX_INFLIGHT_PER_DB=1")
	want(t, f.send(t, "POST", "/admin/databases/spawn/third", nil), 201, "", "")
	const runaway = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c"
	var wg sync.WaitGroup
	// hold keeps a request in flight on db for 3 s. It retries while the
	// caps turn it away: the probes below race it for a place.
	hold := func(db string) {
		wg.Go(func() {
			for {
				r := f.send(t, "POST", "/api/db/"+db+"/query", sqlBody(runaway), "X-Query-Timeout: 3s")
				if r.status == 429 || r.status == 503 {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				if r.status != 504 {
					t.Errorf("held request on %s: %d %s", db, r.status, r.raw)
				}
				return
			}
		})
	}
	// waitFor polls until a request on db gets status.
	waitFor := func(db string, status int) reply {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for {
			r := f.query(t, db, "SELECT 1")
			if r.status == status || time.Now().After(deadline) {
				return r
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	hold("db")
	r := waitFor("db", 429)
	want(t, r, 429, "TOO_MANY_REQUESTS", "Too many concurrent requests for this database; retry shortly.")
	if r.header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	// Another database is served meanwhile (two in flight of two).
	want(t, f.query(t, "other", "SELECT 1"), 200, "", "")
	hold("other")
	r = waitFor("third", 503)
	want(t, r, 503, "SERVER_BUSY", "The gateway is at its limit of concurrent requests; retry shortly.")
	if r.header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	want(t, f.send(t, "GET", "/health", nil), 200, "", "")
	wg.Wait()
	f.usable(t, "db")
	want(t, f.query(t, "third", "SELECT 1"), 200, "", "")
}

// TestSlowClients: a client that never finishes its headers is cut off
// after FORGE_READ_HEADER_TIMEOUT; a body still gets FORGE_READ_TIMEOUT.
func TestSlowClients(t *testing.T) {
	f := newFixture(t, "FORGE_READ_HEADER_TIMEOUT=300ms", "FORGE_READ_TIMEOUT=5s")
	addr := strings.TrimPrefix(f.g.url, "http://")

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST /api/db/db/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, _ := io.ReadAll(conn) // until the gateway closes the connection
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("a client stuck in its headers was held for %v", d)
	}
	if len(rest) > 0 && !bytes.Contains(rest, []byte("408")) {
		t.Errorf("answer to a stuck client: %q", rest)
	}

	// Headers in time, body slower than the header timeout: served.
	conn2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	body := `{"sql": "SELECT 1 AS one"}`
	fmt.Fprintf(conn2, "POST /api/db/db/query HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		f.g.adminKey, len(body), body[:5])
	time.Sleep(600 * time.Millisecond)
	if _, err := io.WriteString(conn2, body[5:]); err != nil {
		t.Fatal(err)
	}
	_ = conn2.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn2), nil)
	if err != nil {
		t.Fatalf("slow body: %v", err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Contains(got, []byte(`"one":1`)) {
		t.Fatalf("slow body: %d %s", resp.StatusCode, got)
	}
	f.usable(t, "db")
}
