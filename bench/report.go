package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Systems a run measures. The gateway is compared with the three ceilings.
const (
	SysGateway    = "gateway"
	SysSameEngine = "same-engine HTTP" // minimal fasthttp server, same SQLite-in-wazero engine
	SysFixed      = "fixed-body HTTP"  // minimal fasthttp server, fixed reply
	SysInProcess  = "in-process"       // the engine alone, no HTTP
)

// Report is one benchmark session: every run, the single figures (cold
// start, RSS), the targets, and how they were measured.
type Report struct {
	Suite     string    `json:"suite"` // "short" or "full"
	Date      string    `json:"date"`  // YYYY-MM-DD
	Host      string    `json:"host"`
	Started   time.Time `json:"started"`
	Seconds   float64   `json:"seconds"` // wall time of the whole session
	Machine   Machine   `json:"machine"`
	Method    Method    `json:"method"`
	Runs      []Run     `json:"runs"`
	Figures   []Figure  `json:"figures"`
	Targets   []Target  `json:"targets"`
	Notes     []string  `json:"notes,omitempty"`      // scenarios that failed, and why
	ChartFile string    `json:"chart_file,omitempty"` // the PNG, relative to the report
}

// Machine is where the session ran, and on what tree.
type Machine struct {
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go_version"`
	Commit    string `json:"commit,omitempty"`
	// Tree is TreeClean when `git status --porcelain` printed nothing at
	// the start and at the end of the session, TreeDirty otherwise: a
	// dirty tree's figures are not of Commit. Empty: not in a git tree.
	Tree string `json:"tree,omitempty"`
	// Changed are the paths `git status --porcelain` named (at most a few).
	Changed []string `json:"changed,omitempty"`
	// LoadAvg and LoadAvgEnd are /proc/loadavg's three averages at the
	// start and at the end of the session: the machine is shared.
	LoadAvg    string `json:"load_avg,omitempty"`
	LoadAvgEnd string `json:"load_avg_end,omitempty"`
}

// States of Machine.Tree.
const (
	TreeClean = "clean"
	TreeDirty = "dirty"
)

// Provenance is the Machine as one sentence's worth of text: "linux/amd64,
// 2 CPUs, go1.26.0, commit abc1234, tree clean, load average 0.50 at
// start, 1.20 at end (1-minute)".
func (m Machine) Provenance() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s, %d CPUs, %s", m.OS, m.Arch, m.CPUs, m.GoVersion)
	if m.Commit != "" {
		fmt.Fprintf(&b, ", commit %s", m.Commit)
	}
	switch m.Tree {
	case TreeClean:
		b.WriteString(", tree clean")
	case TreeDirty:
		b.WriteString(", **tree dirty** (uncommitted changes: the figures are not of that commit alone")
		if len(m.Changed) > 0 {
			fmt.Fprintf(&b, "; %s", strings.Join(m.Changed, ", "))
		}
		b.WriteString(")")
	}
	start, end := LoadAvg1(m.LoadAvg), LoadAvg1(m.LoadAvgEnd)
	switch {
	case start != "" && end != "":
		fmt.Fprintf(&b, ", load average %s at start, %s at end (1-minute)", start, end)
	case start != "":
		fmt.Fprintf(&b, ", load average %s at start (1-minute)", start)
	}
	return b.String()
}

// LoadAvg1 is the 1-minute average of a /proc/loadavg line ("0.52 0.58
// 0.59 1/467 12345"), or "" if there is none.
func LoadAvg1(loadavg string) string {
	f := strings.Fields(loadavg)
	if len(f) == 0 {
		return ""
	}
	if _, err := strconv.ParseFloat(f[0], 64); err != nil {
		return ""
	}
	return f[0]
}

// TreeState reads the output of `git status --porcelain`: clean when it is
// empty, else dirty with the first few paths it names.
func TreeState(porcelain string) (state string, changed []string) {
	const most = 5
	for _, line := range strings.Split(porcelain, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if len(changed) == most {
			changed = append(changed, "…")
			break
		}
		// "XY path" or "XY from -> to"
		path := strings.TrimSpace(line)
		if len(line) > 3 {
			path = line[3:]
		}
		changed = append(changed, path)
	}
	if len(changed) == 0 {
		return TreeClean, nil
	}
	return TreeDirty, changed
}

// Method is how the runs were driven.
type Method struct {
	Conns       int     `json:"conns"`
	RunSeconds  float64 `json:"run_seconds"`
	WarmSeconds float64 `json:"warmup_seconds"` // before each slice of a run
	Rounds      int     `json:"rounds"`         // slices a comparison's systems alternate in
	Rows        int     `json:"rows"`           // rows of the point-select table
	ZipfS       float64 `json:"zipf_s"`         // exponent of the skewed access
	Gateway     string  `json:"gateway"`
}

// Run is one measured load: a scenario on one system.
type Run struct {
	Scenario   string   `json:"scenario"`
	System     string   `json:"system"`
	Unit       string   `json:"unit"` // "req/s", "ops/s", "cycles/s"
	Throughput float64  `json:"throughput"`
	Requests   int64    `json:"requests"`
	Seconds    float64  `json:"seconds"`
	OK         int64    `json:"ok,omitempty"`      // requests with the expected status
	Latency    *Latency `json:"latency,omitempty"` // of the OK requests only; none for in-process loops
	// CPUPerOp is the server process's CPU time (user + system) per
	// request, in µs: what a request costs whatever else the shared
	// machine was doing. For in-process runs, the loop's CPU per op.
	CPUPerOp float64          `json:"cpu_us_per_op,omitempty"`
	Errors   map[string]int64 `json:"errors,omitempty"`
	Ratios   []Ratio          `json:"ratios,omitempty"`
	Note     string           `json:"note,omitempty"`
	// Slices is the throughput of each slice of the run, in order: how much
	// the shared machine moved it.
	Slices []float64 `json:"slices,omitempty"`
}

// Ratio is a run's throughput divided by another run's of the same session.
type Ratio struct {
	To    string  `json:"to"` // e.g. "same-engine HTTP" or "point-select gateway"
	Value float64 `json:"value"`
	// Differs says what differs between the two sides beyond the system
	// itself ("gateway: group commit; same-engine HTTP: autocommit"); empty
	// when they run the same work the same way.
	Differs string `json:"differs,omitempty"`
}

// Figure is a single measured value: a cold start, an RSS.
type Figure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	Note  string  `json:"note,omitempty"`
}

// Target is one of issue #6's goals and whether this session met it.
type Target struct {
	Name     string `json:"name"`
	Goal     string `json:"goal"`
	Measured string `json:"measured"`
	Met      *bool  `json:"met"` // nil: not measured in this session
}

// AddRun appends a run measured by the load generator.
func (r *Report) AddRun(scenario, system string, res Result) *Run {
	lat := res.Latency
	r.Runs = append(r.Runs, Run{
		Scenario: scenario, System: system, Unit: "req/s",
		Throughput: res.Throughput, Requests: res.Requests, OK: res.OK, Seconds: res.Seconds,
		Latency: &lat, Errors: res.Errors,
	})
	return &r.Runs[len(r.Runs)-1]
}

// Find returns the run of scenario on system, or nil.
func (r *Report) Find(scenario, system string) *Run {
	for i := range r.Runs {
		if r.Runs[i].Scenario == scenario && r.Runs[i].System == system {
			return &r.Runs[i]
		}
	}
	return nil
}

// AddRatio records run (scenario, system)'s throughput as a ratio to the
// base run's, labelled label; differs says what the two sides do
// differently beyond being different systems ("" when nothing does). A
// missing or zero base records nothing.
func (r *Report) AddRatio(scenario, system, baseScenario, baseSystem, label, differs string) (float64, bool) {
	run, base := r.Find(scenario, system), r.Find(baseScenario, baseSystem)
	if run == nil || base == nil || base.Throughput <= 0 {
		return 0, false
	}
	v := run.Throughput / base.Throughput
	run.Ratios = append(run.Ratios, Ratio{To: label, Value: v, Differs: differs})
	return v, true
}

// Figure returns the named figure.
func (r *Report) Figure(name string) (Figure, bool) {
	for _, f := range r.Figures {
		if f.Name == name {
			return f, true
		}
	}
	return Figure{}, false
}

// Met is a helper for Target.Met.
func Met(ok bool) *bool { return &ok }

// JSON is the report as indented JSON.
func (r *Report) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Markdown renders the report: the table of runs with every ratio, the
// single figures, and the targets.
func (r *Report) Markdown() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# DB-Forge benchmark: %s, %s (%s suite)\n\n", r.Date, r.Host, r.Suite)
	b.WriteString(r.Machine.Provenance())
	fmt.Fprintf(&b, ". %d connections, closed loop, %s measured per run, in %d slices that alternate between the systems compared, each after a %s warm-up; point SELECTs on %d rows; skewed access is Zipf s=%s. Whole session %s.\n\n",
		r.Method.Conns, fmtSeconds(r.Method.RunSeconds), max(r.Method.Rounds, 1), fmtSeconds(r.Method.WarmSeconds), r.Method.Rows,
		strconv.FormatFloat(r.Method.ZipfS, 'g', -1, 64), fmtSeconds(r.Seconds))
	if r.Method.Gateway != "" {
		fmt.Fprintf(&b, "Gateway: %s.\n\n", r.Method.Gateway)
	}
	b.WriteString("Every ratio divides two throughputs measured in this same session on this same machine; where the two sides do more than be different systems (a group commit against an autocommit, one connection against 16 clients) the ratio says what differs, in brackets. ")
	b.WriteString("Latency percentiles are of the successful requests only; the others are counted apart, by status, in the errors column.\n\n")
	if r.ChartFile != "" {
		fmt.Fprintf(&b, "![throughput and p99 per scenario](%s)\n\n", r.ChartFile)
	}

	b.WriteString("## Runs\n\n")
	b.WriteString("| scenario | system | throughput | p50 ms | p90 ms | p99 ms | p99.9 ms | server CPU µs/req | errors (by status) | ratios |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, run := range r.Runs {
		fmt.Fprintf(&b, "| %s | %s | %s %s |", run.Scenario, run.System, fmtThroughput(run.Throughput), run.Unit)
		if l := run.Latency; l != nil {
			fmt.Fprintf(&b, " %s | %s | %s | %s |", fmtMs(l.P50), fmtMs(l.P90), fmtMs(l.P99), fmtMs(l.P999))
		} else {
			b.WriteString(" – | – | – | – |")
		}
		cpu := "–"
		if run.CPUPerOp > 0 {
			cpu = fmtMs(run.CPUPerOp)
		}
		fmt.Fprintf(&b, " %s | %s | %s |\n", cpu, fmtErrors(run.Errors), fmtRatios(run))
	}

	if len(r.Figures) > 0 {
		b.WriteString("\n## Figures\n\n| figure | value | note |\n|---|--:|---|\n")
		for _, f := range r.Figures {
			fmt.Fprintf(&b, "| %s | %s %s | %s |\n", f.Name, fmtValue(f.Value), f.Unit, f.Note)
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	if len(r.Targets) > 0 {
		b.WriteString("\n## Targets\n\n| target | goal | measured | met |\n|---|---|---|---|\n")
		for _, t := range r.Targets {
			met := "not measured"
			if t.Met == nil && !strings.HasPrefix(t.Measured, "not measured") {
				met = "not judged"
			}
			if t.Met != nil {
				met = "**no**"
				if *t.Met {
					met = "yes"
				}
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", t.Name, t.Goal, t.Measured, met)
		}
	}
	return b.Bytes()
}

func fmtRatios(run Run) string {
	if run.Note != "" && len(run.Ratios) == 0 {
		return run.Note
	}
	parts := make([]string, 0, len(run.Ratios)+1)
	for _, q := range run.Ratios {
		p := fmt.Sprintf("%.2f× %s", q.Value, q.To)
		if q.Differs != "" {
			p += " [" + q.Differs + "]"
		}
		parts = append(parts, p)
	}
	if run.Note != "" {
		parts = append(parts, run.Note)
	}
	return strings.Join(parts, "; ")
}

func fmtErrors(errs map[string]int64) string {
	if len(errs) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d×%s", errs[k], k)
	}
	return strings.Join(parts, " ")
}

// fmtThroughput writes whole numbers with thousands separators, small ones
// with a decimal: 28,135 and 12.4.
func fmtThroughput(v float64) string {
	if v < 100 {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// fmtMs keeps three significant digits: 0.412, 3.05, 12.3, 105.
func fmtMs(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 1:
		return strconv.FormatFloat(v, 'f', 3, 64)
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func fmtValue(v float64) string {
	if v >= 1000 || v == math.Trunc(v) {
		return fmtThroughput(v)
	}
	return fmtMs(v)
}

func fmtSeconds(s float64) string {
	return strconv.FormatFloat(s, 'f', -1, 64) + " s"
}

// ProcStatus reads the resident set (VmRSS) and its peak (VmHWM) of
// process pid from /proc, in bytes.
func ProcStatus(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	rss, ok1 := statusKB(b, "VmRSS")
	hwm, ok2 := statusKB(b, "VmHWM")
	if !ok1 || !ok2 {
		return 0, 0, fmt.Errorf("/proc/%d/status: no VmRSS/VmHWM", pid)
	}
	return rss, hwm, nil
}

// ProcCPU is the CPU time (user + system) process pid has used so far.
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return statCPU(b, clockTicks)
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// statCPU reads utime + stime from a /proc/<pid>/stat line. The command
// name (field 2) may hold spaces and parentheses, so fields are counted
// from the last ')'.
func statCPU(stat []byte, hz int64) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("stat: no command name")
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("stat: too few fields")
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / time.Duration(hz), nil
}

// statusKB finds "field:   123 kB" in a /proc status file and returns the
// value in bytes.
func statusKB(status []byte, field string) (int64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, false
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, false
		}
		return n << 10, true
	}
	return 0, false
}
