package app_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/praetorian/db-forge/internal/contracttest"
)

// The statement audit log end to end (docs/API.md#statement-audit-log-addition):
// a write through each route shows up with its key id and request id; a
// failed write and a rolled-back batch are recorded; a read-only key
// cannot read the log; the log is hidden from the tables, schema, export
// and diff routes and refused to client SQL.

type auditRec struct {
	ID        int64  `json:"id"`
	Time      string `json:"time"`
	KeyID     string `json:"key_id"`
	RequestID string `json:"request_id"`
	Route     string `json:"route"`
	Kind      string `json:"kind"`
	SQL       string `json:"sql"`
	SQLBytes  int64  `json:"sql_bytes"`
	Params    int64  `json:"params"`
	Runs      int64  `json:"runs"`
	Rows      int64  `json:"rows"`
	Outcome   string `json:"outcome"`
	Error     string `json:"error"`
}

// auditLog reads db's log with key.
func auditLog(t *testing.T, g *gateway, key, db, query string) []auditRec {
	t.Helper()
	r := sendAs(t, g, key, "GET", "/api/db/"+db+"/audit"+query, "", nil)
	if r.status != 200 {
		t.Fatalf("audit: %d %s", r.status, r.body)
	}
	var out struct {
		Records []auditRec `json:"records"`
		Count   int        `json:"count"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil || out.Count != len(out.Records) {
		t.Fatalf("audit: %v %s", err, r.body)
	}
	return out.Records
}

// byRequest is the records of request id rid.
func byRequest(recs []auditRec, rid string) []auditRec {
	var out []auditRec
	for _, r := range recs {
		if r.RequestID == rid {
			out = append(out, r)
		}
	}
	return out
}

// waitRecords polls db's log until request rid has n records (those
// written best effort come just after their answer).
func waitRecords(t *testing.T, g *gateway, key, db, rid string, n int) []auditRec {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got := byRequest(auditLog(t, g, key, db, "?limit=1000"), rid)
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				t.Fatalf("request %s: %d records, want %d: %+v", rid, len(got), n, got)
			}
			return got
		}
	}
}

func TestAuditLog(t *testing.T) {
	g := start(t, t.TempDir())
	admin := g.client()
	spawnKey(t, admin, "au")
	kid, key := mintKey(t, admin, "au", `{"scope": "read-write"}`)
	_, roKey := mintKey(t, admin, "au", `{"scope": "read-only"}`)
	send := func(method, path, rid, body string, hdr ...string) rawResp {
		t.Helper()
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		return sendAs(t, g, key, method, path, "application/json", b, append([]string{"X-Request-Id", rid}, hdr...)...)
	}
	ok := func(r rawResp, status int) {
		t.Helper()
		if r.status != status {
			t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
		}
	}
	ok(send("POST", "/api/db/au/query", "au-ddl", `{"sql": "CREATE TABLE t(id INTEGER PRIMARY KEY, v UNIQUE)"}`), 200)
	ok(send("POST", "/api/db/au/query", "au-q1", `{"sql": "INSERT INTO t(v) VALUES (?)", "params": ["one"]}`), 200)
	ok(send("POST", "/api/db/au/batch", "au-b1",
		`{"statements": [{"sql": "INSERT INTO t(v) VALUES ('b1')"}, {"sql": "UPDATE t SET v = 'b2' WHERE v = 'b1'"}]}`), 200)
	ok(send("POST", "/api/db/au/tables/t/rows", "au-rows", `{"rows": [{"v": "r1"}, {"v": "r2"}, {"v": "r3"}]}`), 201)
	ok(send("PATCH", "/api/db/au/tables/t/rows?v=r1", "au-patch", `{"set": {"v": "r1x"}}`), 200)
	ok(send("DELETE", "/api/db/au/tables/t/rows?v=r2", "au-delete", ""), 200)
	// A transaction: its statements are recorded at its commit.
	r := send("POST", "/api/db/au/transactions", "au-tx-open", `{}`)
	ok(r, 201)
	var tx struct {
		ID string `json:"transaction_id"`
	}
	if err := json.Unmarshal(r.body, &tx); err != nil {
		t.Fatal(err)
	}
	ok(send("POST", "/api/db/au/query", "au-tx-1", `{"sql": "INSERT INTO t(v) VALUES ('tx1')"}`, "X-Transaction-Id", tx.ID), 200)
	if got := byRequest(auditLog(t, g, key, "au", "?limit=1000"), "au-tx-1"); len(got) != 0 {
		t.Fatalf("a record before its transaction committed: %+v", got)
	}
	ok(send("POST", "/api/db/au/transactions/"+tx.ID+"/commit", "au-tx-commit", ""), 200)

	for _, c := range []struct {
		rid, route, sql string
		rows, runs      int64
	}{
		{"au-ddl", "/api/db/{db_name}/query", "CREATE TABLE t", 0, 1},
		{"au-q1", "/api/db/{db_name}/query", "INSERT INTO t(v) VALUES (?)", 1, 1},
		{"au-rows", "/api/db/{db_name}/tables/{table_name}/rows", "INSERT", 3, 3},
		{"au-patch", "/api/db/{db_name}/tables/{table_name}/rows", "UPDATE", 1, 1},
		{"au-delete", "/api/db/{db_name}/tables/{table_name}/rows", "DELETE", 1, 1},
		{"au-tx-1", "/api/db/{db_name}/query", "INSERT INTO t(v) VALUES ('tx1')", 1, 1},
	} {
		got := waitRecords(t, g, key, "au", c.rid, 1)[0]
		if got.KeyID != kid || got.Route != c.route || !strings.HasPrefix(got.SQL, c.sql) || got.Kind != "write" || got.Outcome != "ok" {
			t.Errorf("%s: %+v", c.rid, got)
		}
		if c.rows > 0 && got.Rows != c.rows {
			t.Errorf("%s: rows %d, want %d", c.rid, got.Rows, c.rows)
		}
		if c.runs > 0 && got.Runs != c.runs {
			t.Errorf("%s: runs %d, want %d", c.rid, got.Runs, c.runs)
		}
	}
	if got := waitRecords(t, g, key, "au", "au-q1", 1)[0]; got.Params != 1 || got.SQLBytes != int64(len(got.SQL)) {
		t.Errorf("params and length: %+v", got)
	}
	batch := waitRecords(t, g, key, "au", "au-b1", 2)
	if batch[0].Outcome != "ok" || batch[1].Outcome != "ok" || !strings.HasPrefix(batch[0].SQL, "UPDATE") {
		t.Errorf("batch (newest first): %+v", batch)
	}

	// A failed write: its statement changed nothing, and its record
	// (which cannot be in the transaction that rolled back) follows.
	ok(send("POST", "/api/db/au/query", "au-fail", `{"sql": "INSERT INTO t(v) VALUES ('one')"}`), 400)
	if got := waitRecords(t, g, key, "au", "au-fail", 1)[0]; got.Outcome != "error" || !strings.Contains(got.Error, "UNIQUE") {
		t.Errorf("failed write: %+v", got)
	}
	// A batch whose second statement fails: both records, the first
	// rolled back.
	ok(send("POST", "/api/db/au/batch", "au-bfail",
		`{"statements": [{"sql": "INSERT INTO t(v) VALUES ('bf')"}, {"sql": "INSERT INTO t(v) VALUES ('one')"}]}`), 400)
	bf := waitRecords(t, g, key, "au", "au-bfail", 2)
	if bf[0].Outcome != "error" || bf[1].Outcome != "rolled_back" {
		t.Errorf("failed batch (newest first): %+v", bf)
	}

	// Filters: key_id, since, limit.
	if got := auditLog(t, g, key, "au", "?key_id=nobody"); len(got) != 0 {
		t.Errorf("key_id=nobody: %+v", got)
	}
	if got := auditLog(t, g, key, "au", "?key_id="+kid+"&limit=2"); len(got) != 2 {
		t.Errorf("limit=2: %d records", len(got))
	}
	future := url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	if got := auditLog(t, g, key, "au", "?since="+future); len(got) != 0 {
		t.Errorf("since the future: %+v", got)
	}
	if got := auditLog(t, g, key, "au", fmt.Sprintf("?since=%d", time.Now().Add(-time.Hour).Unix())); len(got) < 8 {
		t.Errorf("since an hour ago: %d records", len(got))
	}
	for _, q := range []string{"?since=yesterday", "?limit=0", "?limit=x", "?what=1", "?limit=1&limit=2"} {
		r := sendAs(t, g, key, "GET", "/api/db/au/audit"+q, "", nil)
		if r.status != 400 || !strings.Contains(string(r.body), "INVALID_VALUE") {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
	// The admin key reads every log; a read-only key none.
	if got := auditLog(t, g, g.adminKey, "au", ""); len(got) == 0 {
		t.Error("the admin key reads no record")
	}
	if r := sendAs(t, g, roKey, "GET", "/api/db/au/audit", "", nil); r.status != 403 || !strings.Contains(string(r.body), "READ_ONLY_KEY") {
		t.Errorf("read-only key: %d %s", r.status, r.body)
	}
	if r := sendAs(t, g, key, "GET", "/api/db/nope/audit", "", nil); r.status != 403 && r.status != 404 {
		t.Errorf("another database: %d %s", r.status, r.body)
	}

	// Hidden: tables, schema, export, diff; refused to client SQL.
	for _, path := range []string{"/api/db/au/tables", "/api/db/au/schema", "/api/db/au/export?format=sql"} {
		r := sendAs(t, g, key, "GET", path, "", nil)
		if r.status != 200 || strings.Contains(string(r.body), "_forge_audit") {
			t.Errorf("%s shows the audit log: %d %.300s", path, r.status, r.body)
		}
	}
	ok(send("POST", "/api/db/au/checkpoints", "au-cp", `{"name": "c1"}`), 201)
	ok(send("POST", "/api/db/au/query", "au-after", `{"sql": "INSERT INTO t(v) VALUES ('after')"}`), 200)
	if r := sendAs(t, g, key, "GET", "/api/db/au/diff?against=checkpoint:c1", "", nil); r.status != 200 ||
		strings.Contains(string(r.body), "_forge_audit") || !strings.Contains(string(r.body), "after") {
		t.Errorf("diff: %d %s", r.status, r.body)
	}
	for _, sql := range []string{"SELECT * FROM _forge_audit", "DELETE FROM _forge_audit", "DROP TABLE _forge_audit"} {
		r := send("POST", "/api/db/au/query", "au-sneak", `{"sql": "`+sql+`"}`)
		if r.status != 403 || !strings.Contains(string(r.body), "SQL_NOT_AUTHORIZED") {
			t.Errorf("%s: %d %s", sql, r.status, r.body)
		}
	}
	contracttest.Expect(t, admin.Do(t, "GET", "/api/db/au/audit?limit=1", nil), 200, "")
}

// TestAuditConcurrent: concurrent single-row writes (group commit puts
// many in one transaction, with all their records) each have exactly one
// record; a transaction rolled back leaves its statements' records,
// rolled_back, written after it.
func TestAuditConcurrent(t *testing.T) {
	g := start(t, t.TempDir())
	admin := g.client()
	key := spawnKey(t, admin, "cc")
	contracttest.Expect(t, admin.Do(t, "POST", "/api/db/cc/query", `{"sql": "CREATE TABLE t(id INTEGER PRIMARY KEY, v)"}`), 200, "")
	const n = 64
	errs := make(chan string, n)
	for i := range n {
		go func() {
			r := sendAs(t, g, key, "POST", "/api/db/cc/query", "application/json",
				fmt.Appendf(nil, `{"sql": "INSERT INTO t(v) VALUES (?)", "params": [%d]}`, i), "X-Request-Id", fmt.Sprintf("cc-%d", i))
			if r.status != 200 {
				errs <- fmt.Sprintf("%d: %d %s", i, r.status, r.body)
				return
			}
			errs <- ""
		}()
	}
	for range n {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
	recs := auditLog(t, g, key, "cc", "?limit=1000")
	for i := range n {
		got := byRequest(recs, fmt.Sprintf("cc-%d", i))
		if len(got) != 1 || got[0].Outcome != "ok" || got[0].Rows != 1 || got[0].Params != 1 {
			t.Errorf("cc-%d: %+v", i, got)
		}
	}
	// A transaction rolled back: nothing of it stays but its records.
	r := sendAs(t, g, key, "POST", "/api/db/cc/transactions", "application/json", []byte(`{}`))
	var tx struct {
		ID string `json:"transaction_id"`
	}
	if r.status != 201 || json.Unmarshal(r.body, &tx) != nil {
		t.Fatalf("open: %d %s", r.status, r.body)
	}
	for i, sql := range []string{"INSERT INTO t(v) VALUES ('gone')", "UPDATE t SET v = 'gone'"} {
		r := sendAs(t, g, key, "POST", "/api/db/cc/query", "application/json", []byte(`{"sql": "`+sql+`"}`),
			"X-Transaction-Id", tx.ID, "X-Request-Id", fmt.Sprintf("cc-tx-%d", i))
		if r.status != 200 {
			t.Fatalf("%s: %d %s", sql, r.status, r.body)
		}
	}
	if r := sendAs(t, g, key, "POST", "/api/db/cc/transactions/"+tx.ID+"/rollback", "", nil); r.status != 200 {
		t.Fatalf("rollback: %d %s", r.status, r.body)
	}
	for i := range 2 {
		if got := waitRecords(t, g, key, "cc", fmt.Sprintf("cc-tx-%d", i), 1)[0]; got.Outcome != "rolled_back" {
			t.Errorf("cc-tx-%d: %+v", i, got)
		}
	}
}

// TestAuditSettings: FORGE_AUDIT_READS=on records reads (best effort,
// just after them); FORGE_AUDIT_MAX_ROWS bounds the log; FORGE_AUDIT=off
// records nothing and has no route.
func TestAuditSettings(t *testing.T) {
	t.Run("reads and retention", func(t *testing.T) {
		g := start(t, t.TempDir(), "FORGE_AUDIT_READS=on", "FORGE_AUDIT_MAX_ROWS=100")
		admin := g.client()
		key := spawnKey(t, admin, "rd")
		contracttest.Expect(t, admin.Do(t, "POST", "/api/db/rd/query", `{"sql": "CREATE TABLE t(id INTEGER PRIMARY KEY, v)"}`), 200, "")
		r := sendAs(t, g, key, "POST", "/api/db/rd/query", "application/json", []byte(`{"sql": "SELECT count(*) FROM t"}`), "X-Request-Id", "rd-1")
		if r.status != 200 {
			t.Fatalf("select: %d %s", r.status, r.body)
		}
		if got := waitRecords(t, g, key, "rd", "rd-1", 1)[0]; got.Kind != "read" || got.Outcome != "ok" || got.Rows != 1 {
			t.Errorf("read: %+v", got)
		}
		m := admin.Do(t, "GET", "/metrics", nil)
		for _, want := range []string{"forge_audit_committed_total ", "forge_audit_written_total ", "forge_audit_dropped_total 0"} {
			if !strings.Contains(string(m.Raw), "\n"+want) {
				t.Errorf("metrics lack %q", want)
			}
		}
		if strings.Contains(string(m.Raw), "\nforge_audit_written_total 0\n") {
			t.Error("the read's record is not counted as written")
		}
		// Past the bound, the writes that follow delete the oldest
		// records (a bounded number once a second).
		for i := range 150 {
			sendAs(t, g, key, "POST", "/api/db/rd/query", "application/json", fmt.Appendf(nil, `{"sql": "INSERT INTO t(v) VALUES (%d)"}`, i))
		}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			sendAs(t, g, key, "POST", "/api/db/rd/query", "application/json", []byte(`{"sql": "INSERT INTO t(v) VALUES (0)"}`))
			n := len(auditLog(t, g, key, "rd", "?limit=1000"))
			if n <= 110 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d records, FORGE_AUDIT_MAX_ROWS=100", n)
			}
		}
	})
	t.Run("off", func(t *testing.T) {
		g := start(t, t.TempDir(), "FORGE_AUDIT=off")
		admin := g.client()
		spawnKey(t, admin, "of")
		contracttest.Expect(t, admin.Do(t, "POST", "/api/db/of/query", `{"sql": "CREATE TABLE t(v)"}`), 200, "")
		// Not through the validating client: the document describes the
		// route this gateway does not serve.
		plain := contracttest.Client{Base: g.url, APIKey: g.adminKey}
		if r := plain.Do(t, "GET", "/api/db/of/audit", nil); r.Status != 404 || !strings.Contains(string(r.Raw), "ROUTE_NOT_FOUND") {
			t.Errorf("the route with FORGE_AUDIT=off: %d %s", r.Status, r.Raw)
		}
		r := admin.Do(t, "POST", "/api/db/of/query", `{"sql": "SELECT count(*) AS n FROM sqlite_schema WHERE name LIKE '%audit%'"}`)
		contracttest.Expect(t, r, 200, "")
		if !strings.Contains(string(r.Raw), `"n":0`) && !strings.Contains(string(r.Raw), `"n": 0`) {
			t.Errorf("a log table with FORGE_AUDIT=off: %s", r.Raw)
		}
	})
}

// TestAuditSavepointsAndDryRuns: in a transaction that commits, the
// statements a client's ROLLBACK TO undid are recorded rolled back; a dry
// run, which writes nothing, leaves no record.
func TestAuditSavepointsAndDryRuns(t *testing.T) {
	g := start(t, t.TempDir())
	admin := g.client()
	key := spawnKey(t, admin, "sp")
	contracttest.Expect(t, admin.Do(t, "POST", "/api/db/sp/query", `{"sql": "CREATE TABLE t(id INTEGER PRIMARY KEY, v)"}`), 200, "")
	r := sendAs(t, g, key, "POST", "/api/db/sp/transactions", "application/json", []byte(`{}`))
	var tx struct {
		ID string `json:"transaction_id"`
	}
	if r.status != 201 || json.Unmarshal(r.body, &tx) != nil {
		t.Fatalf("open: %d %s", r.status, r.body)
	}
	for i, sql := range []string{"SAVEPOINT a", "INSERT INTO t(v) VALUES ('undone')", "ROLLBACK TO a",
		"INSERT INTO t(v) VALUES ('kept')", "RELEASE a"} {
		r := sendAs(t, g, key, "POST", "/api/db/sp/query", "application/json", []byte(`{"sql": "`+sql+`"}`),
			"X-Transaction-Id", tx.ID, "X-Request-Id", fmt.Sprintf("sp-%d", i))
		if r.status != 200 {
			t.Fatalf("%s: %d %s", sql, r.status, r.body)
		}
	}
	if r := sendAs(t, g, key, "POST", "/api/db/sp/transactions/"+tx.ID+"/commit", "", nil); r.status != 200 {
		t.Fatalf("commit: %d %s", r.status, r.body)
	}
	recs := auditLog(t, g, key, "sp", "?limit=1000")
	if got := byRequest(recs, "sp-1"); len(got) != 1 || got[0].Outcome != "rolled_back" {
		t.Errorf("the statement rolled back to its savepoint: %+v", got)
	}
	if got := byRequest(recs, "sp-3"); len(got) != 1 || got[0].Outcome != "ok" {
		t.Errorf("the statement kept: %+v", got)
	}
	for _, i := range []int{0, 2, 4} {
		if got := byRequest(recs, fmt.Sprintf("sp-%d", i)); len(got) != 0 {
			t.Errorf("a savepoint's own record: %+v", got)
		}
	}
	// Dry runs: /query's and /batch's; then a write, whose record comes
	// after any a dry run would have left (best effort, just after it).
	for i, body := range []string{`{"sql": "INSERT INTO t(v) VALUES ('dry')", "dry_run": true}`,
		`{"dry_run": true, "statements": [{"sql": "INSERT INTO t(v) VALUES ('dry')"}]}`} {
		path := []string{"/api/db/sp/query", "/api/db/sp/batch"}[i]
		if r := sendAs(t, g, key, "POST", path, "application/json", []byte(body), "X-Request-Id", "sp-dry"); r.status != 200 {
			t.Fatalf("dry run: %d %s", r.status, r.body)
		}
	}
	if r := sendAs(t, g, key, "POST", "/api/db/sp/batch", "application/json",
		[]byte(`{"statements": [{"sql": "INSERT INTO t(id) VALUES (100)"}, {"sql": "INSERT INTO t(id) VALUES (100)"}]}`),
		"X-Request-Id", "sp-after"); r.status != 400 {
		t.Fatalf("failed batch: %d %s", r.status, r.body)
	}
	waitRecords(t, g, key, "sp", "sp-after", 2)
	if got := byRequest(auditLog(t, g, key, "sp", "?limit=1000"), "sp-dry"); len(got) != 0 {
		t.Errorf("a dry run's records: %+v", got)
	}
}

// TestAuditAsync: with FORGE_AUDIT=async a write's records are written
// after its commit by the buffered writer, batched: writes through /query
// and /batch appear in the log once it flushes (polled), with the same
// records as with FORGE_AUDIT=on, none stored with its transaction
// (forge_audit_committed_total 0); a graceful shutdown writes the records
// still waiting (FORGE_AUDIT_FLUSH=1m: no flush before it), which the
// next start reads.
func TestAuditAsync(t *testing.T) {
	t.Run("writes", func(t *testing.T) {
		g := start(t, t.TempDir(), "FORGE_AUDIT=async", "FORGE_AUDIT_FLUSH=10ms")
		admin := g.client()
		key := spawnKey(t, admin, "as")
		send := func(path, rid, body string, status int) {
			t.Helper()
			if r := sendAs(t, g, key, "POST", path, "application/json", []byte(body), "X-Request-Id", rid); r.status != status {
				t.Fatalf("%s: status %d, want %d: %s", rid, r.status, status, r.body)
			}
		}
		send("/api/db/as/query", "as-ddl", `{"sql": "CREATE TABLE t(id INTEGER PRIMARY KEY, v UNIQUE)"}`, 200)
		send("/api/db/as/query", "as-q1", `{"sql": "INSERT INTO t(v) VALUES (?)", "params": ["one"]}`, 200)
		send("/api/db/as/batch", "as-b1", `{"statements": [{"sql": "INSERT INTO t(v) VALUES ('b1')"}, {"sql": "UPDATE t SET v = 'b2' WHERE v = 'b1'"}]}`, 200)
		send("/api/db/as/query", "as-fail", `{"sql": "INSERT INTO t(v) VALUES ('one')"}`, 400)
		send("/api/db/as/batch", "as-bfail", `{"statements": [{"sql": "INSERT INTO t(v) VALUES ('bf')"}, {"sql": "INSERT INTO t(v) VALUES ('one')"}]}`, 400)
		if got := waitRecords(t, g, key, "as", "as-q1", 1)[0]; got.Outcome != "ok" || got.Kind != "write" || got.Rows != 1 ||
			got.Route != "/api/db/{db_name}/query" || !strings.HasPrefix(got.SQL, "INSERT INTO t(v)") {
			t.Errorf("as-q1: %+v", got)
		}
		if b := waitRecords(t, g, key, "as", "as-b1", 2); b[0].Outcome != "ok" || b[1].Outcome != "ok" ||
			!strings.HasPrefix(b[0].SQL, "UPDATE") || b[0].Route != "/api/db/{db_name}/batch" {
			t.Errorf("as-b1 (newest first): %+v", b)
		}
		if got := waitRecords(t, g, key, "as", "as-fail", 1)[0]; got.Outcome != "error" || !strings.Contains(got.Error, "UNIQUE") {
			t.Errorf("as-fail: %+v", got)
		}
		if bf := waitRecords(t, g, key, "as", "as-bfail", 2); bf[0].Outcome != "error" || bf[1].Outcome != "rolled_back" {
			t.Errorf("as-bfail (newest first): %+v", bf)
		}
		waitRecords(t, g, key, "as", "as-ddl", 1)
		m := string(admin.Do(t, "GET", "/metrics", nil).Raw)
		for _, want := range []string{"\nforge_audit_committed_total 0\n", "\nforge_audit_dropped_total 0\n", "\nforge_audit_waiting "} {
			if !strings.Contains(m, want) {
				t.Errorf("metrics lack %q", want)
			}
		}
		if strings.Contains(m, "\nforge_audit_written_total 0\n") {
			t.Error("the records are not counted as written")
		}
	})
	t.Run("graceful shutdown writes what waits", func(t *testing.T) {
		dir := t.TempDir()
		g := start(t, dir, "FORGE_AUDIT=async", "FORGE_AUDIT_FLUSH=1m")
		admin := g.client()
		key := spawnKey(t, admin, "sd")
		for i, body := range []string{
			`{"sql": "CREATE TABLE t(v)"}`,
			`{"sql": "INSERT INTO t(v) VALUES (1)"}`,
		} {
			if r := sendAs(t, g, key, "POST", "/api/db/sd/query", "application/json", []byte(body), "X-Request-Id", fmt.Sprintf("sd-%d", i)); r.status != 200 {
				t.Fatalf("%d: %s", r.status, r.body)
			}
		}
		if r := sendAs(t, g, key, "POST", "/api/db/sd/batch", "application/json",
			[]byte(`{"statements": [{"sql": "INSERT INTO t(v) VALUES (2)"}, {"sql": "INSERT INTO t(v) VALUES (3)"}]}`), "X-Request-Id", "sd-b"); r.status != 200 {
			t.Fatalf("%d: %s", r.status, r.body)
		}
		if got := auditLog(t, g, key, "sd", "?limit=1000"); len(got) != 0 {
			t.Fatalf("written before the flush interval (1m) or the shutdown: %+v", got)
		}
		if err := g.stop(); err != nil {
			t.Fatal(err)
		}
		g = start(t, dir, "FORGE_AUDIT=async")
		recs := auditLog(t, g, g.adminKey, "sd", "?limit=1000")
		for rid, n := range map[string]int{"sd-0": 1, "sd-1": 1, "sd-b": 2} {
			if got := byRequest(recs, rid); len(got) != n {
				t.Errorf("%s: %d records after the restart, want %d: %+v", rid, len(got), n, recs)
			}
		}
	})
}
