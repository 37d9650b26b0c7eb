package app_test

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/praetorian/db-forge/internal/contracttest"
)

// fileSum is the sha256 of database b's file and its WAL.
func fileSum(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	for _, suffix := range []string{"", "-wal"} {
		b, _ := os.ReadFile(filepath.Join(dir, "databases", "b", "b.db"+suffix))
		h.Write(b)
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// changesOf is the "changes" of an answer (or of a result), as JSON.
func changesOf(t *testing.T, m map[string]any) string {
	t.Helper()
	c, ok := m["changes"]
	if !ok {
		t.Fatalf("no changes in %v", m)
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// TestDryRunQuery: "dry_run": true on /query answers the statement's
// result with the rows it changed, and leaves the database file byte for
// byte as it was.
func TestDryRunQuery(t *testing.T) {
	gw, c, dir := batchDB(t)
	before, was := rowsOf(t, c), fileSum(t, dir)
	for _, tc := range []struct {
		sql, changes string
	}{
		{"INSERT INTO t(v) VALUES ('three')",
			`[{"after":{"id":3,"v":"three"},"before":null,"key":{"id":3},"op":"insert","table":"t"}]`},
		{"UPDATE t SET v = v || '!'",
			`[{"after":{"id":1,"v":"one!"},"before":{"id":1,"v":"one"},"key":{"id":1},"op":"update","table":"t"},` +
				`{"after":{"id":2,"v":"two!"},"before":{"id":2,"v":"two"},"key":{"id":2},"op":"update","table":"t"}]`},
		{"DELETE FROM t WHERE id = 2",
			`[{"after":null,"before":{"id":2,"v":"two"},"key":{"id":2},"op":"delete","table":"t"}]`},
		{"SELECT count(*) AS n FROM t", `[]`},
	} {
		r := c.Do(t, "POST", "/api/db/b/query", fmt.Sprintf(`{"sql": %q, "dry_run": true}`, tc.sql))
		contracttest.Expect(t, r, 200, "")
		m := r.Body.(map[string]any)
		if m["dry_run"] != true || m["meta"] == nil || m["changes_truncated"] != false || m["changes_complete"] != true {
			t.Fatalf("%s: %s", tc.sql, r.Raw)
		}
		if got := changesOf(t, m); got != tc.changes {
			t.Errorf("%s: changes\n %s\nwant\n %s", tc.sql, got, tc.changes)
		}
	}
	// The cap; 0: no list.
	r := c.Do(t, "POST", "/api/db/b/query", `{"sql": "UPDATE t SET v = v || '!'", "dry_run": true, "max_changes": 1}`)
	contracttest.Expect(t, r, 200, "")
	if m := r.Body.(map[string]any); m["changes_truncated"] != true || len(m["changes"].([]any)) != 1 || fmt.Sprint(m["rows_affected"]) != "2" {
		t.Fatalf("capped: %s", r.Raw)
	}
	r = c.Do(t, "POST", "/api/db/b/query", `{"sql": "UPDATE t SET v = v || '!'", "dry_run": true, "max_changes": 0}`)
	contracttest.Expect(t, r, 200, "")
	if _, ok := r.Body.(map[string]any)["changes"]; ok {
		t.Fatalf("max_changes 0: %s", r.Raw)
	}
	// Errors are /query's, without a statement index.
	r = c.Do(t, "POST", "/api/db/b/query", `{"sql": "INSERT INTO t VALUES (1, 'x')", "dry_run": true}`)
	contracttest.ExpectError(t, r, 400, "SQL Error: UNIQUE constraint failed: t.id")
	if _, ok := errorOf(t, r)["statement_index"]; ok {
		t.Fatalf("statement_index on /query: %s", r.Raw)
	}
	for _, body := range []string{`{"sql": "SELECT 1", "dry_run": 1}`, `{"sql": "SELECT 1", "max_changes": "1"}`} {
		contracttest.ExpectError(t, c.Do(t, "POST", "/api/db/b/query", body), 422, "*")
	}
	contracttest.ExpectError(t, c.Do(t, "POST", "/api/db/b/query", `{"sql": "SELECT 1", "max_changes": 10001}`), 400, "*")
	// A read-only key may dry-run reads only.
	_, ro := mintKey(t, gw.client(), "b", `{"scope": "read-only"}`)
	roc := c.WithKey(ro)
	contracttest.Expect(t, roc.Do(t, "POST", "/api/db/b/query", `{"sql": "SELECT 1 AS x", "dry_run": true}`), 200, "")
	contracttest.ExpectError(t, roc.Do(t, "POST", "/api/db/b/query", `{"sql": "DELETE FROM t", "dry_run": true}`), 403, "*")

	if got := rowsOf(t, c); got != before {
		t.Fatalf("rows %s, want %s", got, before)
	}
	if now := fileSum(t, dir); now != was {
		t.Fatal("the database file changed under a dry run")
	}
}

// TestDryRunChangesInexact: what the update hook does not see marks the
// list incomplete.
func TestDryRunChangesInexact(t *testing.T) {
	_, c, dir := batchDB(t)
	contracttest.Expect(t, c.Do(t, "POST", "/api/db/b/query", `{"sql": "CREATE TABLE w(k TEXT PRIMARY KEY, n INT) WITHOUT ROWID"}`), 200, "")
	was := fileSum(t, dir)
	for _, sql := range []string{
		"INSERT INTO w VALUES ('a', 1)", // WITHOUT ROWID
		"DELETE FROM t",                 // the truncation
	} {
		r := c.Do(t, "POST", "/api/db/b/query", fmt.Sprintf(`{"sql": %q, "dry_run": true}`, sql))
		contracttest.Expect(t, r, 200, "")
		if m := r.Body.(map[string]any); m["changes_complete"] != false || changesOf(t, m) != "[]" {
			t.Errorf("%s: %s", sql, r.Raw)
		}
	}
	// A DELETE with a WHERE is seen row by row.
	r := c.Do(t, "POST", "/api/db/b/query", `{"sql": "DELETE FROM t WHERE id > 0", "dry_run": true}`)
	contracttest.Expect(t, r, 200, "")
	if m := r.Body.(map[string]any); m["changes_complete"] != true || len(m["changes"].([]any)) != 2 {
		t.Errorf("delete where: %s", r.Raw)
	}
	if now := fileSum(t, dir); now != was {
		t.Fatal("the database file changed under a dry run")
	}
}

// TestDryRunBatchChanges: in one transaction the batch's net changes are
// listed beside "results", a row changed twice once; separate statements
// each list their own.
func TestDryRunBatchChanges(t *testing.T) {
	_, c, dir := batchDB(t)
	was := fileSum(t, dir)
	stmts := `[{"sql": "INSERT INTO t(v) VALUES ('three')"},
		{"sql": "UPDATE t SET v = 'THREE' WHERE id = 3"},
		{"sql": "UPDATE t SET v = 'uno' WHERE id = 1"},
		{"sql": "INSERT INTO t(v) VALUES ('gone')"},
		{"sql": "DELETE FROM t WHERE v = 'gone'"}]`
	r := c.Do(t, "POST", "/api/db/b/batch", `{"dry_run": true, "statements": `+stmts+`}`)
	contracttest.Expect(t, r, 200, "")
	m := r.Body.(map[string]any)
	want := `[{"after":{"id":3,"v":"THREE"},"before":null,"key":{"id":3},"op":"insert","table":"t"},` +
		`{"after":{"id":1,"v":"uno"},"before":{"id":1,"v":"one"},"key":{"id":1},"op":"update","table":"t"}]`
	if got := changesOf(t, m); got != want || m["dry_run"] != true || m["changes_complete"] != true {
		t.Fatalf("changes %s\nwant    %s\n%s", got, want, r.Raw)
	}
	r = c.Do(t, "POST", "/api/db/b/batch", `{"dry_run": true, "transaction": false, "statements": `+stmts+`}`)
	contracttest.Expect(t, r, 200, "")
	res := results(t, r)
	if _, ok := r.Body.(map[string]any)["changes"]; ok {
		t.Fatalf("top-level changes for separate statements: %s", r.Raw)
	}
	// Each statement alone: the first insert's row is 3; the update of 3
	// finds nothing; the delete finds nothing either.
	for i, want := range []string{
		`[{"after":{"id":3,"v":"three"},"before":null,"key":{"id":3},"op":"insert","table":"t"}]`,
		`[]`,
		`[{"after":{"id":1,"v":"uno"},"before":{"id":1,"v":"one"},"key":{"id":1},"op":"update","table":"t"}]`,
		`[{"after":{"id":3,"v":"gone"},"before":null,"key":{"id":3},"op":"insert","table":"t"}]`,
		`[]`,
	} {
		if got := changesOf(t, res[i]); got != want {
			t.Errorf("result %d: changes %s, want %s", i, got, want)
		}
	}
	if now := fileSum(t, dir); now != was {
		t.Fatal("the database file changed under a dry run")
	}
}
