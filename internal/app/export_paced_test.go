package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
)

// Exports paced while other requests are served (FORGE_EXPORT_BUSY_SHARE
// at its lowest, so that every MiB waits) send the same bytes as alone:
// the file (streamed from the snapshot, and from a scratch copy for a
// database with bookkeeping tables) and the dump.
func TestExportPacedUnderLoad(t *testing.T) {
	g := start(t, t.TempDir(), "FORGE_EXPORT_BUSY_SHARE=1")
	admin := g.client()
	spawnKey(t, admin, "big")
	sqlOK(t, g, "big", "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
	body, _ := json.Marshal(map[string]string{"sql": "INSERT INTO t(v) SELECT randomblob(1000) FROM generate_series(1, 6000)"})
	mustStatus(t, sendAs(t, g, g.adminKey, "POST", "/api/db/big/query", "application/json", body, "X-Query-Timeout", "30s"), 200, "fill")

	exports := []string{"/api/db/big/export?format=sqlite", "/api/db/big/export?format=sql"}
	exportAll := func() map[string][]byte {
		out := map[string][]byte{}
		for _, p := range exports {
			r := sendAs(t, g, g.adminKey, "GET", p, "", nil)
			mustStatus(t, r, 200, "export")
			out[p] = r.body
		}
		return out
	}
	// underLoad runs fn while 2 clients make point SELECTs.
	underLoad := func(fn func()) {
		stop := make(chan struct{})
		served, wait := pointSelects(g, "SELECT length(v) FROM t WHERE id = ?", 6000, 2, stop)
		defer func() {
			close(stop)
			wait()
			if served.Load() == 0 {
				t.Error("no SELECT was served during the exports: the load never ran")
			}
		}()
		fn()
	}
	for _, phase := range []string{"streamed", "scratch copy"} {
		if phase == "scratch copy" {
			// A write with an Idempotency-Key leaves a bookkeeping table:
			// the file export then goes through a scratch copy.
			r := sendAs(t, g, g.adminKey, "POST", "/api/db/big/query", "application/json",
				[]byte(`{"sql":"UPDATE t SET v = zeroblob(10) WHERE id = 1"}`), "Idempotency-Key", "paced-export-1")
			mustStatus(t, r, 200, "write with an idempotency key")
		}
		alone := exportAll()
		var under map[string][]byte
		underLoad(func() { under = exportAll() })
		for _, p := range exports {
			if len(alone[p]) < 6_000_000 || !bytes.Equal(alone[p], under[p]) {
				t.Errorf("%s, %s: %d bytes under load, %d alone, not the same", phase, p, len(under[p]), len(alone[p]))
			}
		}
	}
}

// pointSelects runs clients that send sql, a point SELECT of one id
// parameter (ids 1 to rows in turn), to the database big with the admin
// key until stop is closed; served counts the answers 200, and wait
// returns once every client has stopped. The exports' tests and
// benchmarks load the data plane with it.
func pointSelects(g *gateway, sql string, rows, clients int, stop <-chan struct{}) (served *atomic.Int64, wait func()) {
	served = new(atomic.Int64)
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{}
			for i := w; ; i += clients {
				select {
				case <-stop:
					return
				default:
				}
				b := fmt.Appendf(nil, `{"sql":%q,"params":[%d]}`, sql, 1+i%rows)
				req, _ := http.NewRequest("POST", g.url+"/api/db/big/query", bytes.NewReader(b))
				req.Header.Set("Authorization", "Bearer "+g.adminKey)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					served.Add(1)
				}
			}
		}()
	}
	return served, wg.Wait
}
