package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkMoves100MB: a checkpoint and an export of a database of about
// 100 MB, over a real gateway on loopback, each beside its plain-file
// yardstick measured in the same run (issue 13's speed rules):
//
//	checkpoint vs `cp` of the file (the volume's page cache warm for both)
//	branch (a spawn copying the database) vs `cp` of the file
//	export (format=sqlite, streamed to the client) vs `cat` of the file
//	(to /dev/null, and through a pipe)
//
// ReportMetric gives ms per operation, MB/s, and the ratio. Run it alone:
//
//	go test -run=NONE -bench=Moves100MB -benchtime=3x ./internal/app/
func BenchmarkMoves100MB(b *testing.B) {
	dataDir := b.TempDir()
	g := start(b, dataDir)
	admin := g.client()
	r := admin.Do(b, "POST", "/admin/databases/spawn/big", nil)
	if r.Status != 201 {
		b.Fatalf("spawn: %d %s", r.Status, r.Raw)
	}
	sqlOK(b, g, "big", "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
	for i := 0; i < 10; i++ {
		body, _ := json.Marshal(map[string]string{"sql": fmt.Sprintf(
			"INSERT INTO t(v) SELECT randomblob(1000) FROM generate_series(1, %d)", 10_000)})
		r := sendAs(b, g, g.adminKey, "POST", "/api/db/big/query", "application/json", body, "X-Query-Timeout", "30s")
		mustStatus(b, r, 200, "fill")
	}
	path := filepath.Join(dataDir, "databases", "big", "big.db")
	// Fold the log in so that the file is the whole database for cp and cat.
	sqlOK(b, g, "big", "SELECT count(*) FROM t")
	cpr := sendAs(b, g, g.adminKey, "POST", "/api/db/big/checkpoints", "application/json", []byte(`{"name":"warm"}`))
	mustStatus(b, cpr, 201, "warm-up checkpoint")
	sendAs(b, g, g.adminKey, "DELETE", "/api/db/big/checkpoints/warm", "", nil)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	mb := float64(fi.Size()) / (1 << 20)
	b.Logf("database file %.1f MB", mb)
	timeCmd := func(name string, args ...string) time.Duration {
		start := time.Now()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			b.Fatalf("%s: %v %s", name, err, out)
		}
		return time.Since(start)
	}

	b.Run("checkpoint", func(b *testing.B) {
		var ours, cp time.Duration
		for i := 0; b.Loop(); i++ {
			start := time.Now()
			r := sendAs(b, g, g.adminKey, "POST", "/api/db/big/checkpoints", "application/json", fmt.Appendf(nil, `{"name":"b%d"}`, i))
			ours += time.Since(start)
			mustStatus(b, r, 201, "checkpoint")
			mustStatus(b, sendAs(b, g, g.adminKey, "DELETE", fmt.Sprintf("/api/db/big/checkpoints/b%d", i), "", nil), 200, "delete")
			dst := filepath.Join(b.TempDir(), "copy.db")
			cp += timeCmd("sh", "-c", "cp "+path+" "+dst+" && sync "+dst)
			_ = os.Remove(dst)
		}
		n := float64(b.N)
		b.ReportMetric(ours.Seconds()*1000/n, "checkpoint-ms")
		b.ReportMetric(cp.Seconds()*1000/n, "cp+sync-ms")
		b.ReportMetric(ours.Seconds()/cp.Seconds(), "x-cp")
	})

	b.Run("branch", func(b *testing.B) {
		var ours, cp time.Duration
		for i := 0; b.Loop(); i++ {
			name := fmt.Sprintf("branch%d", i)
			start := time.Now()
			r := sendAs(b, g, g.adminKey, "POST", "/admin/databases/spawn/"+name, "application/json", []byte(`{"from":"big"}`))
			ours += time.Since(start)
			mustStatus(b, r, 201, "branch")
			mustStatus(b, sendAs(b, g, g.adminKey, "DELETE", "/admin/databases/"+name, "", nil), 200, "delete")
			dst := filepath.Join(b.TempDir(), "copy.db")
			cp += timeCmd("sh", "-c", "cp "+path+" "+dst+" && sync "+dst)
			_ = os.Remove(dst)
		}
		n := float64(b.N)
		b.ReportMetric(ours.Seconds()*1000/n, "branch-ms")
		b.ReportMetric(cp.Seconds()*1000/n, "cp+sync-ms")
		b.ReportMetric(ours.Seconds()/cp.Seconds(), "x-cp")
	})

	b.Run("export", func(b *testing.B) {
		var ours, cat, pipe time.Duration
		var bytes int64
		for b.Loop() {
			start := time.Now()
			req, _ := http.NewRequest("GET", g.url+"/api/db/big/export?format=sqlite", nil)
			req.Header.Set("Authorization", "Bearer "+g.adminKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("export: %d %v", resp.StatusCode, err)
			}
			ours += time.Since(start)
			bytes += n
			cat += timeCmd("sh", "-c", "cat "+path+" > /dev/null")
			pipe += timeCmd("sh", "-c", "cat "+path+" | cat > /dev/null")
		}
		n := float64(b.N)
		b.ReportMetric(float64(bytes)/n/(1<<20)/(ours.Seconds()/n), "export-MB/s")
		b.ReportMetric(mb/(cat.Seconds()/n), "cat-MB/s")
		b.ReportMetric(cat.Seconds()/ours.Seconds(), "x-cat-throughput")
		// cat > /dev/null copies nothing anywhere; through a pipe the bytes
		// move between processes, as an export's move to its client.
		b.ReportMetric(mb/(pipe.Seconds()/n), "cat|cat-MB/s")
		b.ReportMetric(pipe.Seconds()/ours.Seconds(), "x-cat|cat-throughput")
	})

	// Point SELECTs by 4 clients for a second, alone and then while
	// file exports run back to back: the exports' cost to the data plane.
	b.Run("select-during-export", func(b *testing.B) {
		selects := func(d time.Duration) float64 {
			var n atomic.Int64
			var wg sync.WaitGroup
			stop := time.Now().Add(d)
			for w := 0; w < 4; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					client := &http.Client{}
					for i := w; time.Now().Before(stop); i += 4 {
						body := fmt.Appendf(nil, `{"sql":"SELECT id, length(v) FROM t WHERE id = ?","params":[%d]}`, 1+i%100_000)
						req, _ := http.NewRequest("POST", g.url+"/api/db/big/query", bytes.NewReader(body))
						req.Header.Set("Authorization", "Bearer "+g.adminKey)
						req.Header.Set("Content-Type", "application/json")
						resp, err := client.Do(req)
						if err != nil {
							continue
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode == 200 {
							n.Add(1)
						}
					}
				}(w)
			}
			wg.Wait()
			return float64(n.Load()) / d.Seconds()
		}
		for b.Loop() {
			alone := selects(time.Second)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for end := time.Now().Add(time.Second); time.Now().Before(end); {
					req, _ := http.NewRequest("GET", g.url+"/api/db/big/export", nil)
					req.Header.Set("Authorization", "Bearer "+g.adminKey)
					if resp, err := http.DefaultClient.Do(req); err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
			}()
			during := selects(time.Second)
			<-done
			b.ReportMetric(alone, "selects/s-alone")
			b.ReportMetric(during, "selects/s-during-export")
			b.ReportMetric(during/alone, "x-alone")
		}
	})

	b.Run("export-sql", func(b *testing.B) {
		var ours time.Duration
		var bytes int64
		for b.Loop() {
			start := time.Now()
			req, _ := http.NewRequest("GET", g.url+"/api/db/big/export?format=sql", nil)
			req.Header.Set("Authorization", "Bearer "+g.adminKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ours += time.Since(start)
			bytes += n
		}
		b.ReportMetric(float64(bytes)/(1<<20)/ours.Seconds(), "dump-MB/s")
	})
}
