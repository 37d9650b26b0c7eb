package app_test

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAuditAcrossKill kills the gateway process (SIGKILL) while clients
// send single-row INSERTs (group commit merges them), restarts it, and
// checks the log against the table: every acknowledged write has its
// record, every row has its record, and every record of a successful
// statement has its row (a record is in its write's transaction).
//
// With FORGE_AUDIT=async (and FORGE_AUDIT_FLUSH=1m, so that no flush
// comes before a kill) the kill loses the records still waiting: every
// row is there without a record, and no record is without its row.
func TestAuditAcrossKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the gateway binary")
	}
	t.Run("on", func(t *testing.T) { auditAcrossKill(t, false) })
	t.Run("async", func(t *testing.T) { auditAcrossKill(t, true) })
}

func auditAcrossKill(t *testing.T, async bool) {
	k := newKillable(t)
	if async {
		k.env = append(k.env, "FORGE_AUDIT=async", "FORGE_AUDIT_FLUSH=1m")
	}
	hc := &http.Client{Timeout: 20 * time.Second}
	send := func(method, path, rid, body string) (int, []byte, error) {
		req, err := http.NewRequest(method, k.base+path, strings.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", testAdminKey)
		if rid != "" {
			req.Header.Set("X-Request-Id", rid)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}
	must := func(method, path, body string, want int) []byte {
		t.Helper()
		status, b, err := send(method, path, "", body)
		if err != nil || status != want {
			t.Fatalf("%s %s: %d %v %s", method, path, status, err, b)
		}
		return b
	}
	k.start()
	must("POST", "/admin/databases/spawn/kill", "", 201)
	must("POST", "/api/db/kill/query", `{"sql":"CREATE TABLE t(id INTEGER PRIMARY KEY, req TEXT NOT NULL)"}`, 200)

	var mu sync.Mutex
	acked := map[string]bool{}
	next := 0
	const kills, workers, most = 2, 4, 450 // requests per round at most: the log's page holds 1000
	for range kills {
		var wg sync.WaitGroup
		stop := make(chan struct{})
		limit := next + most
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					mu.Lock()
					i := next
					next++
					mu.Unlock()
					if i >= limit {
						return
					}
					rid := "kill-" + strconv.Itoa(i)
					status, _, err := send("POST", "/api/db/kill/query", rid,
						`{"sql":"INSERT INTO t(req) VALUES (?)","params":["`+rid+`"]}`)
					if err == nil && status == 200 {
						mu.Lock()
						acked[rid] = true
						mu.Unlock()
					}
				}
			}()
		}
		time.Sleep(time.Duration(10+rand.IntN(50)) * time.Millisecond)
		k.kill()
		close(stop)
		wg.Wait()
		k.start()
	}
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged before the kills")
	}

	var rows struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(must("POST", "/api/db/kill/query", `{"sql":"SELECT req FROM t"}`, 200), &rows); err != nil {
		t.Fatal(err)
	}
	inTable := map[string]bool{}
	for _, r := range rows.Data {
		inTable[r["req"].(string)] = true
	}
	var log struct {
		Records []auditRec `json:"records"`
	}
	if err := json.Unmarshal(must("GET", "/api/db/kill/audit?limit=1000", "", 200), &log); err != nil {
		t.Fatal(err)
	}
	recorded := map[string]bool{}
	for _, r := range log.Records {
		if r.Outcome == "ok" && strings.HasPrefix(r.RequestID, "kill-") {
			recorded[r.RequestID] = true
			if !inTable[r.RequestID] {
				t.Errorf("record of %s without its row", r.RequestID)
			}
		}
	}
	if async {
		if len(recorded) != 0 || len(inTable) == 0 {
			t.Errorf("async: %d records of %d rows, want none (lost with the kill)", len(recorded), len(inTable))
		}
		t.Logf("async: %d writes acknowledged, %d rows, their records lost with the kills", len(acked), len(inTable))
		return
	}
	for rid := range acked {
		if !recorded[rid] {
			t.Errorf("acknowledged write %s has no record", rid)
		}
	}
	for rid := range inTable {
		if !recorded[rid] {
			t.Errorf("row %s has no record", rid)
		}
	}
	t.Logf("%d writes acknowledged, %d rows, %d records of them", len(acked), len(inTable), len(recorded))
}
