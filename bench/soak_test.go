package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
)

func TestPromValues(t *testing.T) {
	t.Parallel()
	text := []byte(`# HELP go_memstats_heap_inuse_bytes Number of heap bytes that are in use.
# TYPE go_memstats_heap_inuse_bytes gauge
go_memstats_heap_inuse_bytes 1.2345e+07
go_goroutines 42
forge_http_requests_total{route="/api/db/{name}/query",status="200"} 1000
forge_http_requests_total{route="/metrics",status="200"} 5
forge_label_with_space{a="x y}"} 7
broken_line
nan_value NaN
`)
	v := PromValues(text)
	for name, want := range map[string]float64{
		"go_memstats_heap_inuse_bytes": 12345000, "go_goroutines": 42,
		"forge_http_requests_total": 1005, "forge_label_with_space": 7,
	} {
		if v[name] != want {
			t.Errorf("%s = %v, want %v", name, v[name], want)
		}
	}
	for _, name := range []string{"broken_line", "nan_value", "#"} {
		if _, ok := v[name]; ok {
			t.Errorf("%s read", name)
		}
	}
}

// smapsEntry writes one mapping of a /proc/<pid>/smaps text.
func smapsEntry(b *strings.Builder, start, end int64, perms, path string, rssKB int64) {
	fmt.Fprintf(b, "%x-%x %s 00000000 00:00 0", start, end, perms)
	if path != "" {
		b.WriteString("                          " + path)
	}
	fmt.Fprintf(b, "\nSize:           %8d kB\nRss:            %8d kB\nPss:            %8d kB\n", (end-start)>>10, rssKB, rssKB)
}

func TestWasmMemory(t *testing.T) {
	t.Parallel()
	const limit = 256 << 20
	var b strings.Builder
	at := int64(0x7f0000000000)
	// A Go heap mapping, then an inaccessible reservation: not an instance.
	smapsEntry(&b, at, at+64<<20, "rw-p", "", 30000)
	smapsEntry(&b, at+64<<20, at+100<<20, "---p", "", 0)
	at += 1 << 30
	// Instance 1: committed, the WAL index mapped over it, then the rest.
	smapsEntry(&b, at, at+208<<10, "rw-p", "", 152)
	smapsEntry(&b, at+208<<10, at+240<<10, "rw-s", "/data/db1/db1.db-shm", 32)
	smapsEntry(&b, at+240<<10, at+2400<<10, "rw-p", "", 2060)
	smapsEntry(&b, at+2400<<10, at+limit, "---p", "", 0)
	at += limit
	// Instance 2, right after it: no WAL index yet.
	smapsEntry(&b, at, at+1<<20, "rw-p", "", 1000)
	smapsEntry(&b, at+1<<20, at+limit, "---p", "", 0)
	at += limit
	// Instance 3: all committed.
	smapsEntry(&b, at, at+limit, "rw-p", "", 4000)
	at += limit + 4096
	// A mapped file of that size, and an executable mapping: not instances.
	smapsEntry(&b, at, at+limit, "rw-p", "/some/file", 10)
	at += limit
	smapsEntry(&b, at, at+8<<20, "r-xp", "", 8000)

	n, rss, committed := WasmMemory([]byte(b.String()), limit)
	if n != 3 {
		t.Errorf("instances = %d, want 3", n)
	}
	if want := int64(152+32+2060+1000+4000) << 10; rss != want {
		t.Errorf("rss = %d, want %d", rss, want)
	}
	if want := int64(2400<<10 + 1<<20 + limit); committed != want {
		t.Errorf("committed = %d, want %d", committed, want)
	}
	if n, _, _ := WasmMemory([]byte(b.String()), 128<<20); n != 0 {
		t.Errorf("with another limit: %d instances, want 0", n)
	}
}

// soakReport is a small soak with RSS rising 60 MiB/min, then flat, and
// a last sample after the load stopped.
func soakReport() *SoakReport {
	r := &SoakReport{Label: "test", Date: "2026-11-30", Host: "box",
		Machine:  Machine{OS: "linux", Arch: "amd64", CPUs: 2, GoVersion: "go1.26.0"},
		Load:     SoakLoad{Databases: 300, Rows: 16000, DBBytes: 2 << 20, Conns: 64, Seconds: 60, ZipfS: 0.99, Mix: "mix", Keys: "keys", SampleEvery: 10, InstanceBound: 600},
		Settings: map[string]string{"FORGE_WASM_RECYCLE_MB": "8", "FORGE_READERS_PER_DB": "1"},
		Result:   Result{Requests: 1000, OK: 990, Seconds: 70, Throughput: 16.5, Errors: map[string]int64{"429": 10}},
	}
	for i := range 9 {
		rss := int64(100+10*min(i, 6)) << 20 // +10 MiB per 10 s for a minute, then flat
		if i == 8 {
			rss = 120 << 20 // settled, after the load
		}
		r.Samples = append(r.Samples, SoakSample{Seconds: float64(10 * i), RSS: rss, HWM: rss, WasmInstances: 10 + i,
			WasmRSS: int64(10+i) << 20, HeapInuse: 20 << 20, GoSys: 40 << 20, OpenDBs: 300, Requests: int64(100 * i)})
	}
	r.Summarize()
	return r
}

func TestSoakSummary(t *testing.T) {
	t.Parallel()
	s := soakReport().Summary
	if s.StartRSS != 100<<20 || s.EndRSS != 160<<20 || s.SettledRSS != 120<<20 || s.PeakRSS != 160<<20 ||
		s.MaxInstances != 18 || s.PerInstance != 1<<20 {
		t.Errorf("summary %+v", s)
	}
	if got := s.FirstSlope / (1 << 20); math.Abs(got-60) > 0.01 {
		t.Errorf("first slope %.2f MiB/min, want 60", got)
	}
	if s.EndSlope != 0 {
		t.Errorf("end slope %.2f, want 0", s.EndSlope)
	}
	var empty SoakReport
	empty.Summarize()
	if empty.Summary != (SoakSummary{}) {
		t.Errorf("empty summary %+v", empty.Summary)
	}
}

func TestSoakOutputs(t *testing.T) {
	t.Parallel()
	r := soakReport()
	md := string(r.Markdown())
	for _, want := range []string{
		"# DB-Forge soak: 2026-11-30, box (test)",
		"`FORGE_READERS_PER_DB=1`, `FORGE_WASM_RECYCLE_MB=8`",
		"**RSS 100.0 → 160.0 MiB under load** (peak 160.0 MiB, 120.0 MiB once the load stopped",
		"| 30 | 130.0 | 13.0 | 13 | 1.00 | 20.0 | 40.0 | 300 | 0 | 10.0 |",
		"10×429",
		"at most 600 wasm instances",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	js, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var back SoakReport
	if err := json.Unmarshal(js, &back); err != nil || len(back.Samples) != 9 || back.Samples[3].WasmRSS != 13<<20 {
		t.Errorf("JSON round trip: %v, %+v", err, back.Samples)
	}
	img, err := r.Chart(20*vg.Centimeter, 12*vg.Centimeter)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(img)); err != nil {
		t.Errorf("chart is not a PNG: %v", err)
	}
	if _, err := (&SoakReport{}).Chart(vg.Centimeter, vg.Centimeter); err == nil {
		t.Error("a chart without samples")
	}
}
