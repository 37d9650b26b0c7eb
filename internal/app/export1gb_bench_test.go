package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkExport1GB: issue 13's form of the SELECT rule: point SELECTs by
// 4 clients while one export (format=sqlite) of a database of about 1 GB
// runs, against the same SELECTs alone just before, in the same run. It
// fills 1 GB first (about a minute); run it alone:
//
//	go test -run=NONE -bench=Export1GB -benchtime=1x ./internal/app/
//
// It measures on a gateway without pacing (FORGE_EXPORT_BUSY_SHARE=100,
// the metrics named "unpaced-"), then on a gateway with the default one,
// over the same data directory (so with -benchtime=1x only).
func BenchmarkExport1GB(b *testing.B) {
	dataDir := b.TempDir()
	g := start(b, dataDir, "FORGE_MAX_DB_SIZE_MB=2048", "FORGE_EXPORT_BUSY_SHARE=100")
	admin := g.client()
	if r := admin.Do(b, "POST", "/admin/databases/spawn/big", nil); r.Status != 201 {
		b.Fatalf("spawn: %d %s", r.Status, r.Raw)
	}
	sqlOK(b, g, "big", "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
	const rows = 1_000_000
	for i := 0; i < rows/20_000; i++ {
		body, _ := json.Marshal(map[string]string{"sql": "INSERT INTO t(v) SELECT randomblob(1000) FROM generate_series(1, 20000)"})
		r := sendAs(b, g, g.adminKey, "POST", "/api/db/big/query", "application/json", body, "X-Query-Timeout", "30s")
		mustStatus(b, r, 200, "fill")
	}
	fi, err := os.Stat(filepath.Join(dataDir, "databases", "big", "big.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("database file %.0f MB", float64(fi.Size())/(1<<20))
	// selects runs 4 clients of point SELECTs until stop is closed, and
	// gives their rate.
	selects := func(stop <-chan struct{}) float64 {
		start := time.Now()
		n, wait := pointSelects(g, "SELECT id, length(v) FROM t WHERE id = ?", rows, 4, stop)
		wait()
		return float64(n.Load()) / time.Since(start).Seconds()
	}
	// measure gives the export's MB/s and the SELECTs' rates alone and
	// during one export.
	measure := func() (mbs, alone, during float64) {
		stop := make(chan struct{})
		time.AfterFunc(3*time.Second, func() { close(stop) })
		alone = selects(stop)
		stop = make(chan struct{})
		var took time.Duration
		var size int64
		go func() {
			defer close(stop)
			start := time.Now()
			req, _ := http.NewRequest("GET", g.url+"/api/db/big/export?format=sqlite", nil)
			req.Header.Set("Authorization", "Bearer "+g.adminKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			size, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			took = time.Since(start)
		}()
		during = selects(stop)
		b.Logf("export of %d bytes", size)
		return float64(size) / (1 << 20) / took.Seconds(), alone, during
	}
	for b.Loop() {
		mbs, alone, during := measure()
		b.ReportMetric(mbs, "unpaced-export-MB/s")
		b.ReportMetric(during/alone, "unpaced-x-alone")
		if err := g.stop(); err != nil {
			b.Fatal(err)
		}
		g = start(b, dataDir, "FORGE_MAX_DB_SIZE_MB=2048")
		mbs, alone, during = measure()
		b.ReportMetric(mbs, "export-MB/s")
		b.ReportMetric(alone, "selects/s-alone")
		b.ReportMetric(during, "selects/s-during-export")
		b.ReportMetric(during/alone, "x-alone")
	}
}
