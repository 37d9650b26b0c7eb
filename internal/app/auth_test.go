package app_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ft "github.com/praetorian/db-forge/functions/functest"
	gw "github.com/praetorian/db-forge/gateway"
	"github.com/praetorian/db-forge/internal/app"
	"github.com/praetorian/db-forge/internal/contracttest"
)

// Authentication end to end, over HTTP, on the real wiring: the key
// database in the engine, the admin key, the guard of every route.

// mintKey makes a key of db with the admin client and returns its id and
// token.
func mintKey(t *testing.T, admin contracttest.Client, db, body string) (id, token string) {
	t.Helper()
	r := admin.Do(t, "POST", "/admin/databases/"+db+"/keys", body)
	contracttest.Expect(t, r, 201, "")
	m := r.Body.(map[string]any)
	id, _ = m["id"].(string)
	token, _ = m["key"].(string)
	if id == "" || !strings.HasPrefix(token, "dbf_") {
		t.Fatalf("minted key: %s", r.Raw)
	}
	return id, token
}

// spawnKey spawns db and returns the api_key of its 201.
func spawnKey(t *testing.T, admin contracttest.Client, db string) string {
	t.Helper()
	r := admin.Do(t, "POST", "/admin/databases/spawn/"+db, nil)
	contracttest.Expect(t, r, 201, "")
	key, _ := r.Body.(map[string]any)["api_key"].(string)
	if !strings.HasPrefix(key, "dbf_") {
		t.Fatalf("spawn gave no api_key: %s", r.Raw)
	}
	return key
}

// TestAuthMatrix: every route × every kind of credential → the exact
// status (and, for refusals, the code). Within a row the admin key goes
// last, so the refusals before it must have changed nothing: the admin's
// spawn is still a 201, its prune and delete still find their target.
func TestAuthMatrix(t *testing.T) {
	// Two transactions per database: the admin's waits for the read-write
	// key's to expire (a 0.2 s lease) and is granted the writer then.
	// Three read-only ones (one per kind of key that may open one), each
	// holding a reader.
	g := start(t, t.TempDir(), "FORGE_MAX_TX_PER_DB=2", "FORGE_READERS_PER_DB=3")
	admin := g.client()
	rwKey := spawnKey(t, admin, "a")
	otherKey := spawnKey(t, admin, "b")
	spawnKey(t, admin, "p1")
	spawnKey(t, admin, "d1")
	// A database whose lease runs out, for the restore's row.
	contracttest.Expect(t, admin.Do(t, "POST", "/admin/databases/spawn/x1", `{"ttl": 1}`), 201, "")
	contracttest.Expect(t, admin.Do(t, "POST", "/api/db/a/query", `{"sql": "CREATE TABLE t(id INTEGER PRIMARY KEY, v)"}`), 200, "")
	contracttest.Expect(t, admin.Do(t, "POST", "/api/db/a/batch",
		`{"statements": [{"sql": "CREATE TABLE w(id INTEGER PRIMARY KEY, v)"}, {"sql": "CREATE TABLE dropme(x)"}]}`), 200, "")
	contracttest.Expect(t, admin.Do(t, "POST", "/api/db/a/checkpoints", `{"name": "m0"}`), 201, "")
	if st, body := g.deploy(t, "a", "echo", ft.Example(t, "echo")); st != 201 {
		t.Fatalf("deploy echo: %d %s", st, body)
	}
	_, roKey := mintKey(t, admin, "a", `{"scope": "read-only"}`)
	revokedID, revokedKey := mintKey(t, admin, "a", `{"scope": "read-write"}`)
	contracttest.Expect(t, admin.Do(t, "DELETE", "/admin/databases/a/keys/"+revokedID, nil), 200, "")
	_, expiredKey := mintKey(t, admin, "a", `{"scope": "read-write", "expires_in": 1}`)
	spareID, _ := mintKey(t, admin, "a", `{"scope": "read-only"}`)
	const wrongKey = "dbf_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	// Wait for the expiry (1 s after its creation, at millisecond precision).
	expired := admin.WithKey(expiredKey)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if r := expired.Do(t, "GET", "/api/db/a/tables/t/rows", nil); r.Status == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the key with expires_in 1 still works after 10 s")
		}
	}

	for deadline := time.Now().Add(10 * time.Second); !slices.Contains(trashNames(t, admin), "x1"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("x1 (ttl 1) is not in the trash after 10 s")
		}
	}

	kinds := []struct{ name, key string }{
		{"no key", ""}, {"wrong key", wrongKey}, {"other database's key", otherKey}, {"read-only key", roKey},
		{"read-write key", rwKey}, {"revoked key", revokedKey}, {"expired key", expiredKey}, {"admin key", g.adminKey},
	}
	const (
		unauth = "401 UNAUTHORIZED"
		forbid = "403 FORBIDDEN"
		rdonly = "403 READ_ONLY_KEY"
	)
	adminOnly := func(ok string) [8]string {
		return [8]string{unauth, unauth, forbid, forbid, forbid, unauth, unauth, ok}
	}
	public := func(st string) [8]string { return [8]string{st, st, st, st, st, st, st, st} }
	rows := []struct {
		method, path, body string
		want               [8]string // in the order of kinds
	}{
		{"GET", "/", "", public("200")},
		{"GET", "/health", "", public("200")},
		{"GET", "/openapi.json", "", public("200")},
		{"GET", "/docs", "", public("200")},
		{"GET", "/docs/swagger-ui.css", "", public("200")},
		{"GET", "/console", "", public("200")},
		{"GET", "/console/app.js", "", public("200")},
		{"GET", "/no/such/route", "", public("404 ROUTE_NOT_FOUND")},
		{"GET", "/admin/databases/spawn/x", "", public("405 METHOD_NOT_ALLOWED")},
		{"POST", "/admin/databases/spawn/new1", "", adminOnly("201")},
		{"POST", "/admin/databases/prune/p1", "", adminOnly("200")},
		{"GET", "/admin/databases", "", adminOnly("200")},
		{"GET", "/admin/databases/a", "", adminOnly("200")},
		{"GET", "/metrics", "", adminOnly("200")},
		{"DELETE", "/admin/databases/d1", "", adminOnly("200")},
		{"POST", "/admin/databases/a/integrity-check", "", adminOnly("200")},
		{"GET", "/admin/databases/a/integrity-check", "", public("405 METHOD_NOT_ALLOWED")},
		{"POST", "/admin/databases/a/keys", `{"scope": "read-only"}`, adminOnly("201")},
		{"GET", "/admin/databases/a/keys", "", adminOnly("200")},
		{"DELETE", "/admin/databases/a/keys/" + spareID, "", adminOnly("200")},
		{"POST", "/api/db/a/query", `{"sql": "SELECT count(*) AS n FROM t"}`,
			[8]string{unauth, unauth, forbid, "200", "200", unauth, unauth, "200"}},
		{"POST", "/api/db/a/query", `{"sql": "INSERT INTO t(v) VALUES (1)"}`,
			[8]string{unauth, unauth, forbid, rdonly, "200", unauth, unauth, "200"}},
		{"POST", "/api/db/a/query", `{"sql": "  with x(v) as (select 2) insert into t(v) select v from x"}`,
			[8]string{unauth, unauth, forbid, rdonly, "200", unauth, unauth, "200"}},
		{"POST", "/api/db/a/query", `{"sql": "PRAGMA user_version = 5"}`,
			[8]string{unauth, unauth, forbid, rdonly, "200", unauth, unauth, "200"}},
		{"POST", "/api/db/a/batch", `{"statements": [{"sql": "SELECT count(*) AS n FROM t"}, {"sql": "SELECT 1"}]}`,
			[8]string{unauth, unauth, forbid, "200", "200", unauth, unauth, "200"}},
		{"POST", "/api/db/a/batch", `{"statements": [{"sql": "SELECT 1"}, {"sql": "INSERT INTO t(v) VALUES (4)"}]}`,
			[8]string{unauth, unauth, forbid, rdonly, "200", unauth, unauth, "200"}},
		{"POST", "/api/db/a/tables", `{"table_name": "u", "columns": [{"name": "x", "type": "TEXT"}]}`,
			[8]string{unauth, unauth, forbid, rdonly, "201", unauth, unauth, "201"}},
		{"GET", "/api/db/a/tables/t/rows", "",
			[8]string{unauth, unauth, forbid, "200", "200", unauth, unauth, "200"}},
		{"POST", "/api/db/a/tables/t/rows", `{"rows": [{"v": 3}]}`,
			[8]string{unauth, unauth, forbid, rdonly, "201", unauth, unauth, "201"}},
		// The REST face of rows and schema (issue 12).
		{"PATCH", "/api/db/a/tables/w/rows?id=1", `{"set": {"v": 5}}`,
			[8]string{unauth, unauth, forbid, rdonly, "200", unauth, unauth, "200"}},
		{"DELETE", "/api/db/a/tables/w/rows?id__gt=100", "",
			[8]string{unauth, unauth, forbid, rdonly, "200", unauth, unauth, "200"}},
		{"GET", "/api/db/a/tables", "",
			[8]string{unauth, unauth, forbid, "200", "200", unauth, unauth, "200"}},
		{"GET", "/api/db/a/schema", "",
			[8]string{unauth, unauth, forbid, "200", "200", unauth, unauth, "200"}},
		{"GET", "/api/db/a/tables/t", "",
			[8]string{unauth, unauth, forbid, "200", "200", unauth, unauth, "200"}},
		// The read-write key drops it; the admin key then finds none.
		{"DELETE", "/api/db/a/tables/dropme", "",
			[8]string{unauth, unauth, forbid, rdonly, "200", unauth, unauth, "404 TABLE_NOT_FOUND"}},
		// A database key never learns anything about another name, not
		// even whether it is valid; the admin key gets the usual 400.
		{"POST", "/api/db/a..b/query", `{"sql": "SELECT 1"}`,
			[8]string{unauth, unauth, forbid, forbid, forbid, unauth, unauth, "400 INVALID_DATABASE_NAME"}},
		{"POST", "/api/db/ghost/query", `{"sql": "SELECT 1"}`,
			[8]string{unauth, unauth, forbid, forbid, forbid, unauth, unauth, "404 DATABASE_NOT_FOUND"}},
		// Exports, imports and checkpoints: a read key exports, a write key
		// imports and manages checkpoints. (contracttest's client sends
		// JSON, which the import refuses as a type once the key passed.)
		{"GET", "/api/db/a/export", "",
			[8]string{unauth, unauth, forbid, "200", "200", unauth, unauth, "200"}},
		{"GET", "/api/db/a/export?format=sql", "",
			[8]string{unauth, unauth, forbid, "200", "200", unauth, unauth, "200"}},
		{"POST", "/api/db/a/import", `{"sql": "INSERT INTO t(v) VALUES (9)"}`,
			[8]string{unauth, unauth, forbid, rdonly, "415 UNSUPPORTED_MEDIA_TYPE", unauth, unauth, "415 UNSUPPORTED_MEDIA_TYPE"}},
		{"POST", "/api/db/a/checkpoints", `{}`,
			[8]string{unauth, unauth, forbid, rdonly, "201", unauth, unauth, "201"}},
		{"GET", "/api/db/a/checkpoints", "",
			[8]string{unauth, unauth, forbid, rdonly, "200", unauth, unauth, "200"}},
		{"POST", "/api/db/a/checkpoints/none/restore", "",
			[8]string{unauth, unauth, forbid, rdonly, "404 CHECKPOINT_NOT_FOUND", unauth, unauth, "404 CHECKPOINT_NOT_FOUND"}},
		{"DELETE", "/api/db/a/checkpoints/none", "",
			[8]string{unauth, unauth, forbid, rdonly, "404 CHECKPOINT_NOT_FOUND", unauth, unauth, "404 CHECKPOINT_NOT_FOUND"}},
		// Leases and the trash: the admin's.
		{"POST", "/admin/databases/a/lease", `{"ttl": 3600}`, adminOnly("200")},
		{"GET", "/admin/trash", "", adminOnly("200")},
		{"POST", "/admin/trash/x1/restore", "", adminOnly("200")},
		// Diffs: a read key of the database against its checkpoint;
		// against another database, the admin key (or a key of the
		// other in X-Against-Key: TestDiffRoute).
		{"GET", "/api/db/a/diff?against=checkpoint:m0", "",
			[8]string{unauth, unauth, forbid, "200", "200", unauth, unauth, "200"}},
		{"GET", "/api/db/a/diff?against=db:b", "",
			[8]string{unauth, unauth, forbid, forbid, forbid, unauth, unauth, "200"}},
		// MCP: any valid key (the tools it lists follow the key: TestMCPTools).
		{"POST", "/mcp", `{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}`,
			[8]string{unauth, unauth, "200", "200", "200", unauth, unauth, "200"}},
		// The audit log: a key that may write the database, or the admin key.
		{"GET", "/api/db/a/audit?limit=5", "",
			[8]string{unauth, unauth, forbid, rdonly, "200", unauth, unauth, "200"}},
		// Functions: keys that may write deploy (contracttest's client
		// sends JSON, which the deploy refuses as a type once the key
		// passed) and delete; any key lists and calls.
		{"PUT", "/api/db/a/functions/f1", `{}`,
			[8]string{unauth, unauth, forbid, rdonly, "415 UNSUPPORTED_MEDIA_TYPE", unauth, unauth, "415 UNSUPPORTED_MEDIA_TYPE"}},
		{"GET", "/api/db/a/functions", "",
			[8]string{unauth, unauth, forbid, "200", "200", unauth, unauth, "200"}},
		{"GET", "/api/db/a/functions/echo", "",
			[8]string{unauth, unauth, forbid, "200", "200", unauth, unauth, "200"}},
		{"POST", "/api/db/a/functions/echo", `{"x": 1}`,
			[8]string{unauth, unauth, forbid, "200", "200", unauth, unauth, "200"}},
		{"DELETE", "/api/db/a/functions/none", "",
			[8]string{unauth, unauth, forbid, rdonly, "404 FUNCTION_NOT_FOUND", unauth, unauth, "404 FUNCTION_NOT_FOUND"}},
		// Interactive transactions, last: an open one holds the writer
		// (until its 0.2 s lease runs out). An id no key opened is 404.
		// A read-only key opens read-only transactions only, and may end
		// its own (it has none here: 404, as for any key).
		{"POST", "/api/db/a/transactions", `{"timeout": 0.2}`,
			[8]string{unauth, unauth, forbid, rdonly, "201", unauth, unauth, "201"}},
		{"POST", "/api/db/a/transactions", `{"timeout": 0.2, "read_only": true}`,
			[8]string{unauth, unauth, forbid, "201", "201", unauth, unauth, "201"}},
		{"POST", "/api/db/a/transactions/tx_none/commit", "",
			[8]string{unauth, unauth, forbid, "404 TRANSACTION_NOT_FOUND", "404 TRANSACTION_NOT_FOUND", unauth, unauth, "404 TRANSACTION_NOT_FOUND"}},
		{"POST", "/api/db/a/transactions/tx_none/rollback", "",
			[8]string{unauth, unauth, forbid, "404 TRANSACTION_NOT_FOUND", "404 TRANSACTION_NOT_FOUND", unauth, unauth, "404 TRANSACTION_NOT_FOUND"}},
	}
	// The matrix covers the route table: every route the gateway declares
	// has a row, whose refusals are those of the access it declares.
	matrix := make([]matrixRow, len(rows))
	for i, r := range rows {
		matrix[i] = matrixRow{r.method, r.path, r.want}
	}
	checkMatrixCoversRoutes(t, matrix)

	for _, row := range rows {
		for i, kind := range kinds {
			name := row.method + " " + row.path
			if strings.HasSuffix(row.path, "/query") || strings.HasSuffix(row.path, "/batch") || strings.HasSuffix(row.path, "/transactions") {
				name += " " + row.body
			}
			t.Run(name+"/"+kind.name, func(t *testing.T) {
				var body any
				if row.body != "" {
					body = row.body
				}
				r := admin.WithKey(kind.key).Do(t, row.method, row.path, body)
				status, code, _ := strings.Cut(row.want[i], " ")
				if fmt.Sprint(r.Status) != status {
					t.Fatalf("status %d, want %s; body %s", r.Status, row.want[i], r.Raw)
				}
				if code != "" {
					e, _ := r.Body.(map[string]any)["error"].(map[string]any)
					if e["code"] != code {
						t.Fatalf("code %v, want %s; body %s", e["code"], code, r.Raw)
					}
				}
				challenge := r.Header.Get("WWW-Authenticate")
				if (r.Status == 401) != strings.HasPrefix(challenge, "Bearer ") {
					t.Errorf("status %d with WWW-Authenticate %q", r.Status, challenge)
				}
			})
		}
	}

	// The refused writes wrote nothing: 1, 2, 3 and 4 came from the
	// read-write and admin keys, twice each (4: the batch's).
	contracttest.Expect(t, admin.Do(t, "POST", "/api/db/a/query", `{"sql": "SELECT v, count(*) AS n FROM t GROUP BY v ORDER BY v"}`), 200,
		`{"data": [{"v": 1, "n": 2}, {"v": 2, "n": 2}, {"v": 3, "n": 2}, {"v": 4, "n": 2}], "rows_affected": 4}`)

	// The access log names keys by id, and no token is ever written.
	logs := g.logs.String()
	if !strings.Contains(logs, `"key_id":"admin"`) || !strings.Contains(logs, `"key_id":"key_`) {
		t.Errorf("access log lacks key ids")
	}
	for _, k := range kinds[1:] {
		if strings.Contains(logs, k.key) || strings.Contains(logs, k.key[4:]) {
			t.Errorf("the log holds the %s", k.name)
		}
	}
}

// matrixRow is one row of TestAuthMatrix: a request and what each kind of
// credential gets (no key, wrong key, another database's key, read-only
// key, read-write key, revoked, expired, admin key).
type matrixRow struct {
	method, path string
	want         [8]string
}

// checkMatrixCoversRoutes checks rows against gateway.Routes(): each
// route has a row whose path matches its pattern, and the row's answers
// follow the route's access.
func checkMatrixCoversRoutes(t *testing.T, rows []matrixRow) {
	t.Helper()
	matches := func(pattern, path string) bool {
		path, _, _ = strings.Cut(path, "?")
		ps, qs := strings.Split(pattern, "/"), strings.Split(path, "/")
		if len(ps) != len(qs) {
			return false
		}
		for i := range ps {
			if strings.HasPrefix(ps[i], "{") {
				if qs[i] == "" {
					return false
				}
			} else if ps[i] != qs[i] {
				return false
			}
		}
		return true
	}
	const forbid, rdonly = "403 FORBIDDEN", "403 READ_ONLY_KEY"
	for _, r := range gw.Routes() {
		found := false
		for _, row := range rows {
			if row.method != r.Method || !matches(r.Pattern, row.path) {
				continue
			}
			// "spawn" is a database name to DELETE /admin/databases/{db_name}
			// too: a row belongs to the route the router picks, the
			// literal one.
			if strings.Contains(r.Pattern, "{db_name}") && (strings.Contains(row.path, "/spawn/") || strings.Contains(row.path, "/prune/")) &&
				!strings.Contains(r.Pattern, "/spawn/") && !strings.Contains(r.Pattern, "/prune/") {
				continue
			}
			found = true
			w := row.want
			var bad bool
			switch r.Access {
			case "public":
				bad = slices.ContainsFunc(w[:], func(s string) bool { return s != w[0] })
			case "admin":
				bad = w[4] != forbid || strings.HasPrefix(w[7], "40")
			case "read":
				bad = w[4] != forbid && w[3] == forbid
			case "write":
				bad = w[4] != forbid && w[3] != rdonly
			case "key":
				bad = w[0] != "401 UNAUTHORIZED" || slices.ContainsFunc([]string{w[2], w[3], w[4], w[7]}, func(s string) bool { return s[0] != '2' })
			default:
				t.Errorf("%s %s: unknown access %q", r.Method, r.Pattern, r.Access)
			}
			if bad {
				t.Errorf("auth matrix row %s %s %v does not follow the %s access of %s %s", row.method, row.path, w, r.Access, r.Method, r.Pattern)
			}
		}
		if !found {
			t.Errorf("the auth matrix has no row for %s %s", r.Method, r.Pattern)
		}
	}
}

// TestCredentials: where a key may be, and every way of getting it wrong.
func TestCredentials(t *testing.T) {
	g := start(t, t.TempDir())
	key := spawnKey(t, g.client(), "c")
	const path = "/api/db/c/query"
	body := sqlBody("SELECT 1 AS one")
	cases := []struct {
		name      string
		hdr       []string
		status    int
		detail    string
		challenge string
	}{
		{"bearer", []string{"Authorization: Bearer " + key}, 200, "", ""},
		{"bearer in lower case, spaces", []string{"Authorization: bearer    " + key + "  "}, 200, "", ""},
		{"X-API-Key", []string{"X-API-Key: " + key}, 200, "", ""},
		{"both, the same key", []string{"Authorization: Bearer " + key, "X-API-Key: " + key}, 200, "", ""},
		{"a proxy's Basic credentials beside X-API-Key", []string{"Authorization: Basic dXNlcjpwYXNz", "X-API-Key: " + key}, 200, "", ""},
		{"none", nil, 401, "Authentication required", `Bearer realm="db-forge"`},
		{"both, different keys", []string{"Authorization: Bearer " + key, "X-API-Key: " + g.adminKey}, 401, "Malformed credentials", `Bearer realm="db-forge", error="invalid_token"`},
		{"Basic alone", []string{"Authorization: Basic dXNlcjpwYXNz"}, 401, "Malformed credentials", `Bearer realm="db-forge", error="invalid_token"`},
		{"Bearer without a token", []string{"Authorization: Bearer"}, 401, "Malformed credentials", `Bearer realm="db-forge", error="invalid_token"`},
		{"the key without a scheme", []string{"Authorization: " + key}, 401, "Malformed credentials", `Bearer realm="db-forge", error="invalid_token"`},
		{"unknown key", []string{"X-API-Key: dbf_nope"}, 401, "Invalid API key.", `Bearer realm="db-forge", error="invalid_token"`},
		{"a key too long to be one", []string{"X-API-Key: " + strings.Repeat("k", 300)}, 401, "Invalid API key.", `Bearer realm="db-forge", error="invalid_token"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, g.url, "POST", path, body, tc.hdr...)
			if tc.status == 200 {
				want(t, r, 200, "", "")
				return
			}
			want(t, r, tc.status, "UNAUTHORIZED", tc.detail)
			if got := r.header.Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.challenge)
			}
		})
	}
}

// TestKeyRoutes: minting, listing and revoking keys, with every error.
func TestKeyRoutes(t *testing.T) {
	g := start(t, t.TempDir())
	admin := g.client()
	spawnKey(t, admin, "k")
	spawnKey(t, admin, "k2")

	// 201: the token appears here and nowhere else.
	before := time.Now().UTC().Truncate(time.Second)
	r := admin.Do(t, "POST", "/admin/databases/k/keys", `{"scope": "read-only", "expires_in": 3600}`)
	contracttest.Expect(t, r, 201, "")
	m := r.Body.(map[string]any)
	tok := m["key"].(string)
	if m["scope"] != "read-only" || m["db_name"] != "k" || m["prefix"] != tok[:12] || !strings.HasPrefix(m["id"].(string), "key_") {
		t.Fatalf("created key: %s", r.Raw)
	}
	created, err1 := time.Parse(time.RFC3339, m["created_at"].(string))
	expires, err2 := time.Parse(time.RFC3339, m["expires_at"].(string))
	if err1 != nil || err2 != nil || created.Before(before) || expires.Sub(created) < 3599*time.Second || expires.Sub(created) > 3601*time.Second {
		t.Fatalf("created_at / expires_at: %s", r.Raw)
	}
	r = admin.Do(t, "POST", "/admin/databases/k/keys", `{"scope": "read-write", "expires_in": null}`)
	contracttest.Expect(t, r, 201, "")
	if r.Body.(map[string]any)["expires_at"] != nil {
		t.Fatalf("expires_in null must never expire: %s", r.Raw)
	}

	// The list: the spawn's key and the two above; no secret.
	r = admin.Do(t, "GET", "/admin/databases/k/keys", nil)
	contracttest.Expect(t, r, 200, "")
	list := r.Body.([]any)
	if len(list) != 3 {
		t.Fatalf("list: %s", r.Raw)
	}
	if strings.Contains(string(r.Raw), tok) || strings.Contains(string(r.Raw), tok[12:]) || strings.Contains(string(r.Raw), `"key"`) {
		t.Fatalf("the list shows a secret: %s", r.Raw)
	}
	for _, it := range list {
		k := it.(map[string]any)
		for _, f := range []string{"id", "prefix", "db_name", "scope", "created_at", "expires_at", "revoked", "revoked_at"} {
			if _, ok := k[f]; !ok {
				t.Fatalf("listed key without %s: %v", f, k)
			}
		}
	}
	contracttest.Expect(t, admin.Do(t, "GET", "/admin/databases/k2/keys", nil), 200, "")

	// Revoke: 200, again 200; the key is listed as revoked and opens nothing.
	id := m["id"].(string)
	contracttest.Expect(t, admin.Do(t, "DELETE", "/admin/databases/k/keys/"+id, nil), 200,
		fmt.Sprintf(`{"message": "API key revoked.", "db_name": "k", "id": %q}`, id))
	contracttest.Expect(t, admin.Do(t, "DELETE", "/admin/databases/k/keys/"+id, nil), 200, "")
	contracttest.ExpectError(t, admin.WithKey(tok).Do(t, "GET", "/api/db/k/tables/t/rows", nil), 401, "API key revoked.")
	r = admin.Do(t, "GET", "/admin/databases/k/keys", nil)
	var revoked bool
	for _, it := range r.Body.([]any) {
		if k := it.(map[string]any); k["id"] == id {
			revoked = k["revoked"] == true && k["revoked_at"] != nil
		}
	}
	if !revoked {
		t.Fatalf("revoked key not listed as revoked: %s", r.Raw)
	}

	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code, detail             string
	}{
		{"unknown database", "POST", "/admin/databases/nope/keys", `{"scope": "read-only"}`, 404, "DATABASE_NOT_FOUND", "Database not found."},
		{"list of an unknown database", "GET", "/admin/databases/nope/keys", "", 404, "DATABASE_NOT_FOUND", "Database not found."},
		{"revoke on an unknown database", "DELETE", "/admin/databases/nope/keys/" + id, "", 404, "DATABASE_NOT_FOUND", "Database not found."},
		{"invalid name", "POST", "/admin/databases/-x/keys", `{"scope": "read-only"}`, 400, "INVALID_DATABASE_NAME", "Invalid database name."},
		{"unknown key id", "DELETE", "/admin/databases/k/keys/key_000000000000", "", 404, "KEY_NOT_FOUND", "API key not found."},
		{"another database's key id", "DELETE", "/admin/databases/k2/keys/" + id, "", 404, "KEY_NOT_FOUND", "API key not found."},
		{"the admin key's id", "DELETE", "/admin/databases/k/keys/admin", "", 404, "KEY_NOT_FOUND", "API key not found."},
		{"scope admin", "POST", "/admin/databases/k/keys", `{"scope": "admin"}`, 422, "INVALID_SCOPE", `Field "scope" must be`},
		{"scope unknown", "POST", "/admin/databases/k/keys", `{"scope": "write"}`, 422, "INVALID_SCOPE", `Field "scope" must be`},
		{"scope in another case", "POST", "/admin/databases/k/keys", `{"scope": "READ-ONLY"}`, 422, "INVALID_SCOPE", `Field "scope" must be`},
		{"expires_in zero", "POST", "/admin/databases/k/keys", `{"scope": "read-only", "expires_in": 0}`, 422, "INVALID_EXPIRY", `Field "expires_in" must be`},
		{"expires_in negative", "POST", "/admin/databases/k/keys", `{"scope": "read-only", "expires_in": -5}`, 422, "INVALID_EXPIRY", `Field "expires_in" must be`},
		{"expires_in fractional", "POST", "/admin/databases/k/keys", `{"scope": "read-only", "expires_in": 1.5}`, 422, "INVALID_EXPIRY", `Field "expires_in" must be`},
		{"expires_in beyond 100 years", "POST", "/admin/databases/k/keys", `{"scope": "read-only", "expires_in": 3153600001}`, 422, "INVALID_EXPIRY", `Field "expires_in" must be`},
		{"expires_in beyond int64", "POST", "/admin/databases/k/keys", `{"scope": "read-only", "expires_in": 99999999999999999999}`, 422, "INVALID_EXPIRY", `Field "expires_in" must be`},
		{"no scope", "POST", "/admin/databases/k/keys", `{"expires_in": 60}`, 422, "VALIDATION_ERROR", `Field "scope" is required`},
		{"empty body", "POST", "/admin/databases/k/keys", ``, 422, "VALIDATION_ERROR", "Request body is empty"},
		{"scope not a string", "POST", "/admin/databases/k/keys", `{"scope": 1}`, 422, "VALIDATION_ERROR", `Field "scope" must be a string`},
		{"expires_in a string", "POST", "/admin/databases/k/keys", `{"scope": "read-only", "expires_in": "60"}`, 422, "VALIDATION_ERROR", `Field "expires_in" must be a number`},
		{"unknown field", "POST", "/admin/databases/k/keys", `{"scope": "read-only", "db_name": "k2"}`, 400, "UNKNOWN_FIELD", `Unknown field "db_name"`},
		{"duplicate key", "POST", "/admin/databases/k/keys", `{"scope": "read-only", "scope": "read-write"}`, 400, "INVALID_JSON", "Invalid JSON"},
		{"not JSON", "POST", "/admin/databases/k/keys", `{"scope": `, 400, "INVALID_JSON", "Invalid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" || tc.method == "POST" {
				body = []byte(tc.body)
			}
			want(t, send(t, g.url, tc.method, tc.path, body, "Authorization: Bearer "+g.adminKey), tc.status, tc.code, tc.detail)
		})
	}
	// None of the refused requests made a key.
	if r := admin.Do(t, "GET", "/admin/databases/k/keys", nil); len(r.Body.([]any)) != 3 {
		t.Fatalf("keys after refusals: %s", r.Raw)
	}
	// An idempotent re-spawn makes no key (and shows none).
	r = admin.Do(t, "POST", "/admin/databases/spawn/k", nil)
	contracttest.Expect(t, r, 200, `{"message": "Database instance already exists and is running.", "db_name": "k", "container_id": ""}`)
	if r := admin.Do(t, "GET", "/admin/databases/k/keys", nil); len(r.Body.([]any)) != 3 {
		t.Fatalf("keys after a re-spawn: %s", r.Raw)
	}
}

// TestDeletedDatabaseKeys: deleting a database ends its keys, and a new
// database of the same name accepts none of them.
func TestDeletedDatabaseKeys(t *testing.T) {
	g := start(t, t.TempDir())
	admin := g.client()
	first := spawnKey(t, admin, "x")
	_, reader := mintKey(t, admin, "x", `{"scope": "read-only"}`)
	q := `{"sql": "SELECT 1 AS one"}`
	contracttest.Expect(t, admin.WithKey(first).Do(t, "POST", "/api/db/x/query", q), 200, "")
	contracttest.Expect(t, admin.Do(t, "DELETE", "/admin/databases/x", nil), 200, "")
	for _, k := range []string{first, reader} {
		contracttest.ExpectError(t, admin.WithKey(k).Do(t, "POST", "/api/db/x/query", q), 401, "Invalid API key.")
	}
	second := spawnKey(t, admin, "x")
	for _, k := range []string{first, reader} {
		contracttest.ExpectError(t, admin.WithKey(k).Do(t, "POST", "/api/db/x/query", q), 401, "Invalid API key.")
	}
	contracttest.Expect(t, admin.WithKey(second).Do(t, "POST", "/api/db/x/query", q), 200, "")
	if r := admin.Do(t, "GET", "/admin/databases/x/keys", nil); len(r.Body.([]any)) != 1 {
		t.Fatalf("the new x has the old keys: %s", r.Raw)
	}
}

// TestKeysSurviveRestart: with no FORGE_ADMIN_KEY the first start makes
// the admin key file (0600) and says where it is, never what it holds;
// after a restart the same admin key and every stored key work as before.
func TestKeysSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	g := start(t, dir, "FORGE_ADMIN_KEY=")
	keyFile := filepath.Join(dir, ".forge", "admin.key")
	for _, f := range []string{keyFile, filepath.Join(dir, ".forge", "meta.db")} {
		fi, err := os.Stat(f)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v, want mode 0600", f, fi, err)
		}
	}
	if !strings.HasPrefix(g.adminKey, "dbf_") {
		t.Fatalf("admin key file holds %d characters", len(g.adminKey))
	}
	logs := g.logs.String()
	if !strings.Contains(logs, "admin key created") || !strings.Contains(logs, keyFile) || strings.Contains(logs, g.adminKey[4:]) {
		t.Fatalf("first start must say where the new admin key is, and not what:\n%s", logs)
	}
	admin := g.client()
	rw := spawnKey(t, admin, "s")
	_, ro := mintKey(t, admin, "s", `{"scope": "read-only", "expires_in": 86400}`)
	goneID, gone := mintKey(t, admin, "s", `{"scope": "read-write"}`)
	contracttest.Expect(t, admin.Do(t, "DELETE", "/admin/databases/s/keys/"+goneID, nil), 200, "")
	listed := admin.Do(t, "GET", "/admin/databases/s/keys", nil).Raw
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}

	g2 := start(t, dir, "FORGE_ADMIN_KEY=")
	if g2.adminKey != g.adminKey {
		t.Fatal("the admin key changed across a restart")
	}
	if logs := g2.logs.String(); strings.Contains(logs, "admin key created") || !strings.Contains(logs, keyFile) || strings.Contains(logs, g.adminKey[4:]) {
		t.Fatalf("a restart must say where the admin key is, not create one, never show it:\n%s", logs)
	}
	admin = g2.client()
	if again := admin.Do(t, "GET", "/admin/databases/s/keys", nil).Raw; string(again) != string(listed) {
		t.Fatalf("keys changed across a restart:\nbefore %s\nafter  %s", listed, again)
	}
	write := `{"sql": "CREATE TABLE IF NOT EXISTS t(a)"}`
	contracttest.Expect(t, admin.WithKey(rw).Do(t, "POST", "/api/db/s/query", write), 200, "")
	contracttest.ExpectError(t, admin.WithKey(ro).Do(t, "POST", "/api/db/s/query", write), 403, "This API key is read-only*")
	contracttest.Expect(t, admin.WithKey(ro).Do(t, "GET", "/api/db/s/tables/t/rows", nil), 200, "")
	contracttest.ExpectError(t, admin.WithKey(gone).Do(t, "GET", "/api/db/s/tables/t/rows", nil), 401, "API key revoked.")

	// An admin key file others may read is refused at start.
	if err := g2.stop(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(keyFile, 0o640); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	err := runOnce(dir, &out)
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("start with a readable admin key file: %v", err)
	}
}

// TestRateLimit: past its rate a key gets 429 with Retry-After in whole
// seconds; other keys are not affected; the admin key is never limited.
func TestRateLimit(t *testing.T) {
	// One request per 100 s, two at once: the third is refused for ~100 s.
	g := start(t, t.TempDir(), "FORGE_RATE_LIMIT=0.01", "FORGE_RATE_BURST=2")
	admin := g.client()
	key := spawnKey(t, admin, "r")
	_, other := mintKey(t, admin, "r", `{"scope": "read-only"}`)
	q := sqlBody("SELECT 1")
	for i := 0; i < 2; i++ {
		want(t, send(t, g.url, "POST", "/api/db/r/query", q, "X-API-Key: "+key), 200, "", "")
	}
	r := send(t, g.url, "POST", "/api/db/r/query", q, "X-API-Key: "+key)
	want(t, r, 429, "RATE_LIMITED", "This API key has used up its request rate")
	if ra := r.header.Get("Retry-After"); ra != "100" && ra != "99" {
		t.Errorf("Retry-After %q, want the ~100 s to the next token, rounded up", ra)
	}
	want(t, send(t, g.url, "POST", "/api/db/r/query", q, "X-API-Key: "+other), 200, "", "")
	for i := 0; i < 20; i++ {
		want(t, send(t, g.url, "POST", "/api/db/r/query", q, "X-API-Key: "+g.adminKey), 200, "", "")
	}
}

// TestAuthDisabled: FORGE_AUTH=disabled opens every route, says so loudly
// at start, and keeps minting keys for when it is turned on.
func TestAuthDisabled(t *testing.T) {
	dir := t.TempDir()
	g := start(t, dir, "FORGE_AUTH=disabled")
	if !strings.Contains(g.logs.String(), "AUTHENTICATION IS DISABLED") {
		t.Fatalf("no loud warning at start:\n%s", g.logs.String())
	}
	open := contracttest.Client{Base: g.url, HTTP: g.http}
	key := spawnKey(t, open, "d")
	contracttest.Expect(t, open.Do(t, "GET", "/admin/databases", nil), 200, "")
	_, ro := mintKey(t, open, "d", `{"scope": "read-only"}`)
	// Credentials are ignored, even wrong ones, even a read-only key writing.
	contracttest.Expect(t, open.WithKey("dbf_wrong").Do(t, "POST", "/api/db/d/query", `{"sql": "CREATE TABLE t(a)"}`), 200, "")
	contracttest.Expect(t, open.WithKey(ro).Do(t, "POST", "/api/db/d/query", `{"sql": "INSERT INTO t VALUES (1)"}`), 200, "")
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
	// The keys minted meanwhile work once authentication is on.
	g = start(t, dir, "FORGE_ADMIN_KEY=")
	c := g.client()
	contracttest.Expect(t, c.WithKey(key).Do(t, "POST", "/api/db/d/query", `{"sql": "INSERT INTO t VALUES (2)"}`), 200, "")
	contracttest.ExpectError(t, c.WithKey(ro).Do(t, "POST", "/api/db/d/query", `{"sql": "INSERT INTO t VALUES (3)"}`), 403, "This API key is read-only*")
	contracttest.ExpectError(t, c.WithKey("").Do(t, "GET", "/admin/databases", nil), 401, "Authentication required*")
}

// runOnce starts a gateway on dir and stops it as soon as it is ready: the
// error is why it did not start.
func runOnce(dir string, out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := []string{"FORGE_LISTEN=127.0.0.1:0", "FORGE_DATA_DIR=" + dir, "FORGE_WASM_CACHE_DIR=" + sharedCache, "FORGE_BACKEND=local"}
	return app.Run(ctx, nil, env, out, func(string) { cancel() })
}
