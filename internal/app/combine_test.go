package app_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Options that combine (docs/API.md, "Combining options") and read-only
// transactions, end to end on the real engine over loopback.

// metaOf is the meta object of a JSON answer or of an NDJSON "$end" line.
func metaOf(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	if end, ok := v["$end"].(map[string]any); ok {
		v = end
	}
	m, ok := v["meta"].(map[string]any)
	if !ok {
		t.Fatalf("no meta in %s", raw)
	}
	return m
}

func TestOptionsCombine(t *testing.T) {
	g := start(t, t.TempDir())
	admin := g.client()
	key := spawnKey(t, admin, "mix")
	c := txClient{t: t, url: g.url, key: key}
	want(t, c.do("/api/db/mix/query", `{"sql":"CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"}`), 200, "", "")
	want(t, c.do("/api/db/mix/query", `{"sql":"INSERT INTO t (v) SELECT 'x' || value FROM generate_series(1, 5)"}`), 200, "", "")

	t.Run("result options in a transaction", func(t *testing.T) {
		id, _ := c.open("mix", "")
		hdr := "X-Transaction-Id: " + id
		want(t, c.do("/api/db/mix/query", `{"sql":"INSERT INTO t (v) VALUES ('in')"}`, hdr), 200, "", "")
		r := c.do("/api/db/mix/query", `{"sql":"SELECT id, v FROM t ORDER BY id","shape":"arrays","max_rows":2}`, hdr)
		want(t, r, 200, "", "")
		if !strings.HasPrefix(string(r.raw), `{"columns":["id","v"],"rows":[[1,"x1"],[2,"x2"]],"rows_affected":2,"truncated":true,"meta":{`) ||
			r.header.Get("X-Truncated") != "true" {
			t.Fatalf("%s", r.raw)
		}
		r = c.do("/api/db/mix/query", `{"sql":"SELECT count(*) AS n FROM t","format":"csv"}`, hdr)
		if r.status != 200 || string(r.raw) != "n\r\n6\r\n" || !json.Valid([]byte(r.header.Get("X-Forge-Meta"))) {
			t.Fatalf("%d %q %v", r.status, r.raw, r.header)
		}
		// A dry run inside the transaction: undone, no list of changes.
		r = c.do("/api/db/mix/query", `{"sql":"DELETE FROM t","dry_run":true,"format":"ndjson"}`, hdr)
		want(t, r, 200, "", "")
		if strings.Contains(string(r.raw), `"changes":[`) || !strings.Contains(string(r.raw), `"dry_run":true`) {
			t.Fatalf("%s", r.raw)
		}
		want(t, c.do("/api/db/mix/transactions/"+id+"/commit", ""), 200, "", "")
		if n := c.count("mix", "true"); n != "6" {
			t.Fatalf("%s rows after the commit, want 6 (the dry run's DELETE undone)", n)
		}
	})

	t.Run("dry run with result options", func(t *testing.T) {
		r := c.do("/api/db/mix/query", `{"sql":"UPDATE t SET v = 'y' WHERE id <= 3 RETURNING id","dry_run":true,"max_rows":1,"shape":"arrays","max_changes":2}`)
		want(t, r, 200, "", "")
		var v map[string]any
		_ = json.Unmarshal(r.raw, &v)
		rows, _ := v["rows"].([]any)
		changes, _ := v["changes"].([]any)
		if len(rows) != 1 || v["truncated"] != true || v["dry_run"] != true || len(changes) != 2 ||
			v["changes_truncated"] != true || v["meta"] == nil {
			t.Fatalf("%s", r.raw)
		}
		if n := c.count("mix", "v = 'y'"); n != "0" {
			t.Fatalf("the dry run wrote %s rows", n)
		}
		// NDJSON: meta, changes and dry_run in the last line.
		r = c.do("/api/db/mix/query", `{"sql":"DELETE FROM t WHERE id = 1 RETURNING id","dry_run":true,"format":"ndjson"}`)
		lines := strings.Split(strings.TrimSpace(string(r.raw)), "\n")
		last := lines[len(lines)-1]
		if r.status != 200 || len(lines) != 2 || !strings.Contains(last, `"op":"delete"`) || !strings.Contains(last, `"dry_run":true`) {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		metaOf(t, []byte(last))
		// CSV and Markdown have no place for a dry run's answer.
		want(t, c.do("/api/db/mix/query", `{"sql":"DELETE FROM t","dry_run":true,"format":"csv"}`), 400, "INVALID_VALUE", "")
		want(t, c.do("/api/db/mix/query", `{"sql":"DELETE FROM t","dry_run":true}`, "Accept: text/markdown"), 400, "INVALID_VALUE", "")
		// A dry run records nothing: its Idempotency-Key is moot, not refused.
		r = c.do("/api/db/mix/query", `{"sql":"DELETE FROM t","dry_run":true}`, "Idempotency-Key: dry-1")
		want(t, r, 200, "", "")
		if r.header.Get("Idempotent-Replayed") != "" || c.count("mix", "true") != "6" {
			t.Fatalf("%v %s", r.header, r.raw)
		}
	})

	t.Run("batch result options", func(t *testing.T) {
		r := c.do("/api/db/mix/batch", `{"statements":[{"sql":"SELECT id FROM t ORDER BY id"},
			{"sql":"SELECT v FROM t ORDER BY id","shape":"objects","max_rows":1},
			{"sql":"INSERT INTO t (v) VALUES ('b')"}],"shape":"arrays","max_rows":2,"dry_run":true}`)
		want(t, r, 200, "", "")
		var v struct {
			Results []map[string]any `json:"results"`
			DryRun  bool             `json:"dry_run"`
		}
		if err := json.Unmarshal(r.raw, &v); err != nil || len(v.Results) != 3 || !v.DryRun {
			t.Fatalf("%s", r.raw)
		}
		if rows, _ := v.Results[0]["rows"].([]any); len(rows) != 2 || v.Results[0]["truncated"] != true {
			t.Errorf("first: %v", v.Results[0])
		}
		if data, _ := v.Results[1]["data"].([]any); len(data) != 1 || v.Results[1]["truncated"] != true {
			t.Errorf("second: %v", v.Results[1])
		}
		for i, res := range v.Results {
			if res["meta"] == nil {
				t.Errorf("result %d without meta", i)
			}
		}
		if m := v.Results[2]["meta"].(map[string]any); m["changes"] != float64(1) {
			t.Errorf("the dry run's insert: meta %v", m)
		}
		if n := c.count("mix", "v = 'b'"); n != "0" {
			t.Fatalf("the dry-run batch wrote %s rows", n)
		}
		want(t, c.do("/api/db/mix/batch", `{"statements":[{"sql":"SELECT 1"}],"format":"csv"}`), 400, "INVALID_VALUE", "")
	})

	t.Run("no meaning together", func(t *testing.T) {
		id, _ := c.open("mix", "")
		r := c.do("/api/db/mix/query", `{"sql":"INSERT INTO t (v) VALUES ('k')"}`, "X-Transaction-Id: "+id, "Idempotency-Key: k-1")
		want(t, r, 400, "INVALID_VALUE", "An Idempotency-Key is not taken inside a transaction")
		want(t, c.do("/api/db/mix/transactions/"+id+"/rollback", ""), 200, "", "")
	})
}

// TestMetaStreamedCSVTrailer: an uncapped CSV answer past its first chunk
// streams, and its meta comes in the HTTP trailer.
func TestMetaStreamedCSVTrailer(t *testing.T) {
	g := start(t, t.TempDir())
	key := spawnKey(t, g.client(), "tr")
	c := txClient{t: t, url: g.url, key: key}
	want(t, c.do("/api/db/tr/query", `{"sql":"CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"}`), 200, "", "")
	want(t, c.do("/api/db/tr/query", `{"sql":"INSERT INTO t (v) SELECT printf('%050d', value) FROM generate_series(1, 5000)"}`), 200, "", "")
	req, _ := http.NewRequest("POST", g.url+"/api/db/tr/query", strings.NewReader(`{"sql":"SELECT id, v FROM t","format":"csv"}`))
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// net/http moves the announced names from the Trailer header to
	// resp.Trailer, where their values arrive with the body's end.
	if _, announced := resp.Trailer["X-Forge-Meta"]; !announced || resp.Header.Get("X-Forge-Meta") != "" {
		t.Fatalf("headers %v, trailer %v", resp.Header, resp.Trailer)
	}
	lines := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		lines++
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	if sc.Err() != nil || lines != 5001 {
		t.Fatalf("%d lines, %v", lines, sc.Err())
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(resp.Trailer.Get("X-Forge-Meta")), &m); err != nil || m["vm_steps"] == nil {
		t.Fatalf("trailer %v: %v", resp.Trailer, err)
	}
}

// TestReadOnlyTransactions: {"read_only": true} opens a snapshot without
// the writer; a read-only key may open one (and only such); a write in
// it is 403 READ_ONLY_TRANSACTION and the transaction goes on.
func TestReadOnlyTransactions(t *testing.T) {
	g := start(t, t.TempDir())
	admin := g.client()
	key := spawnKey(t, admin, "ro")
	_, roKey := mintKey(t, admin, "ro", `{"scope": "read-only"}`)
	c := txClient{t: t, url: g.url, key: key}
	ro := txClient{t: t, url: g.url, key: roKey}
	want(t, c.sql("ro", "", "CREATE TABLE t (v INTEGER)"), 200, "", "")
	want(t, c.sql("ro", "", "INSERT INTO t VALUES (1)"), 200, "", "")

	want(t, ro.do("/api/db/ro/transactions", `{}`), 403, "READ_ONLY_KEY", "")
	want(t, ro.do("/api/db/ro/transactions", `{"read_only": "yes"}`), 422, "VALIDATION_ERROR", "")
	id, _ := ro.open("ro", `{"read_only": true, "timeout": 30}`)
	// The writer is free: a write transaction opens, writes and commits
	// while the snapshot is held, without waiting.
	wid, _ := c.open("ro", "")
	want(t, c.sql("ro", wid, "INSERT INTO t VALUES (2)"), 200, "", "")
	want(t, c.do("/api/db/ro/transactions/"+wid+"/commit", ""), 200, "", "")
	want(t, c.sql("ro", "", "INSERT INTO t VALUES (3)"), 200, "", "")

	r := ro.sql("ro", id, "SELECT count(*) AS n FROM t")
	want(t, r, 200, "", "")
	if !strings.HasPrefix(string(r.raw), `{"data":[{"n":1}]`) {
		t.Fatalf("the snapshot sees %s, want its one row", r.raw)
	}
	want(t, ro.sql("ro", id, "INSERT INTO t VALUES (9)"), 403, "READ_ONLY_TRANSACTION", "The transaction is read-only")
	r = ro.do("/api/db/ro/batch", `{"statements":[{"sql":"SELECT count(*) AS n FROM t"},{"sql":"DELETE FROM t"}]}`, "X-Transaction-Id: "+id)
	want(t, r, 403, "READ_ONLY_TRANSACTION", "")
	if e, _ := r.body["error"].(map[string]any); e["statement_index"] != float64(1) {
		t.Fatalf("%s", r.raw)
	}
	want(t, ro.sql("ro", id, "SELECT 1"), 200, "", "") // it goes on
	// Another key's id is not found, as for write transactions.
	want(t, c.sql("ro", id, "SELECT 1"), 404, "TRANSACTION_NOT_FOUND", "")
	want(t, ro.do("/api/db/ro/transactions/"+id+"/commit", ""), 200, "", "")
	want(t, ro.sql("ro", id, "SELECT 1"), 409, "TRANSACTION_ENDED", "")
	if n := c.count("ro", "true"); n != "3" {
		t.Fatalf("%s rows, want 3", n)
	}
	// A read-write key may open one too; a write in it is refused alike.
	id2, _ := c.open("ro", `{"read_only": true}`)
	want(t, c.sql("ro", id2, "UPDATE t SET v = 0"), 403, "READ_ONLY_TRANSACTION", "")
	want(t, c.do("/api/db/ro/transactions/"+id2+"/rollback", ""), 200, "", "")
}
