package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkWritesDuringBackup: what backups cost the data plane. Four
// clients make point INSERTs into a database of about 50 MB for a window,
// on a gateway without backups and then on the same data directory with
// FORGE_BACKUP_INTERVAL=1s to a directory target: the database changes all
// the time, so it is copied (engine CopyTo) and uploaded every second
// while the writes go on. Reported: writes/s of each, their ratio, and the
// backups taken during the window, and the slowest write of each (a
// stall would show there). Run it alone:
//
//	go test -run=NONE -bench=WritesDuringBackup -benchtime=3x ./internal/app/
func BenchmarkWritesDuringBackup(b *testing.B) {
	dataDir := b.TempDir()
	g := start(b, dataDir)
	admin := g.client()
	if r := admin.Do(b, "POST", "/admin/databases/spawn/big", nil); r.Status != 201 {
		b.Fatalf("spawn: %d %s", r.Status, r.Raw)
	}
	sqlOK(b, g, "big", "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
	for range 5 {
		body, _ := json.Marshal(map[string]string{"sql": "INSERT INTO t(v) SELECT randomblob(1000) FROM generate_series(1, 10000)"})
		mustStatus(b, sendAs(b, g, g.adminKey, "POST", "/api/db/big/query", "application/json", body, "X-Query-Timeout", "30s"), 200, "fill")
	}
	if err := g.stop(); err != nil {
		b.Fatal(err)
	}
	window := 2 * time.Second
	// writes returns writes/s and the longest a write took.
	writes := func(g *gateway) (float64, time.Duration) {
		var n, longest atomic.Int64
		var wg sync.WaitGroup
		stop := time.Now().Add(window)
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client := &http.Client{}
				for i := w; time.Now().Before(stop); i += 4 {
					body := fmt.Appendf(nil, `{"sql":"INSERT INTO t(v) VALUES (randomblob(100))"}`)
					req, _ := http.NewRequest("POST", g.url+"/api/db/big/query", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+g.adminKey)
					req.Header.Set("Content-Type", "application/json")
					t0 := time.Now()
					resp, err := client.Do(req)
					if err != nil {
						continue
					}
					for d, m := int64(time.Since(t0)), longest.Load(); d > m && !longest.CompareAndSwap(m, d); m = longest.Load() {
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == 200 {
						n.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		return float64(n.Load()) / window.Seconds(), time.Duration(longest.Load())
	}
	backups := func(g *gateway) float64 {
		_, _, m := g.do(b, "GET", "/metrics", "")
		s := regexp.MustCompile(`(?m)^forge_backups_total (\S+)`).FindSubmatch(m)
		if s == nil {
			return 0
		}
		v, _ := strconv.ParseFloat(string(s[1]), 64)
		return v
	}
	target := b.TempDir()
	for b.Loop() {
		g := start(b, dataDir)
		alone, slowestAlone := writes(g)
		if err := g.stop(); err != nil {
			b.Fatal(err)
		}
		g = start(b, dataDir, "FORGE_BACKUP_TARGET="+target, "FORGE_BACKUP_INTERVAL=1s", "FORGE_BACKUP_KEEP=2")
		before := backups(g)
		during, slowestDuring := writes(g)
		taken := backups(g) - before
		if err := g.stop(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(alone, "writes/s-no-backups")
		b.ReportMetric(during, "writes/s-backups-1s")
		b.ReportMetric(during/alone, "x-no-backups")
		b.ReportMetric(taken, "backups-in-window")
		b.ReportMetric(float64(slowestAlone.Microseconds())/1000, "max-write-ms-no-backups")
		b.ReportMetric(float64(slowestDuring.Microseconds())/1000, "max-write-ms-backups-1s")
	}
}
