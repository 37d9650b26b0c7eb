package app_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Interactive transactions end to end (docs/API.md#transactions-addition):
// the routes, X-Transaction-Id on /query and /batch, the lease, the
// writer held, ownership, limits and metrics. No timed assertion: expiry
// is waited for by polling with a generous bound.

// txClient sends requests with one key.
type txClient struct {
	t   *testing.T
	url string
	key string
}

func (c txClient) do(path, body string, hdr ...string) reply {
	c.t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	return send(c.t, c.url, "POST", path, b, append([]string{"X-API-Key: " + c.key}, hdr...)...)
}

func (c txClient) open(db, body string) (id string, expires time.Time) {
	c.t.Helper()
	r := c.do("/api/db/"+db+"/transactions", body)
	if r.status != 201 {
		c.t.Fatalf("open: %d %s", r.status, r.raw)
	}
	id, _ = r.body["transaction_id"].(string)
	exp, _ := r.body["expires_at"].(string)
	expires, err := time.Parse(time.RFC3339Nano, exp)
	if !strings.HasPrefix(id, "tx_") || err != nil {
		c.t.Fatalf("open: %s", r.raw)
	}
	return id, expires
}

func (c txClient) sql(db, id, sql string, hdr ...string) reply {
	c.t.Helper()
	if id != "" {
		hdr = append(hdr, "X-Transaction-Id: "+id)
	}
	return c.do("/api/db/"+db+"/query", string(sqlBody(sql)), hdr...)
}

func (c txClient) count(db, where string) string {
	c.t.Helper()
	r := c.sql(db, "", "SELECT count(*) AS n FROM t WHERE "+where)
	if r.status != 200 {
		c.t.Fatalf("count: %d %s", r.status, r.raw)
	}
	return fmt.Sprint(r.body["data"].([]any)[0].(map[string]any)["n"])
}

func TestTransactions(t *testing.T) {
	g := start(t, t.TempDir(), "FORGE_MAX_TX_PER_KEY=2")
	admin := g.client()
	key := spawnKey(t, admin, "tx")
	otherID, otherKey := mintKey(t, admin, "tx", `{"scope": "read-write"}`)
	_ = otherID
	c := txClient{t: t, url: g.url, key: key}
	other := txClient{t: t, url: g.url, key: otherKey}
	want(t, c.sql("tx", "", "CREATE TABLE t (v INTEGER UNIQUE)"), 200, "", "")

	t.Run("commit", func(t *testing.T) {
		id, _ := c.open("tx", "")
		want(t, c.sql("tx", id, "INSERT INTO t VALUES (1)"), 200, "", "")
		// A failed statement answers its error; the transaction goes on.
		want(t, c.sql("tx", id, "INSERT INTO t VALUES (1)"), 400, "SQL_ERROR", "SQL Error: UNIQUE")
		want(t, c.sql("tx", id, "INSERT INTO t VALUES (2)"), 200, "", "")
		// Transaction control is the routes'.
		want(t, c.sql("tx", id, "COMMIT"), 400, "SQL_ERROR", "SQL Error: BEGIN, COMMIT")
		// A reader sees the last commit; another key does not see the id.
		if n := c.count("tx", "v IN (1, 2)"); n != "0" {
			t.Errorf("a reader during the transaction sees %s rows", n)
		}
		want(t, other.sql("tx", id, "SELECT 1"), 404, "TRANSACTION_NOT_FOUND", "Transaction not found")
		want(t, other.do("/api/db/tx/transactions/"+id+"/commit", ""), 404, "TRANSACTION_NOT_FOUND", "")
		want(t, c.do("/api/db/tx/transactions/"+id+"/commit", ""), 200, "", "")
		if n := c.count("tx", "v IN (1, 2)"); n != "2" {
			t.Errorf("after commit: %s rows, want 2", n)
		}
		want(t, c.do("/api/db/tx/transactions/"+id+"/commit", ""), 409, "TRANSACTION_ENDED", "The transaction was committed already.")
		want(t, c.do("/api/db/tx/transactions/tx_nope/commit", ""), 404, "TRANSACTION_NOT_FOUND", "")
		want(t, c.sql("tx", "tx_nope", "SELECT 1"), 404, "TRANSACTION_NOT_FOUND", "")
	})

	t.Run("rollback", func(t *testing.T) {
		id, _ := c.open("tx", `{"timeout": 60}`)
		want(t, c.sql("tx", id, "INSERT INTO t VALUES (3)"), 200, "", "")
		want(t, c.do("/api/db/tx/transactions/"+id+"/rollback", ""), 200, "", "")
		if n := c.count("tx", "v = 3"); n != "0" {
			t.Errorf("rolled back row: %s", n)
		}
		want(t, c.sql("tx", id, "SELECT 1"), 409, "TRANSACTION_ENDED", "The transaction was rolled back already")
	})

	t.Run("expiry", func(t *testing.T) {
		id, expires := c.open("tx", `{"timeout": 0.2}`)
		want(t, c.sql("tx", id, "INSERT INTO t VALUES (4)"), 200, "", "")
		// A write waits for the writer the transaction holds; it gets
		// it once the lease ran out and the transaction rolled back,
		// though nobody used the transaction again.
		want(t, c.sql("tx", "", "INSERT INTO t VALUES (40)", "X-Query-Timeout: 20s"), 200, "", "")
		if time.Now().Before(expires) {
			t.Errorf("a write got the writer before the lease ran out (%v)", expires)
		}
		if n := c.count("tx", "v = 4"); n != "0" {
			t.Errorf("the expired transaction's write is there")
		}
		want(t, c.do("/api/db/tx/transactions/"+id+"/commit", ""), 409, "TRANSACTION_EXPIRED",
			"The transaction's lease expired and it was rolled back; nothing of it was committed.")
		want(t, c.sql("tx", id, "SELECT 1"), 409, "TRANSACTION_EXPIRED", "")
	})

	t.Run("renewed", func(t *testing.T) {
		id, _ := c.open("tx", `{"timeout": 0.3}`)
		for i, begun := 0, time.Now(); time.Since(begun) < time.Second; i++ {
			want(t, c.sql("tx", id, fmt.Sprintf("INSERT INTO t VALUES (%d)", 1000+i)), 200, "", "")
			time.Sleep(50 * time.Millisecond)
		}
		want(t, c.do("/api/db/tx/transactions/"+id+"/commit", ""), 200, "", "")
	})

	t.Run("writers wait, readers read", func(t *testing.T) {
		id, _ := c.open("tx", "")
		want(t, c.sql("tx", id, "INSERT INTO t VALUES (5)"), 200, "", "")
		want(t, c.sql("tx", "", "INSERT INTO t VALUES (50)", "X-Query-Timeout: 200ms"), 504, "QUERY_TIMEOUT", "")
		want(t, other.do("/api/db/tx/transactions", ""), 429, "TOO_MANY_TRANSACTIONS", "Too many open transactions")
		done := make(chan reply, 1)
		go func() { done <- c.sql("tx", "", "INSERT INTO t VALUES (51)", "X-Query-Timeout: 20s") }()
		time.Sleep(100 * time.Millisecond)
		want(t, c.do("/api/db/tx/transactions/"+id+"/commit", ""), 200, "", "")
		select {
		case r := <-done:
			want(t, r, 200, "", "")
		case <-time.After(30 * time.Second):
			t.Fatal("the waiting write never ran")
		}
		if n := c.count("tx", "v IN (5, 50, 51)"); n != "2" {
			t.Errorf("%s rows of 5, 50, 51; want 2", n)
		}
	})

	t.Run("batch", func(t *testing.T) {
		id, _ := c.open("tx", "")
		hdr := "X-Transaction-Id: " + id
		want(t, c.do("/api/db/tx/batch", `{"statements": [{"sql": "INSERT INTO t VALUES (6)"}, {"sql": "INSERT INTO t VALUES (7)"}]}`, hdr), 200, "", "")
		// A failed batch is undone whole; the transaction goes on.
		r := c.do("/api/db/tx/batch", `{"statements": [{"sql": "INSERT INTO t VALUES (8)"}, {"sql": "INSERT INTO t VALUES (6)"}]}`, hdr)
		want(t, r, 400, "SQL_ERROR", "SQL Error: UNIQUE")
		want(t, c.do("/api/db/tx/batch", `{"statements": [{"sql": "INSERT INTO t VALUES (9)"}], "dry_run": true}`, hdr), 200, "", "")
		want(t, c.do("/api/db/tx/transactions/"+id+"/commit", ""), 200, "", "")
		if n := c.count("tx", "v IN (6, 7)"); n != "2" {
			t.Errorf("%s rows of the batch, want 2", n)
		}
		if n := c.count("tx", "v IN (8, 9)"); n != "0" {
			t.Errorf("%s rows of the failed batch and the dry run, want 0", n)
		}
	})

	t.Run("aborted", func(t *testing.T) {
		id, _ := c.open("tx", "")
		want(t, c.sql("tx", id, "INSERT INTO t VALUES (10)"), 200, "", "")
		want(t, c.sql("tx", id, "INSERT OR ROLLBACK INTO t VALUES (1)"), 409, "TRANSACTION_ABORTED",
			"The transaction was rolled back; nothing of it was committed. What ended it: SQL Error: UNIQUE")
		want(t, c.do("/api/db/tx/transactions/"+id+"/commit", ""), 409, "TRANSACTION_ABORTED", "")
		if n := c.count("tx", "v = 10"); n != "0" {
			t.Errorf("the aborted transaction's row is there")
		}
	})

	t.Run("limits and bodies", func(t *testing.T) {
		want(t, c.do("/api/db/tx/transactions", `{"timeout": 301}`), 400, "INVALID_TRANSACTION_TIMEOUT", "")
		want(t, c.do("/api/db/tx/transactions", `{"timeout": 0}`), 400, "INVALID_VALUE", "")
		want(t, c.do("/api/db/tx/transactions", `{"ttl": 1}`), 400, "UNKNOWN_FIELD", "")
		want(t, c.do("/api/db/nope/transactions", `{"ttl": 1}`), 403, "FORBIDDEN", "")
	})

	// Metrics.
	r := send(t, g.url, "GET", "/metrics", nil, "X-API-Key: "+g.adminKey)
	for _, m := range []string{"forge_transactions_open 0", "forge_transactions_committed_total 4",
		"forge_transactions_rolled_back_total 2", "forge_transactions_expired_total 1"} {
		if !strings.Contains(string(r.raw), m+"\n") {
			t.Errorf("metrics lack %q", m)
		}
	}
}
