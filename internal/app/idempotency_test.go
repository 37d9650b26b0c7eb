package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// idemClient sends requests with an API key and, when given, an
// Idempotency-Key.
type idemClient struct {
	base, apiKey string
	http         *http.Client
}

type idemAnswer struct {
	status   int
	body     string
	replayed bool
}

func (c idemClient) send(t testing.TB, method, path, idemKey, body string) idemAnswer {
	t.Helper()
	a, err := c.try(method, path, idemKey, body)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (c idemClient) try(method, path, idemKey, body string) (idemAnswer, error) {
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		return idemAnswer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.apiKey != "" {
		req.Header.Set("X-API-Key", c.apiKey)
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	hc := c.http
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return idemAnswer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return idemAnswer{}, err
	}
	return idemAnswer{status: resp.StatusCode, body: string(b), replayed: resp.Header.Get("Idempotent-Replayed") == "true"}, nil
}

// count is SELECT count(*) FROM table, sent without a key.
func (c idemClient) count(t testing.TB, db, table string) int {
	t.Helper()
	a := c.send(t, "POST", "/api/db/"+db+"/query", "", `{"sql":"SELECT count(*) AS n FROM `+table+`"}`)
	if a.status != 200 {
		t.Fatalf("count: %d %s", a.status, a.body)
	}
	var res struct {
		Data []map[string]int `json:"data"`
	}
	if err := json.Unmarshal([]byte(a.body), &res); err != nil || len(res.Data) != 1 {
		t.Fatalf("count: %s: %v", a.body, err)
	}
	return res.Data[0]["n"]
}

func expectAnswer(t testing.TB, what string, a idemAnswer, status int, replayed bool) {
	t.Helper()
	if a.status != status || a.replayed != replayed {
		t.Fatalf("%s: got %d (replayed %v) %s; want %d (replayed %v)", what, a.status, a.replayed, a.body, status, replayed)
	}
}

// spawnWithKey spawns db and returns a client with its first key.
func spawnWithKey(t *testing.T, g *gateway, db string) idemClient {
	t.Helper()
	admin := idemClient{base: g.url, apiKey: g.adminKey, http: g.http}
	a := admin.send(t, "POST", "/admin/databases/spawn/"+db, "", "")
	if a.status != 201 {
		t.Fatalf("spawn: %d %s", a.status, a.body)
	}
	var sp struct {
		APIKey string `json:"api_key"`
	}
	if err := json.Unmarshal([]byte(a.body), &sp); err != nil || sp.APIKey == "" {
		t.Fatalf("spawn: %s: %v", a.body, err)
	}
	return idemClient{base: g.url, apiKey: sp.APIKey, http: g.http}
}

// The query, tables and rows routes with an Idempotency-Key: a repeat
// replays the first answer and writes nothing, the same key with another
// body is 422, another API key has its own scope, a constraint's 400 is
// replayed too, and client SQL cannot see the records.
func TestIdempotentWrites(t *testing.T) {
	g := start(t, t.TempDir())
	c := spawnWithKey(t, g, "idem")
	admin := idemClient{base: g.url, apiKey: g.adminKey, http: g.http}

	first := c.send(t, "POST", "/api/db/idem/tables", "t-1", `{"table_name":"t","columns":[{"name":"id","type":"INTEGER","primary_key":true},{"name":"v","type":"TEXT","unique":true}]}`)
	expectAnswer(t, "create table", first, 201, false)
	again := c.send(t, "POST", "/api/db/idem/tables", "t-1", `{"table_name":"t","columns":[{"name":"id","type":"INTEGER","primary_key":true},{"name":"v","type":"TEXT","unique":true}]}`)
	expectAnswer(t, "create table again", again, 201, true)
	if again.body != first.body {
		t.Fatalf("replayed body %s, first %s", again.body, first.body)
	}

	insert := `{"sql":"INSERT INTO t(v) VALUES (?)","params":["a"]}`
	first = c.send(t, "POST", "/api/db/idem/query", "q-1", insert)
	expectAnswer(t, "insert", first, 200, false)
	for range 3 {
		again = c.send(t, "POST", "/api/db/idem/query", "q-1", insert)
		expectAnswer(t, "insert again", again, 200, true)
		if again.body != first.body {
			t.Fatalf("replayed body %s, first %s", again.body, first.body)
		}
	}
	if n := c.count(t, "idem", "t"); n != 1 {
		t.Fatalf("rows after replays: %d, want 1", n)
	}

	// The same key with another request.
	reused := c.send(t, "POST", "/api/db/idem/query", "q-1", `{"sql":"INSERT INTO t(v) VALUES (?)","params":["b"]}`)
	expectAnswer(t, "reused key", reused, 422, false)
	if !strings.Contains(reused.body, "IDEMPOTENCY_KEY_REUSED") {
		t.Fatalf("reused key: %s", reused.body)
	}
	// Another API key (the admin key) has its own scope: it runs anew,
	// and the unique constraint refuses it: a completed answer, recorded.
	other := admin.send(t, "POST", "/api/db/idem/query", "q-1", insert)
	expectAnswer(t, "other key", other, 400, false)
	again = admin.send(t, "POST", "/api/db/idem/query", "q-1", insert)
	expectAnswer(t, "other key again", again, 400, true)
	if again.body != other.body || !strings.Contains(other.body, "UNIQUE constraint failed") {
		t.Fatalf("replayed error %s, first %s", again.body, other.body)
	}

	// The rows route.
	rows := `{"rows":[{"v":"r1"},{"v":"r2"}]}`
	first = c.send(t, "POST", "/api/db/idem/tables/t/rows", "r-1", rows)
	expectAnswer(t, "insert rows", first, 201, false)
	again = c.send(t, "POST", "/api/db/idem/tables/t/rows", "r-1", rows)
	expectAnswer(t, "insert rows again", again, 201, true)
	if again.body != first.body {
		t.Fatalf("replayed body %s, first %s", again.body, first.body)
	}
	// A failed insert of rows (the second row breaks UNIQUE): nothing
	// written, and its answer is replayed.
	bad := `{"rows":[{"v":"r3"},{"v":"a"}]}`
	first = c.send(t, "POST", "/api/db/idem/tables/t/rows", "r-2", bad)
	expectAnswer(t, "bad rows", first, 400, false)
	again = c.send(t, "POST", "/api/db/idem/tables/t/rows", "r-2", bad)
	expectAnswer(t, "bad rows again", again, 400, true)
	if n := c.count(t, "idem", "t"); n != 3 {
		t.Fatalf("rows: %d, want 3", n)
	}

	// A read records nothing: it runs each time.
	read := `{"sql":"SELECT count(*) AS n FROM t"}`
	expectAnswer(t, "read", c.send(t, "POST", "/api/db/idem/query", "read-1", read), 200, false)
	expectAnswer(t, "read again", c.send(t, "POST", "/api/db/idem/query", "read-1", read), 200, false)

	// A write whose text does not prepare (a table not there, a reserved
	// one): its answer says what the database holds, and is replayed.
	for i, sql := range []string{"INSERT INTO later(v) VALUES (1)", " update later SET v = 2", "DELETE FROM _forge_idempotency_log"} {
		body := `{"sql":"` + sql + `"}`
		k := fmt.Sprintf("bad-%d", i)
		first := c.send(t, "POST", "/api/db/idem/query", k, body)
		if first.status != 400 && first.status != 403 {
			t.Fatalf("%s: %d %s", sql, first.status, first.body)
		}
		again := c.send(t, "POST", "/api/db/idem/query", k, body)
		expectAnswer(t, sql+" again", again, first.status, true)
		if again.body != first.body {
			t.Fatalf("%s: replayed body %s, first %s", sql, again.body, first.body)
		}
	}

	// Bad keys.
	for _, k := range []string{strings.Repeat("k", 256), "has space", "tab\tkey", "é"} {
		a := c.send(t, "POST", "/api/db/idem/query", k, insert)
		expectAnswer(t, fmt.Sprintf("key %q", k), a, 400, false)
		if !strings.Contains(a.body, "INVALID_IDEMPOTENCY_KEY") {
			t.Fatalf("key %q: %s", k, a.body)
		}
	}
	expectAnswer(t, "key of 255", c.send(t, "POST", "/api/db/idem/query", strings.Repeat("k", 255), read), 200, false)

	// The bookkeeping table is out of the client's reach.
	for _, sql := range []string{
		"SELECT * FROM _forge_idempotency_log",
		"SELECT * FROM _FORGE_IDEMPOTENCY_LOG",
		"DELETE FROM _forge_idempotency_log",
		"DROP TABLE _forge_idempotency_log",
		"CREATE TABLE _forge_mine(a)",
		"CREATE INDEX i ON _forge_idempotency_log(key)",
		"SELECT * FROM pragma_table_info('_forge_idempotency_log')",
	} {
		a := c.send(t, "POST", "/api/db/idem/query", "", `{"sql":"`+sql+`"}`)
		if a.status != 403 || !strings.Contains(a.body, "reserved") {
			t.Errorf("%s: %d %s", sql, a.status, a.body)
		}
	}
	// A trigger's body is authorized when a statement fires it: the
	// client's insert that would run it is refused.
	expectAnswer(t, "trigger", c.send(t, "POST", "/api/db/idem/query", "",
		`{"sql":"CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM _forge_idempotency_log; END"}`), 200, false)
	if a := c.send(t, "POST", "/api/db/idem/query", "q-9", `{"sql":"INSERT INTO t(v) VALUES ('z')"}`); a.status != 403 {
		t.Errorf("insert firing the trigger: %d %s", a.status, a.body)
	}
	// A view over it is refused when used.
	if a := c.send(t, "POST", "/api/db/idem/query", "", `{"sql":"CREATE VIEW v AS SELECT * FROM _forge_idempotency_log"}`); a.status == 200 {
		if a := c.send(t, "POST", "/api/db/idem/query", "", `{"sql":"SELECT * FROM v"}`); a.status != 403 {
			t.Errorf("view over the records: %d %s", a.status, a.body)
		}
	}
}

// A repeat while the first request still runs is 409.
func TestIdempotencyInProgress(t *testing.T) {
	g := start(t, t.TempDir())
	c := spawnWithKey(t, g, "slow")
	expectAnswer(t, "create", c.send(t, "POST", "/api/db/slow/query", "", `{"sql":"CREATE TABLE t(v)"}`), 200, false)
	slow := `{"sql":"INSERT INTO t(v) SELECT sum(x) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c LIMIT 2000000) SELECT x FROM c)"}`
	var wg sync.WaitGroup
	var first idemAnswer
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		req, _ := http.NewRequest("POST", g.url+"/api/db/slow/query", strings.NewReader(slow))
		req.Header.Set("X-API-Key", c.apiKey)
		req.Header.Set("Idempotency-Key", "slow-1")
		req.Header.Set("X-Query-Timeout", "30s")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		first = idemAnswer{status: resp.StatusCode, body: string(b)}
	}()
	saw409 := false
	for !saw409 {
		select {
		case <-done:
			t.Fatalf("the first request ended (%d %s) before a repeat saw 409", first.status, first.body)
		case <-time.After(20 * time.Millisecond):
		}
		a := c.send(t, "POST", "/api/db/slow/query", "slow-1", slow)
		switch a.status {
		case 409:
			if !strings.Contains(a.body, "IDEMPOTENCY_IN_PROGRESS") {
				t.Fatalf("409: %s", a.body)
			}
			saw409 = true
		case 200:
			if !a.replayed {
				t.Fatalf("a repeat ran anew: %s", a.body)
			}
		default:
			t.Fatalf("repeat: %d %s", a.status, a.body)
		}
	}
	wg.Wait()
	if first.status != 200 {
		t.Fatalf("first: %d %s", first.status, first.body)
	}
	again := c.send(t, "POST", "/api/db/slow/query", "slow-1", slow)
	expectAnswer(t, "after", again, 200, true)
	if n := c.count(t, "slow", "t"); n != 1 {
		t.Fatalf("rows: %d, want 1", n)
	}
}

// The batch route with an Idempotency-Key: the whole batch's answer is
// recorded with its writes; a repeat replays it and writes nothing, the
// same key with another body is 422, a failing statement's answer is
// recorded too; a batch of reads records nothing; separate statements
// and dry runs take no key.
func TestIdempotentBatch(t *testing.T) {
	g := start(t, t.TempDir())
	c := spawnWithKey(t, g, "ib")
	expectAnswer(t, "create", c.send(t, "POST", "/api/db/ib/query", "", `{"sql":"CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT UNIQUE)"}`), 200, false)

	batch := `{"statements":[{"sql":"INSERT INTO t(v) VALUES (?) RETURNING id","params":["a"]},{"sql":"INSERT INTO t(v) VALUES ('b')"},{"sql":"SELECT count(*) AS n FROM t"}]}`
	first := c.send(t, "POST", "/api/db/ib/batch", "b-1", batch)
	expectAnswer(t, "batch", first, 200, false)
	if !strings.Contains(first.body, `"n":2`) || !strings.Contains(first.body, `"meta"`) {
		t.Fatalf("batch: %s", first.body)
	}
	for range 2 {
		again := c.send(t, "POST", "/api/db/ib/batch", "b-1", batch)
		expectAnswer(t, "batch again", again, 200, true)
		if again.body != first.body {
			t.Fatalf("replayed %s, first %s", again.body, first.body)
		}
	}
	if n := c.count(t, "ib", "t"); n != 2 {
		t.Fatalf("rows after replays: %d, want 2", n)
	}
	// The same key on /query is another request: 422.
	reused := c.send(t, "POST", "/api/db/ib/query", "b-1", `{"sql":"INSERT INTO t(v) VALUES ('c')"}`)
	expectAnswer(t, "reused on query", reused, 422, false)
	reused = c.send(t, "POST", "/api/db/ib/batch", "b-1", `{"statements":[{"sql":"INSERT INTO t(v) VALUES ('c')"}]}`)
	expectAnswer(t, "reused", reused, 422, false)
	if !strings.Contains(reused.body, "IDEMPOTENCY_KEY_REUSED") {
		t.Fatalf("reused: %s", reused.body)
	}

	// A statement that fails: nothing of the batch is written, and its
	// answer is recorded (the row that would cure it does not change it).
	bad := `{"statements":[{"sql":"INSERT INTO t(v) VALUES ('d')"},{"sql":"INSERT INTO u(v) VALUES (1)"}]}`
	failed := c.send(t, "POST", "/api/db/ib/batch", "b-2", bad)
	expectAnswer(t, "failing batch", failed, 400, false)
	if !strings.Contains(failed.body, `"statement_index":1`) {
		t.Fatalf("failing batch: %s", failed.body)
	}
	expectAnswer(t, "create u", c.send(t, "POST", "/api/db/ib/query", "", `{"sql":"CREATE TABLE u(v)"}`), 200, false)
	again := c.send(t, "POST", "/api/db/ib/batch", "b-2", bad)
	expectAnswer(t, "failing batch again", again, 400, true)
	if again.body != failed.body {
		t.Fatalf("replayed %s, first %s", again.body, failed.body)
	}
	if n := c.count(t, "ib", "t"); n != 2 {
		t.Fatalf("rows after the failing batch: %d, want 2", n)
	}

	// Reads only: nothing recorded, each repeat reads again.
	reads := `{"statements":[{"sql":"SELECT count(*) AS n FROM t"}]}`
	expectAnswer(t, "reads", c.send(t, "POST", "/api/db/ib/batch", "b-3", reads), 200, false)
	expectAnswer(t, "insert e", c.send(t, "POST", "/api/db/ib/query", "", `{"sql":"INSERT INTO t(v) VALUES ('e')"}`), 200, false)
	a := c.send(t, "POST", "/api/db/ib/batch", "b-3", reads)
	expectAnswer(t, "reads again", a, 200, false)
	if !strings.Contains(a.body, `"n":3`) {
		t.Fatalf("reads again: %s", a.body)
	}

	// No one transaction, no record: refused before anything runs.
	for _, body := range []string{
		`{"statements":[{"sql":"INSERT INTO t(v) VALUES ('f')"}],"transaction":false}`,
		`{"statements":[{"sql":"INSERT INTO t(v) VALUES ('f')"}],"dry_run":true}`,
	} {
		a := c.send(t, "POST", "/api/db/ib/batch", "b-4", body)
		expectAnswer(t, body, a, 400, false)
		if !strings.Contains(a.body, "INVALID_VALUE") {
			t.Fatalf("%s: %s", body, a.body)
		}
	}
	if n := c.count(t, "ib", "t"); n != 3 {
		t.Fatalf("rows: %d, want 3", n)
	}
	// A bad key is refused as on every route.
	expectAnswer(t, "bad key", c.send(t, "POST", "/api/db/ib/batch", "has space", batch), 400, false)
}

// A repeat of a batch while the first still runs is 409.
func TestIdempotentBatchInProgress(t *testing.T) {
	g := start(t, t.TempDir())
	c := spawnWithKey(t, g, "slowb")
	expectAnswer(t, "create", c.send(t, "POST", "/api/db/slowb/query", "", `{"sql":"CREATE TABLE t(v)"}`), 200, false)
	slow := `{"statements":[{"sql":"INSERT INTO t(v) VALUES (1)"},{"sql":"INSERT INTO t(v) SELECT sum(x) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c LIMIT 2000000) SELECT x FROM c)"}]}`
	done := make(chan idemAnswer, 1)
	go func() {
		req, _ := http.NewRequest("POST", g.url+"/api/db/slowb/batch", strings.NewReader(slow))
		req.Header.Set("X-API-Key", c.apiKey)
		req.Header.Set("Idempotency-Key", "slow-b")
		req.Header.Set("X-Query-Timeout", "30s")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			done <- idemAnswer{}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- idemAnswer{status: resp.StatusCode, body: string(b)}
	}()
	var first idemAnswer
	for saw409 := false; !saw409; {
		select {
		case first = <-done:
			t.Fatalf("the first batch ended (%d %s) before a repeat saw 409", first.status, first.body)
		case <-time.After(20 * time.Millisecond):
		}
		a := c.send(t, "POST", "/api/db/slowb/batch", "slow-b", slow)
		switch {
		case a.status == 409 && strings.Contains(a.body, "IDEMPOTENCY_IN_PROGRESS"):
			saw409 = true
		case a.status == 200 && a.replayed:
		default:
			t.Fatalf("repeat: %d %s", a.status, a.body)
		}
	}
	first = <-done
	expectAnswer(t, "first", first, 200, false)
	expectAnswer(t, "after", c.send(t, "POST", "/api/db/slowb/batch", "slow-b", slow), 200, true)
	if n := c.count(t, "slowb", "t"); n != 2 {
		t.Fatalf("rows: %d, want 2", n)
	}
}

// Reads under a key: nothing to repeat, so nothing recorded, success or
// failure; but a key recorded for a write is still that write's, and a
// statement that does not prepare cannot be told a read: its error is
// recorded as a write's.
func TestIdempotentReads(t *testing.T) {
	dir := t.TempDir()
	g := start(t, dir)
	c := spawnWithKey(t, g, "ir")
	expectAnswer(t, "create", c.send(t, "POST", "/api/db/ir/query", "", `{"sql":"CREATE TABLE t(v)"}`), 200, false)
	insert := `{"sql":"INSERT INTO t(v) VALUES (1)"}`
	expectAnswer(t, "insert", c.send(t, "POST", "/api/db/ir/query", "w-1", insert), 200, false)

	// A key recorded for a write: a read with it is another request.
	a := c.send(t, "POST", "/api/db/ir/query", "w-1", `{"sql":"SELECT count(*) AS n FROM t"}`)
	expectAnswer(t, "read with a write's key", a, 422, false)
	// And a new process knows it too (the keys are loaded from the file).
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
	g = start(t, dir)
	c.base = g.url
	expectAnswer(t, "after a restart", c.send(t, "POST", "/api/db/ir/query", "w-1", `{"sql":"SELECT count(*) AS n FROM t"}`), 422, false)
	expectAnswer(t, "the write after a restart", c.send(t, "POST", "/api/db/ir/query", "w-1", insert), 200, true)

	// A read that fails as it runs: not recorded, each repeat runs.
	bad := `{"sql":"SELECT json(v) FROM (SELECT '{' AS v)"}`
	for i := range 2 {
		a := c.send(t, "POST", "/api/db/ir/query", "r-bad", bad)
		if a.status != 400 || a.replayed {
			t.Fatalf("failing read %d: %d (replayed %v) %s", i, a.status, a.replayed, a.body)
		}
	}
	// A statement that does not prepare: recorded, as a write's error.
	missing := `{"sql":"SELECT * FROM later"}`
	expectAnswer(t, "missing table", c.send(t, "POST", "/api/db/ir/query", "r-missing", missing), 400, false)
	expectAnswer(t, "create later", c.send(t, "POST", "/api/db/ir/query", "", `{"sql":"CREATE TABLE later(a)"}`), 200, false)
	expectAnswer(t, "missing table again", c.send(t, "POST", "/api/db/ir/query", "r-missing", missing), 400, true)
	if n := c.count(t, "ir", "t"); n != 1 {
		t.Fatalf("rows: %d, want 1", n)
	}
}
