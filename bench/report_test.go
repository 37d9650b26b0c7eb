package bench

import (
	"bytes"
	"encoding/json"
	"image/png"
	"strings"
	"testing"
	"time"
)

// sampleReport is a small report with every kind of row.
func sampleReport() *Report {
	r := &Report{
		Suite: "short", Date: "2026-11-27", Host: "box",
		Machine: Machine{OS: "linux", Arch: "amd64", CPUs: 2, GoVersion: "go1.26.0", Commit: "abc1234",
			Tree: TreeClean, LoadAvg: "0.52 0.58 0.59 1/467 12345", LoadAvgEnd: "1.75 0.90 0.70 2/470 12399"},
		Method:  Method{Conns: 16, RunSeconds: 3, WarmSeconds: 0.5, Rounds: 3, Rows: 10000, ZipfS: 0.99},
		Seconds: 95,
	}
	lat := func(p50 float64) Latency { return Latency{P50: p50, P90: 2 * p50, P99: 4 * p50, P999: 8 * p50} }
	r.AddRun("point-select", SysFixed, Result{Throughput: 60000, Latency: lat(0.2)})
	r.AddRun("point-select", SysSameEngine, Result{Throughput: 28000, Latency: lat(0.5)})
	r.AddRun("point-select", SysGateway, Result{Throughput: 21000, Latency: lat(0.7), Errors: map[string]int64{"503": 2, "transport": 1}}).CPUPerOp = 45
	r.Runs = append(r.Runs, Run{Scenario: "point-select", System: SysInProcess, Unit: "ops/s", Throughput: 140000, CPUPerOp: 7.1, Note: "1 connection"})
	r.AddRun("bulk-1000", SysGateway, Result{Throughput: 42.5, Latency: lat(110)})
	r.Figures = append(r.Figures, Figure{Name: "cold start", Value: 61.25, Unit: "ms"})
	r.Targets = append(r.Targets,
		Target{Name: "point", Goal: "≥ 0.8×", Measured: "0.75×", Met: Met(false)},
		Target{Name: "spawn", Goal: "p50 < 5 ms", Measured: "2 ms", Met: Met(true)},
		Target{Name: "docker", Goal: "reported", Measured: "not measured"},
		Target{Name: "noisy", Goal: "≥ 0.8×", Measured: "0.9× (slices 0.3–0.95×)"})
	return r
}

func TestAddRatio(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		scn, sys, base string
		want           float64
		ok             bool
	}{
		{"gateway to same engine", "point-select", SysGateway, SysSameEngine, 0.75, true},
		{"gateway to fixed", "point-select", SysGateway, SysFixed, 0.35, true},
		{"gateway to in-process", "point-select", SysGateway, SysInProcess, 0.15, true},
		{"missing base", "bulk-1000", SysGateway, SysSameEngine, 0, false},
		{"missing run", "insert", SysGateway, SysFixed, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := sampleReport()
			got, ok := r.AddRatio(tt.scn, tt.sys, tt.scn, tt.base, tt.base, "")
			if ok != tt.ok || (ok && (got < tt.want-1e-9 || got > tt.want+1e-9)) {
				t.Fatalf("AddRatio = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
			if run := r.Find(tt.scn, tt.sys); ok && (len(run.Ratios) != 1 || run.Ratios[0].To != tt.base) {
				t.Errorf("ratios recorded: %+v", run.Ratios)
			}
		})
	}
}

func TestMarkdown(t *testing.T) {
	t.Parallel()
	r := sampleReport()
	r.AddRatio("point-select", SysGateway, "point-select", SysSameEngine, SysSameEngine, "")
	r.AddRatio("point-select", SysGateway, "point-select", SysFixed, SysFixed, "")
	r.AddRatio("point-select", SysGateway, "point-select", SysInProcess, SysInProcess, "one connection")
	r.ChartFile = "2026-11-27-box.png"
	r.Notes = []string{"many: setup failed"}
	md := string(r.Markdown())
	for _, want := range []string{
		"# DB-Forge benchmark: 2026-11-27, box (short suite)",
		"linux/amd64, 2 CPUs, go1.26.0, commit abc1234, tree clean, load average 0.52 at start, 1.75 at end (1-minute).",
		"Latency percentiles are of the successful requests only; the others are counted apart, by status, in the errors column.",
		"| server CPU µs/req | errors (by status) | ratios |",
		"16 connections, closed loop, 3 s measured per run, in 3 slices that alternate between the systems compared, each after a 0.5 s warm-up; point SELECTs on 10000 rows; skewed access is Zipf s=0.99. Whole session 95 s.",
		"![throughput and p99 per scenario](2026-11-27-box.png)",
		"| point-select | fixed-body HTTP | 60,000 req/s | 0.200 | 0.400 | 0.800 | 1.60 | – | 0 |  |",
		"| point-select | gateway | 21,000 req/s | 0.700 | 1.40 | 2.80 | 5.60 | 45.0 | 2×503 1×transport | 0.75× same-engine HTTP; 0.35× fixed-body HTTP; 0.15× in-process [one connection] |",
		"| point-select | in-process | 140,000 ops/s | – | – | – | – | 7.10 | 0 | 1 connection |",
		"| bulk-1000 | gateway | 42.5 req/s | 110 | 220 | 440 | 880 | – | 0 |  |",
		"| cold start | 61.2 ms |  |",
		"| point | ≥ 0.8× | 0.75× | **no** |",
		"| spawn | p50 < 5 ms | 2 ms | yes |",
		"| docker | reported | not measured | not measured |",
		"| noisy | ≥ 0.8× | 0.9× (slices 0.3–0.95×) | not judged |",
		"## Notes\n\n- many: setup failed\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q; got:\n%s", want, md)
		}
	}
}

// The provenance line says whether the figures are of the commit alone and
// how busy the shared machine was.
func TestProvenance(t *testing.T) {
	t.Parallel()
	base := Machine{OS: "linux", Arch: "amd64", CPUs: 2, GoVersion: "go1.26.0", Commit: "abc1234"}
	tests := []struct {
		name string
		edit func(*Machine)
		want string
	}{
		{"no git, no loadavg", func(*Machine) {}, "linux/amd64, 2 CPUs, go1.26.0, commit abc1234"},
		{"clean, start only", func(m *Machine) { m.Tree, m.LoadAvg = TreeClean, "3.10 2.00 1.00 1/2 3" },
			"linux/amd64, 2 CPUs, go1.26.0, commit abc1234, tree clean, load average 3.10 at start (1-minute)"},
		{"dirty with paths", func(m *Machine) {
			m.Tree, m.Changed = TreeDirty, []string{"bench/load.go", "x"}
			m.LoadAvg, m.LoadAvgEnd = "1.00 1 1", "2.00 1 1"
		}, "commit abc1234, **tree dirty** (uncommitted changes: the figures are not of that commit alone; bench/load.go, x), load average 1.00 at start, 2.00 at end (1-minute)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := base
			tt.edit(&m)
			if got := m.Provenance(); !strings.HasSuffix(got, tt.want) {
				t.Errorf("Provenance() = %q, want it to end with %q", got, tt.want)
			}
		})
	}
}

func TestTreeState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, porcelain, state string
		changed                []string
	}{
		{"empty", "", TreeClean, nil},
		{"blank lines", "\n\n", TreeClean, nil},
		{"modified and untracked", " M bench/load.go\n?? notes.txt\n", TreeDirty, []string{"bench/load.go", "notes.txt"}},
		{"rename", "R  a.go -> b.go\n", TreeDirty, []string{"a.go -> b.go"}},
		{"many", "?? 1\n?? 2\n?? 3\n?? 4\n?? 5\n?? 6\n?? 7\n", TreeDirty, []string{"1", "2", "3", "4", "5", "…"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			state, changed := TreeState(tt.porcelain)
			if state != tt.state || strings.Join(changed, "|") != strings.Join(tt.changed, "|") {
				t.Errorf("TreeState = %q, %q; want %q, %q", state, changed, tt.state, tt.changed)
			}
		})
	}
}

func TestLoadAvg1(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"0.52 0.58 0.59 1/467 12345\n": "0.52",
		"12.00 8.5 3":                  "12.00",
		"":                             "",
		"garbage":                      "",
	} {
		if got := LoadAvg1(in); got != want {
			t.Errorf("LoadAvg1(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    func(float64) string
		in   float64
		want string
	}{
		{"throughput small", fmtThroughput, 12.44, "12.4"},
		{"throughput thousands", fmtThroughput, 28135.4, "28,135"},
		{"throughput millions", fmtThroughput, 1234567, "1,234,567"},
		{"ms below 1", fmtMs, 0.4123, "0.412"},
		{"ms below 10", fmtMs, 3.051, "3.05"},
		{"ms below 100", fmtMs, 12.34, "12.3"},
		{"ms large", fmtMs, 1234.5, "1234"},
		{"short k", fmtShort, 61234, "61.2k"},
		{"short small", fmtShort, 41.54, "41.5"},
		{"short M", fmtShort, 1.5e6, "1.50M"},
		{"tick 10k", tickLabel, 1e4, "10k"},
		{"tick 1M", tickLabel, 1e6, "1M"},
		{"tick 0.1", tickLabel, 0.1, "0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.f(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestJSONRoundTrip(t *testing.T) {
	t.Parallel()
	r := sampleReport()
	r.Started = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	b, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Runs) != len(r.Runs) || back.Runs[2].Errors["503"] != 2 || back.Runs[3].Latency != nil ||
		*back.Targets[1].Met != true || back.Targets[2].Met != nil || back.Method.ZipfS != 0.99 {
		t.Errorf("round trip lost data:\n%s", b)
	}
}

func TestChart(t *testing.T) {
	t.Parallel()
	b, err := sampleReport().Chart(800, 600)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w < 800 || h < 600 {
		t.Errorf("chart is %dx%d", w, h)
	}
	if _, err := (&Report{}).Chart(800, 600); err == nil {
		t.Error("a report without runs made a chart")
	}
}

func TestStatCPU(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		stat string
		want time.Duration
		ok   bool
	}{
		{"plain", "1234 (forge-gateway) S 1 1234 1234 0 -1 4194560 5000 0 0 0 250 50 0 0 20 0 9 0 100 0 0", 3 * time.Second, true},
		{"name with spaces and parens", "77 (a) b (c)) R 1 77 77 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 5 0 0", 100 * time.Millisecond, true},
		{"truncated", "77 (x) R 1 2 3", 0, false},
		{"no name", "77 x R", 0, false},
		{"not a number", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 x 1 0", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := statCPU([]byte(tt.stat), 100)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("statCPU = %v, %v; want %v, ok %v", got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestStatusKB(t *testing.T) {
	t.Parallel()
	status := []byte("Name:\tforge-gateway\nVmPeak:\t 1000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t9\nBad:\t12 MB\n")
	tests := []struct {
		field string
		want  int64
		ok    bool
	}{
		{"VmRSS", 100 << 20, true},
		{"VmHWM", 200 << 20, true},
		{"Threads", 0, false},
		{"Bad", 0, false},
		{"VmSwap", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			t.Parallel()
			got, ok := statusKB(status, tt.field)
			if got != tt.want || ok != tt.ok {
				t.Errorf("statusKB(%s) = %d, %v; want %d, %v", tt.field, got, ok, tt.want, tt.ok)
			}
		})
	}
}
