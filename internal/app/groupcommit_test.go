package app_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/praetorian/db-forge/internal/contracttest"
)

// TestGroupCommitOverHTTP: many clients writing one database at once get
// exactly the answers they would get one at a time — 200 with one row
// affected, or the 400 of their own constraint violation — and the table
// holds exactly the rows answered 200. /metrics shows the writes shared
// transactions.
func TestGroupCommitOverHTTP(t *testing.T) {
	g := start(t, t.TempDir())
	admin := g.client()
	contracttest.Expect(t, admin.Do(t, "POST", "/admin/databases/spawn/gc", nil), 201, "")
	contracttest.Expect(t, admin.Do(t, "POST", "/api/db/gc/query",
		`{"sql": "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE)"}`), 200, "")
	contracttest.Expect(t, admin.Do(t, "POST", "/api/db/gc/query", `{"sql": "INSERT INTO t (k) VALUES ('taken')"}`), 200, "")

	const clients, each = 16, 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				k := fmt.Sprintf("c%d-%d", c, i)
				if i%10 == 9 {
					k = "taken" // a UNIQUE violation of its own
				}
				r := admin.Do(t, "POST", "/api/db/gc/query", fmt.Sprintf(`{"sql": "INSERT INTO t (k) VALUES (?)", "params": [%q]}`, k))
				mu.Lock()
				switch {
				case r.Status == 200 && k != "taken" && strings.Contains(string(r.Raw), `"rows_affected":1`):
					ok++
				case r.Status == 400 && k == "taken" && strings.Contains(string(r.Raw), "UNIQUE constraint failed: t.k"):
					refused++
				default:
					t.Errorf("%s: %d %s", k, r.Status, r.Raw)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if want := clients * each / 10; refused != want || ok != clients*each-want {
		t.Errorf("%d committed, %d refused; want %d and %d", ok, refused, clients*each-want, want)
	}
	contracttest.Expect(t, admin.Do(t, "POST", "/api/db/gc/query", `{"sql": "SELECT count(*) AS n FROM t"}`),
		200, fmt.Sprintf(`{"data": [{"n": %d}], "rows_affected": 1}`, ok+1))
	got, _ := series(t, admin)
	if got["forge_engine_write_batches_total"] == 0 || got["forge_engine_batched_writes_total"] < 2 {
		t.Errorf("no shared transaction among %d concurrent writes: batches %v, batched %v",
			clients*each, got["forge_engine_write_batches_total"], got["forge_engine_batched_writes_total"])
	}
	t.Logf("batches %v, batched writes %v, redone %v", got["forge_engine_write_batches_total"],
		got["forge_engine_batched_writes_total"], got["forge_engine_redone_writes_total"])
}
