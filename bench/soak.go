package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// SoakSample is one look at the gateway during a soak: its resident set,
// what of it is wasm linear memory (from /proc/<pid>/smaps) and what the Go
// runtime holds (from its /metrics).
type SoakSample struct {
	Seconds float64 `json:"seconds"` // since the load started
	RSS     int64   `json:"rss_bytes"`
	HWM     int64   `json:"hwm_bytes"` // peak RSS so far
	// WasmInstances and WasmRSS: the wasm instances alive (one per SQLite
	// connection) and the resident part of their linear memories.
	WasmInstances int   `json:"wasm_instances"`
	WasmRSS       int64 `json:"wasm_rss_bytes"`
	WasmCommitted int64 `json:"wasm_committed_bytes"` // linear memory grown so far (resident or not)
	// The Go runtime's figures (go_memstats_*).
	HeapInuse  int64 `json:"go_heap_inuse_bytes"`
	HeapAlloc  int64 `json:"go_heap_alloc_bytes"`
	GoSys      int64 `json:"go_sys_bytes"`
	StackInuse int64 `json:"go_stack_inuse_bytes"`
	Goroutines int64 `json:"goroutines"`
	// The engine's figures (forge_engine_*).
	OpenDBs  int64 `json:"open_databases"`
	Recycled int64 `json:"recycled_total"`
	Idled    int64 `json:"idled_total"`
	// Requests answered so far (forge_http_requests_total, every route).
	Requests int64 `json:"requests_total"`
}

// SoakReport is one soak session: the settings, the samples and the load's
// result.
type SoakReport struct {
	Label   string    `json:"label,omitempty"`
	Date    string    `json:"date"`
	Host    string    `json:"host"`
	Started time.Time `json:"started"`
	Machine Machine   `json:"machine"`
	// Load is what was sent: databases, rows, clients, duration, mix.
	Load     SoakLoad          `json:"load"`
	Settings map[string]string `json:"settings,omitempty"` // FORGE_* settings other than the bench's own
	Samples  []SoakSample      `json:"samples"`
	Result   Result            `json:"result"`
	// CPUPerRequest is the gateway's CPU time (user + system) per request
	// under load, in µs: steadier than throughput on a shared machine.
	CPUPerRequest float64     `json:"cpu_us_per_request,omitempty"`
	Notes         []string    `json:"notes,omitempty"`
	Profiles      []string    `json:"profiles,omitempty"` // heap profiles saved, relative to the report
	Summary       SoakSummary `json:"summary"`
	// ChartFile is the PNG, relative to the report.
	ChartFile string `json:"chart_file,omitempty"`
}

// SoakLoad describes the soak's load.
type SoakLoad struct {
	Databases   int     `json:"databases"`
	Rows        int     `json:"rows"`     // rows of each database at the start
	DBBytes     int64   `json:"db_bytes"` // size of one database file at the start, about
	Conns       int     `json:"conns"`    // closed-loop clients
	Seconds     float64 `json:"seconds"`  // planned duration of the load
	ZipfS       float64 `json:"zipf_s"`   // skew of the database picked
	Mix         string  `json:"mix"`      // the statements and their shares
	Keys        string  `json:"keys"`     // which API keys the load sent
	SampleEvery float64 `json:"sample_every_seconds"`
	// InstanceBound is the most wasm instances the settings allow for
	// these databases: min(databases, FORGE_MAX_OPEN_DBS) × (1 +
	// FORGE_READERS_PER_DB).
	InstanceBound int `json:"instance_bound,omitempty"`
}

// SoakSummary is the shape of the curve: where it started, where it ended,
// and how fast it was still moving at the end.
type SoakSummary struct {
	// StartRSS is at the first sample, EndRSS at the last one under load,
	// SettledRSS at the last one after the load stopped (0: none).
	StartRSS, EndRSS, SettledRSS, PeakRSS int64
	// EndSlope is the RSS growth over the last third of the samples under
	// load, in bytes per minute (least squares); FirstSlope over the first
	// third.
	FirstSlope, EndSlope float64
	// PerInstance is the wasm RSS per live instance at the last sample
	// under load.
	PerInstance int64
	// MaxInstances is the most instances seen in a sample.
	MaxInstances int
}

// Summarize computes the summary from the samples. Samples taken after the
// load stopped (past Result.Seconds, or Load.Seconds) count only for
// SettledRSS and the peaks.
func (r *SoakReport) Summarize() {
	s := SoakSummary{}
	if len(r.Samples) == 0 {
		r.Summary = s
		return
	}
	end := r.Result.Seconds
	if end <= 0 {
		end = r.Load.Seconds
	}
	loaded := r.Samples
	if end > 0 {
		n := 1
		for n < len(r.Samples) && r.Samples[n].Seconds <= end+1 {
			n++
		}
		loaded = r.Samples[:n]
		if n < len(r.Samples) {
			s.SettledRSS = r.Samples[len(r.Samples)-1].RSS
		}
	}
	s.StartRSS = loaded[0].RSS
	last := loaded[len(loaded)-1]
	s.EndRSS = last.RSS
	for _, x := range r.Samples {
		s.PeakRSS = max(s.PeakRSS, x.RSS, x.HWM)
		s.MaxInstances = max(s.MaxInstances, x.WasmInstances)
	}
	if last.WasmInstances > 0 {
		s.PerInstance = last.WasmRSS / int64(last.WasmInstances)
	}
	third := max(len(loaded)/3, 2)
	if len(loaded) >= 2 {
		s.FirstSlope = slopePerMinute(loaded[:min(third, len(loaded))])
		s.EndSlope = slopePerMinute(loaded[max(len(loaded)-third, 0):])
	}
	r.Summary = s
}

// slopePerMinute is the least-squares slope of RSS over time, bytes/minute.
func slopePerMinute(xs []SoakSample) float64 {
	if len(xs) < 2 {
		return 0
	}
	var st, sr float64
	for _, x := range xs {
		st += x.Seconds
		sr += float64(x.RSS)
	}
	n := float64(len(xs))
	mt, mr := st/n, sr/n
	var num, den float64
	for _, x := range xs {
		num += (x.Seconds - mt) * (float64(x.RSS) - mr)
		den += (x.Seconds - mt) * (x.Seconds - mt)
	}
	if den == 0 {
		return 0
	}
	return num / den * 60
}

// JSON is the report as indented JSON.
func (r *SoakReport) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func mib(b int64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) }

// Markdown renders the soak: what ran, the summary, and every sample.
func (r *SoakReport) Markdown() []byte {
	var b bytes.Buffer
	title := "# DB-Forge soak: " + r.Date + ", " + r.Host
	if r.Label != "" {
		title += " (" + r.Label + ")"
	}
	b.WriteString(title + "\n\n")
	b.WriteString(r.Machine.Provenance())
	l := r.Load
	bound := ""
	if l.InstanceBound > 0 {
		bound = fmt.Sprintf(" The settings allow at most %d wasm instances for them (databases × (1 + readers)).", l.InstanceBound)
	}
	fmt.Fprintf(&b, ".\n\n%d closed-loop clients over %d databases (%d rows, about %s MiB each at the start; Zipf s=%s over the databases) for %s; %s. Keys: %s. A sample every %s.%s\n\n",
		l.Conns, l.Databases, l.Rows, mib(l.DBBytes), strconv.FormatFloat(l.ZipfS, 'g', -1, 64),
		time.Duration(l.Seconds*float64(time.Second)), l.Mix, l.Keys, time.Duration(l.SampleEvery*float64(time.Second)), bound)
	if len(r.Settings) > 0 {
		keys := make([]string, 0, len(r.Settings))
		for k := range r.Settings {
			keys = append(keys, k)
		}
		sortStrings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = "`" + k + "=" + r.Settings[k] + "`"
		}
		fmt.Fprintf(&b, "Gateway settings beyond the defaults: %s.\n\n", strings.Join(parts, ", "))
	} else {
		b.WriteString("Gateway settings: the defaults.\n\n")
	}
	s := r.Summary
	res := r.Result
	cpu := ""
	if r.CPUPerRequest > 0 {
		cpu = ", " + fmtMs(r.CPUPerRequest) + " µs of gateway CPU per request"
	}
	settled := ""
	if s.SettledRSS > 0 {
		settled = fmt.Sprintf(", %s MiB once the load stopped and idle readers closed", mib(s.SettledRSS))
	}
	fmt.Fprintf(&b, "**RSS %s → %s MiB under load** (peak %s MiB%s); growth %s MiB/min over the first third of the samples under load, **%s MiB/min over the last third**. %d wasm instances at most; at the end of the load %s MiB of wasm RSS per instance. %s requests, %s req/s%s, p50 %s ms, p99 %s ms, errors %s.\n\n",
		mib(s.StartRSS), mib(s.EndRSS), mib(s.PeakRSS), settled, signedMiB(s.FirstSlope), signedMiB(s.EndSlope),
		s.MaxInstances, mib(s.PerInstance), fmtThroughput(float64(res.Requests)), fmtThroughput(res.Throughput), cpu,
		fmtMs(res.Latency.P50), fmtMs(res.Latency.P99), fmtErrors(res.Errors))
	if res.FirstError != "" {
		fmt.Fprintf(&b, "First error: `%s`\n\n", strings.ReplaceAll(res.FirstError, "`", "'"))
	}
	if r.ChartFile != "" {
		fmt.Fprintf(&b, "![RSS, wasm and Go memory over time](%s)\n\n", r.ChartFile)
	}
	b.WriteString("## Samples\n\n")
	b.WriteString("RSS is the process's VmRSS; wasm is the resident part of the instances' linear memories (/proc/<pid>/smaps); Go heap is `go_memstats_heap_inuse_bytes`, Go sys everything the Go runtime mapped.\n\n")
	b.WriteString("| t s | RSS MiB | wasm MiB | instances | wasm MiB/inst | Go heap MiB | Go sys MiB | open dbs | recycled | req/s |\n")
	b.WriteString("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for i, x := range r.Samples {
		per := "–"
		if x.WasmInstances > 0 {
			per = strconv.FormatFloat(float64(x.WasmRSS)/float64(x.WasmInstances)/(1<<20), 'f', 2, 64)
		}
		rate := "–"
		if i > 0 && x.Seconds > r.Samples[i-1].Seconds {
			rate = fmtThroughput(float64(x.Requests-r.Samples[i-1].Requests) / (x.Seconds - r.Samples[i-1].Seconds))
		}
		fmt.Fprintf(&b, "| %.0f | %s | %s | %d | %s | %s | %s | %d | %d | %s |\n", x.Seconds, mib(x.RSS), mib(x.WasmRSS),
			x.WasmInstances, per, mib(x.HeapInuse), mib(x.GoSys), x.OpenDBs, x.Recycled, rate)
	}
	if len(r.Profiles) > 0 {
		b.WriteString("\nHeap profiles: " + strings.Join(r.Profiles, ", ") + " (`go tool pprof -top -sample_index=inuse_space <file>`).\n")
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.Bytes()
}

func signedMiB(perMin float64) string {
	return strconv.FormatFloat(perMin/(1<<20), 'f', 1, 64)
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// Chart draws the samples: RSS, wasm RSS, Go heap and Go sys in MiB over
// minutes (top), and the wasm instances and open databases (bottom).
func (r *SoakReport) Chart(width, height vg.Length) ([]byte, error) {
	if len(r.Samples) == 0 {
		return nil, fmt.Errorf("chart: no samples")
	}
	title := fmt.Sprintf("DB-Forge soak %s, %s: %d clients, %d databases", r.Date, r.Host, r.Load.Conns, r.Load.Databases)
	if r.Label != "" {
		title += " (" + r.Label + ")"
	}
	top := plot.New()
	top.Title.Text = title
	top.Y.Label.Text = "MiB"
	top.X.Label.Text = "minutes"
	top.Add(plotter.NewGrid())
	series := []struct {
		name string
		c    color.Color
		v    func(SoakSample) float64
	}{
		{"RSS", color.RGBA{R: 31, G: 119, B: 180, A: 255}, func(x SoakSample) float64 { return float64(x.RSS) }},
		{"wasm linear memory (resident)", color.RGBA{R: 255, G: 127, B: 14, A: 255}, func(x SoakSample) float64 { return float64(x.WasmRSS) }},
		{"Go sys", color.RGBA{R: 44, G: 160, B: 44, A: 255}, func(x SoakSample) float64 { return float64(x.GoSys) }},
		{"Go heap in use", color.RGBA{R: 214, G: 39, B: 40, A: 255}, func(x SoakSample) float64 { return float64(x.HeapInuse) }},
	}
	for _, s := range series {
		pts := make(plotter.XYs, len(r.Samples))
		for i, x := range r.Samples {
			pts[i] = plotter.XY{X: x.Seconds / 60, Y: s.v(x) / (1 << 20)}
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		line.Color = s.c
		line.Width = vg.Points(1.5)
		top.Add(line)
		top.Legend.Add(s.name, line)
	}
	top.Y.Min = 0
	top.Legend.Top = true
	top.Legend.Left = true

	bottom := plot.New()
	bottom.Y.Label.Text = "count"
	bottom.X.Label.Text = "minutes"
	bottom.Add(plotter.NewGrid())
	for _, s := range []struct {
		name string
		c    color.Color
		v    func(SoakSample) float64
	}{
		{"wasm instances", color.RGBA{R: 255, G: 127, B: 14, A: 255}, func(x SoakSample) float64 { return float64(x.WasmInstances) }},
		{"open databases", color.RGBA{R: 31, G: 119, B: 180, A: 255}, func(x SoakSample) float64 { return float64(x.OpenDBs) }},
	} {
		pts := make(plotter.XYs, len(r.Samples))
		for i, x := range r.Samples {
			pts[i] = plotter.XY{X: x.Seconds / 60, Y: s.v(x)}
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		line.Color = s.c
		line.Width = vg.Points(1.5)
		bottom.Add(line)
		bottom.Legend.Add(s.name, line)
	}
	if b := r.Load.InstanceBound; b > 0 {
		line, err := plotter.NewLine(plotter.XYs{{X: 0, Y: float64(b)}, {X: r.Samples[len(r.Samples)-1].Seconds / 60, Y: float64(b)}})
		if err != nil {
			return nil, err
		}
		line.Color = color.RGBA{R: 127, G: 127, B: 127, A: 255}
		line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		bottom.Add(line)
		bottom.Legend.Add("instance bound: databases × (1 + readers)", line)
	}
	bottom.Y.Min = 0
	bottom.Legend.Top = true
	bottom.Legend.Left = true

	img := vgimg.New(width, height)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2,
		PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4, PadY: vg.Millimeter * 6}
	top.Draw(tiles.At(dc, 0, 0))
	bottom.Draw(tiles.At(dc, 0, 1))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// PromValues reads the samples of a Prometheus text exposition: each
// metric name (labels dropped) maps to the sum of its samples. Comments and
// malformed lines are skipped.
func PromValues(text []byte) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
		} else {
			continue
		}
		if strings.HasPrefix(rest, "{") {
			j := strings.LastIndexByte(rest, '}')
			if j < 0 {
				continue
			}
			rest = rest[j+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil || math.IsNaN(v) {
			continue
		}
		out[name] += v
	}
	return out
}

// WasmMemory finds the wasm linear memories in a /proc/<pid>/smaps text.
// ncruces/go-sqlite3 reserves each instance's memory as one anonymous
// mapping of exactly limit bytes (FORGE_WASM_MEMORY_MB) and commits it from
// its start with mprotect as it grows; the WAL's shared-memory index is
// mapped over part of it (a "-shm" file). The kernel thus shows an instance
// as adjacent mappings, anonymous read-write ones and -shm ones, then an
// inaccessible rest, together limit bytes. It returns how many there are,
// their resident bytes, and their committed (accessible) bytes.
func WasmMemory(smaps []byte, limit int64) (instances int, rss, committed int64) {
	type vma struct {
		start, end int64
		perms      string
		path       string
		rss        int64
	}
	var vmas []vma
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 5 && !strings.HasSuffix(f[0], ":") {
			lo, hi, ok := strings.Cut(f[0], "-")
			if !ok {
				continue
			}
			a, err1 := strconv.ParseInt(lo, 16, 64)
			z, err2 := strconv.ParseInt(hi, 16, 64)
			if err1 != nil || err2 != nil {
				continue
			}
			v := vma{start: a, end: z, perms: f[1]}
			if len(f) > 5 {
				v.path = strings.Join(f[5:], " ")
			}
			vmas = append(vmas, v)
			continue
		}
		if len(vmas) > 0 && len(f) == 3 && f[0] == "Rss:" && f[2] == "kB" {
			if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				vmas[len(vmas)-1].rss = n << 10
			}
		}
	}
	// part reports whether v may be a piece of a linear memory.
	part := func(v vma) bool {
		switch {
		case v.path == "":
			return v.perms == "rw-p" || v.perms == "---p"
		case strings.HasSuffix(v.path, "-shm"):
			return v.perms == "rw-s"
		}
		return false
	}
	for i := 0; i < len(vmas); i++ {
		if !part(vmas[i]) || vmas[i].path != "" {
			continue
		}
		var r, c int64
		j := i
		for ; j < len(vmas) && part(vmas[j]) && (j == i || vmas[j].start == vmas[j-1].end); j++ {
			r += vmas[j].rss
			if vmas[j].perms != "---p" {
				c += vmas[j].end - vmas[j].start
			}
			if size := vmas[j].end - vmas[i].start; size >= limit || vmas[j].perms == "---p" {
				break
			}
		}
		if j < len(vmas) && vmas[j].end-vmas[i].start == limit {
			instances++
			rss += r
			committed += c
			i = j
		}
	}
	return instances, rss, committed
}
