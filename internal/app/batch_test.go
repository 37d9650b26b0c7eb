package app_test

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/praetorian/db-forge/internal/contracttest"
)

// batchDB starts a gateway with a database "b" holding table t(id INTEGER
// PRIMARY KEY, v TEXT UNIQUE) and the rows (1, 'one'), (2, 'two').
func batchDB(t *testing.T, env ...string) (*gateway, contracttest.Client, string) {
	t.Helper()
	dir := t.TempDir()
	g := start(t, dir, env...)
	c := g.client()
	key := spawnKey(t, c, "b")
	for _, sql := range []string{
		"CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT UNIQUE)",
		"INSERT INTO t VALUES (1, 'one'), (2, 'two')",
	} {
		contracttest.Expect(t, c.Do(t, "POST", "/api/db/b/query", fmt.Sprintf(`{"sql": %q}`, sql)), 200, "")
	}
	return g, c.WithKey(key), dir
}

func rowsOf(t *testing.T, c contracttest.Client) string {
	t.Helper()
	r := c.Do(t, "POST", "/api/db/b/query", `{"sql": "SELECT id, v FROM t ORDER BY id"}`)
	contracttest.Expect(t, r, 200, "")
	return fmt.Sprint(r.Body.(map[string]any)["data"])
}

func results(t *testing.T, r contracttest.Response) []map[string]any {
	t.Helper()
	m, _ := r.Body.(map[string]any)
	raw, ok := m["results"].([]any)
	if !ok {
		t.Fatalf("no results: %s", r.Raw)
	}
	out := make([]map[string]any, len(raw))
	for i, x := range raw {
		out[i] = x.(map[string]any)
	}
	return out
}

func errorOf(t *testing.T, r contracttest.Response) map[string]any {
	t.Helper()
	e, ok := r.Body.(map[string]any)["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object: %s", r.Raw)
	}
	return e
}

// TestBatchAtomic: a statement failing in the middle of a transaction
// batch leaves nothing of the batch, and the answer is its own error with
// its index.
func TestBatchAtomic(t *testing.T) {
	_, c, _ := batchDB(t)
	before := rowsOf(t, c)
	r := c.Do(t, "POST", "/api/db/b/batch", `{"statements": [
		{"sql": "INSERT INTO t(v) VALUES (?)", "params": ["three"]},
		{"sql": "UPDATE t SET v = 'uno' WHERE id = :id", "params": {"id": 1}},
		{"sql": "INSERT INTO t(v) VALUES ('two')"},
		{"sql": "INSERT INTO t(v) VALUES ('four')"}]}`)
	contracttest.ExpectError(t, r, 400, "SQL Error: UNIQUE constraint failed: t.v")
	e := errorOf(t, r)
	if fmt.Sprint(e["statement_index"]) != "2" || e["code"] != "SQL_ERROR" || e["sqlite_code"] != "SQLITE_CONSTRAINT_UNIQUE" {
		t.Fatalf("error %v", e)
	}
	if got := rowsOf(t, c); got != before {
		t.Fatalf("rows after a failed batch %s, want %s", got, before)
	}

	// The same batch without the failing statement applies whole.
	r = c.Do(t, "POST", "/api/db/b/batch", `{"statements": [
		{"sql": "INSERT INTO t(v) VALUES (?)", "params": ["three"]},
		{"sql": "UPDATE t SET v = 'uno' WHERE id = :id", "params": {"id": 1}},
		{"sql": "SELECT count(*) AS n FROM t"}], "transaction": true}`)
	contracttest.Expect(t, r, 200, "")
	res := results(t, r)
	if len(res) != 3 || fmt.Sprint(res[0]["rows_affected"]) != "1" || res[1]["message"] != "Query executed successfully." ||
		fmt.Sprint(res[2]["data"]) != "[map[n:3]]" {
		t.Fatalf("results %s", r.Raw)
	}
	if m := res[0]["meta"].(map[string]any); fmt.Sprint(m["last_insert_id"]) != "3" || fmt.Sprint(m["changes"]) != "1" {
		t.Fatalf("meta of the insert %v", m)
	}
	if got := rowsOf(t, c); got != "[map[id:1 v:uno] map[id:2 v:two] map[id:3 v:three]]" {
		t.Fatalf("rows %s", got)
	}

	// Transaction control belongs to the unit.
	r = c.Do(t, "POST", "/api/db/b/batch", `{"statements": [{"sql": "INSERT INTO t(v) VALUES ('x')"}, {"sql": "COMMIT"}]}`)
	if r.Status != 400 || fmt.Sprint(errorOf(t, r)["statement_index"]) != "1" {
		t.Fatalf("COMMIT in a batch: %d %s", r.Status, r.Raw)
	}
	if got := rowsOf(t, c); strings.Contains(got, "v:x") {
		t.Fatalf("rows %s", got)
	}
}

// TestBatchSeparate: with "transaction": false each statement stands
// alone: the failing one gets its error in its place, the others apply.
func TestBatchSeparate(t *testing.T) {
	_, c, _ := batchDB(t)
	r := c.Do(t, "POST", "/api/db/b/batch", `{"transaction": false, "statements": [
		{"sql": "INSERT INTO t(v) VALUES ('three')"},
		{"sql": "INSERT INTO t(v) VALUES ('one')"},
		{"sql": "SELEC 1"},
		{"sql": "SELECT v FROM t WHERE id = ?", "params": [3]}]}`)
	contracttest.Expect(t, r, 200, "")
	res := results(t, r)
	if len(res) != 4 {
		t.Fatalf("results %s", r.Raw)
	}
	if fmt.Sprint(res[0]["rows_affected"]) != "1" || fmt.Sprint(res[3]["data"]) != "[map[v:three]]" {
		t.Fatalf("results %s", r.Raw)
	}
	for i, want := range map[int]string{1: "SQLITE_CONSTRAINT_UNIQUE", 2: "SQLITE_ERROR"} {
		e, ok := res[i]["error"].(map[string]any)
		if !ok || e["code"] != "SQL_ERROR" || fmt.Sprint(e["status"]) != "400" || e["sqlite_code"] != want {
			t.Fatalf("result %d: %v", i, res[i])
		}
	}
	if got := rowsOf(t, c); got != "[map[id:1 v:one] map[id:2 v:two] map[id:3 v:three]]" {
		t.Fatalf("rows %s", got)
	}
	// A database that does not exist is 404 for the whole batch.
	r = g(c).Do(t, "POST", "/api/db/ghost/batch", `{"transaction": false, "statements": [{"sql": "SELECT 1"}]}`)
	if r.Status != 403 && r.Status != 404 {
		t.Fatalf("ghost: %d %s", r.Status, r.Raw)
	}
}

func g(c contracttest.Client) contracttest.Client { return c }

// TestBatchReadOnlyKey: a read-only key batches reads; a statement that
// writes is 403 READ_ONLY_KEY with its index and nothing is written.
func TestBatchReadOnlyKey(t *testing.T) {
	gw, c, _ := batchDB(t)
	_, ro := mintKey(t, gw.client(), "b", `{"scope": "read-only"}`)
	roc := c.WithKey(ro)
	r := roc.Do(t, "POST", "/api/db/b/batch", `{"statements": [{"sql": "SELECT count(*) AS n FROM t"}, {"sql": "SELECT v FROM t WHERE id = 2"}]}`)
	contracttest.Expect(t, r, 200, "")
	if res := results(t, r); fmt.Sprint(res[0]["data"], res[1]["data"]) != "[map[n:2]] [map[v:two]]" {
		t.Fatalf("results %s", r.Raw)
	}
	before := rowsOf(t, c)
	for _, separate := range []bool{false, true} {
		body := fmt.Sprintf(`{"transaction": %v, "statements": [{"sql": "SELECT 1"}, {"sql": "  with x(v) as (select 'w') insert into t(v) select v from x"}]}`, !separate)
		r = roc.Do(t, "POST", "/api/db/b/batch", body)
		if !separate {
			contracttest.ExpectError(t, r, 403, "This API key is read-only*")
			if e := errorOf(t, r); e["code"] != "READ_ONLY_KEY" || fmt.Sprint(e["statement_index"]) != "1" {
				t.Fatalf("error %v", e)
			}
			continue
		}
		contracttest.Expect(t, r, 200, "")
		if e, _ := results(t, r)[1]["error"].(map[string]any); e["code"] != "READ_ONLY_KEY" || fmt.Sprint(e["status"]) != "403" {
			t.Fatalf("results %s", r.Raw)
		}
	}
	if got := rowsOf(t, c); got != before {
		t.Fatalf("rows %s, want %s", got, before)
	}
}

// TestBatchCaps: FORGE_MAX_BATCH_STATEMENTS, and bodies of the wrong
// shape.
func TestBatchCaps(t *testing.T) {
	_, c, _ := batchDB(t, "FORGE_MAX_BATCH_STATEMENTS=3")
	three := `{"sql": "SELECT 1"}, {"sql": "SELECT 2"}, {"sql": "SELECT 3"}`
	contracttest.Expect(t, c.Do(t, "POST", "/api/db/b/batch", `{"statements": [`+three+`]}`), 200, "")
	r := c.Do(t, "POST", "/api/db/b/batch", `{"statements": [`+three+`, {"sql": "SELECT 4"}]}`)
	contracttest.ExpectError(t, r, 400, "The batch holds 4 statements; at most 3 are allowed (FORGE_MAX_BATCH_STATEMENTS).")
	if errorOf(t, r)["code"] != "TOO_MANY_STATEMENTS" {
		t.Fatalf("code: %s", r.Raw)
	}
	for body, want := range map[string]string{
		`{"statements": []}`:            "422 VALIDATION_ERROR",
		`{}`:                            "422 VALIDATION_ERROR",
		`{"statements": [{"sql": ""}]}`: "422 VALIDATION_ERROR",
		`{"statements": [{"sql": "SELECT 1"}], "transaction": 1}`: "422 VALIDATION_ERROR",
		`{"statements": [{"sql": "SELECT 1", "x": 1}]}`:           "400 UNKNOWN_FIELD",
		`{"statements": [{"sql": "SELECT 1"}], "x": 1}`:           "400 UNKNOWN_FIELD",
		`{"statements": [`: "400 INVALID_JSON",
	} {
		r := c.Do(t, "POST", "/api/db/b/batch", body)
		if got := fmt.Sprint(r.Status, " ", errorOf(t, r)["code"]); got != want {
			t.Errorf("%s: %s, want %s", body, got, want)
		}
	}
	// An unknown database comes first, as on every data route.
	r = c.Do(t, "POST", "/api/db/ghost/batch", `{"statements": []}`)
	if r.Status != 403 {
		t.Fatalf("ghost with a database key: %d", r.Status)
	}
}

// TestBatchDryRun: a dry run answers the statements' results and leaves
// the database file byte for byte as it was.
func TestBatchDryRun(t *testing.T) {
	_, c, dir := batchDB(t)
	before := rowsOf(t, c)
	sum := func() string {
		h := sha256.New()
		for _, suffix := range []string{"", "-wal"} {
			b, _ := os.ReadFile(filepath.Join(dir, "databases", "b", "b.db"+suffix))
			h.Write(b)
			h.Write([]byte{0})
		}
		return fmt.Sprintf("%x", h.Sum(nil))
	}
	was := sum()
	for _, tx := range []bool{true, false} {
		r := c.Do(t, "POST", "/api/db/b/batch", fmt.Sprintf(`{"dry_run": true, "transaction": %v, "statements": [
			{"sql": "INSERT INTO t(v) VALUES ('three')"},
			{"sql": "UPDATE t SET v = 'uno' WHERE id = 1"},
			{"sql": "DELETE FROM t WHERE id = 2"},
			{"sql": "SELECT count(*) AS n FROM t"}]}`, tx))
		contracttest.Expect(t, r, 200, "")
		if r.Body.(map[string]any)["dry_run"] != true {
			t.Fatalf("no dry_run: %s", r.Raw)
		}
		res := results(t, r)
		for i := range 3 {
			if fmt.Sprint(res[i]["rows_affected"]) != "1" {
				t.Fatalf("result %d: %s", i, r.Raw)
			}
		}
		want := "[map[n:2]]" // each statement alone saw the database as it is
		if tx {
			want = "[map[n:2]]" // one insert, one delete: 2 again, in the transaction
		}
		if fmt.Sprint(res[3]["data"]) != want {
			t.Fatalf("count %v, want %s", res[3]["data"], want)
		}
	}
	if got := rowsOf(t, c); got != before {
		t.Fatalf("rows %s, want %s", got, before)
	}
	if now := sum(); now != was {
		t.Fatal("the database file changed under a dry run")
	}
}

// TestQueryMeta: /query's answer keeps its fields and adds SQLite's
// counters.
func TestQueryMeta(t *testing.T) {
	_, c, _ := batchDB(t)
	meta := func(r contracttest.Response) map[string]any {
		t.Helper()
		contracttest.Expect(t, r, 200, "")
		m, ok := r.Body.(map[string]any)["meta"].(map[string]any)
		if !ok {
			t.Fatalf("no meta: %s", r.Raw)
		}
		if _, ok := m["duration_ms"].(json.Number); !ok {
			t.Fatalf("no duration_ms: %s", r.Raw)
		}
		return m
	}
	check := func(name string, m map[string]any, changes, lastID, written int) {
		t.Helper()
		if fmt.Sprintf("%v %v %v", m["changes"], m["last_insert_id"], m["rows_written"]) != fmt.Sprintf("%v %v %v", changes, lastID, written) {
			t.Errorf("%s: meta %v, want changes %v last_insert_id %v rows_written %v", name, m, changes, lastID, written)
		}
	}
	check("insert", meta(c.Do(t, "POST", "/api/db/b/query", `{"sql": "INSERT INTO t(v) VALUES ('a'), ('b')"}`)), 2, 4, 2)
	check("update", meta(c.Do(t, "POST", "/api/db/b/query", `{"sql": "UPDATE t SET v = v || '!' WHERE id > 2"}`)), 2, 0, 2)
	check("delete", meta(c.Do(t, "POST", "/api/db/b/query", `{"sql": "DELETE FROM t WHERE id = 4"}`)), 1, 0, 1)
	check("ddl", meta(c.Do(t, "POST", "/api/db/b/query", `{"sql": "CREATE TABLE log(x)"}`)), 0, 0, 0)
	contracttest.Expect(t, c.Do(t, "POST", "/api/db/b/query",
		`{"sql": "CREATE TRIGGER tl AFTER DELETE ON t BEGIN INSERT INTO log VALUES (old.id); END"}`), 200, "")
	check("delete with a trigger", meta(c.Do(t, "POST", "/api/db/b/query", `{"sql": "DELETE FROM t WHERE id = 3"}`)), 1, 0, 2)
	check("returning", meta(c.Do(t, "POST", "/api/db/b/query", `{"sql": "INSERT INTO t(v) VALUES ('r') RETURNING id"}`)), 1, 3, 1)
	sel := meta(c.Do(t, "POST", "/api/db/b/query", `{"sql": "SELECT * FROM t"}`))
	check("select", sel, 0, 0, 0)
	if n, _ := sel["full_scan_steps"].(json.Number).Int64(); n < 2 {
		t.Errorf("select: status counters %v", sel)
	}
	if pk := meta(c.Do(t, "POST", "/api/db/b/query", `{"sql": "SELECT * FROM t WHERE id = 1"}`)); fmt.Sprint(pk["full_scan_steps"]) != "0" {
		t.Errorf("point select scanned: %v", pk)
	}
}
