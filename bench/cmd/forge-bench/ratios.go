package main

import (
	"fmt"
	"math"
	"strings"

	"github.com/praetorian/db-forge/bench"
)

const (
	sysGW    = bench.SysGateway
	sysSame  = bench.SysSameEngine
	sysFixed = bench.SysFixed
	sysProc  = bench.SysInProcess
)

// computeRatios records every gateway figure as a ratio to its ceilings
// (and the same-engine ceiling's to the lower ones). A ratio whose two
// sides differ in more than the system itself says what differs.
func computeRatios(r *bench.Report) {
	d := ratioDiffs(gatewayExtra, r.Method.Conns, r.Method.Rows)
	r.AddRatio(scnPoint, sysGW, scnPoint, sysSame, sysSame, "")
	r.AddRatio(scnInsert, sysGW, scnInsert, sysSame, sysSame, d.insertSame)
	r.AddRatio(scnMix, sysGW, scnMix, sysSame, sysSame, d.mixSame)
	r.AddRatio(scnPoint, sysGW, scnPoint, sysFixed, sysFixed, "")
	r.AddRatio(scnPoint, sysGW, scnPoint, sysProc, sysProc, d.pointProc)
	r.AddRatio(scnInsert, sysGW, scnInsert, sysProc, sysProc, d.insertProc)
	r.AddRatio(scnBulk, sysGW, scnBulk, sysProc, sysProc, d.bulkProc)
	r.AddRatio(scnPoint, sysSame, scnPoint, sysFixed, sysFixed, "")
	// The rows page against the point SELECT (issue #12: within 2×): a
	// ratio of throughputs, so the page's cost is 1/ratio points.
	r.AddRatio(scnRows, sysPage, scnRows, sysPoint, sysPoint, "50 rows against 1, same table and clients")
	r.AddRatio(scnRowsOne, sysPage, scnRowsOne, sysPoint, sysPoint+", 1 client", "50 rows against 1; one client: the ratio of the answers' times")
	r.AddRatio(scnPoint, sysSame, scnPoint, sysProc, sysProc, d.sameProc)
	r.AddRatio(scnInsert, sysSame, scnInsert, sysProc, sysProc, d.sameProc+"; both autocommit")
	for _, run := range append([]bench.Run(nil), r.Runs...) {
		if run.System == sysGW && strings.Contains(run.Scenario, "-dbs ") {
			r.AddRatio(run.Scenario, sysGW, scnPoint, sysGW, "single-db gateway", d.many)
			r.AddRatio(run.Scenario, sysGW, scnPoint, sysSame, sysSame+" (single db)", d.many)
		}
	}
}

// diffs are the labels of the comparisons whose two sides differ in more
// than the system: how each side commits, how many clients drive it.
type diffs struct {
	insertSame, mixSame, pointProc, insertProc, bulkProc, sameProc, many string
}

// ratioDiffs writes the labels for a session of conns clients, rows rows
// in the one-database table and a gateway with the given -env settings:
// group commit unless FORGE_WRITE_BATCH=1 turned it off.
func ratioDiffs(env map[string]string, conns, rows int) diffs {
	gwCommit := "group commit of concurrent inserts"
	if env["FORGE_WRITE_BATCH"] == "1" {
		gwCommit = "autocommit (FORGE_WRITE_BATCH=1)"
	}
	clients := "concurrent clients"
	if conns > 0 {
		clients = fmt.Sprintf("%d clients", conns)
	}
	table := "one table"
	if rows > 0 {
		table = fmt.Sprintf("one %d-row table", rows)
	}
	return diffs{
		insertSame: "gateway: " + gwCommit + "; same-engine HTTP: autocommit, one transaction per insert",
		mixSame:    "the inserts: gateway " + gwCommit + ", same-engine HTTP autocommit",
		pointProc:  "gateway: " + clients + " over HTTP; in-process: one connection in a loop",
		insertProc: "gateway: " + gwCommit + ", " + clients + "; in-process: autocommit, one writer in a loop",
		bulkProc:   "gateway: " + clients + " on one writer; in-process: one writer in a loop",
		sameProc:   clients + " over HTTP against one connection in a loop",
		many:       "the small tables of many databases against " + table + "; a fresh gateway process",
	}
}

func ratioOf(r *bench.Report, scn, sys, to string) (float64, bool) {
	run := r.Find(scn, sys)
	if run == nil {
		return 0, false
	}
	for _, q := range run.Ratios {
		if q.To == to {
			return q.Value, true
		}
	}
	return 0, false
}

// targets are issue #6's goals, judged on this session's figures.
func targets(r *bench.Report, cfg config, dockerSkip string) []bench.Target {
	var ts []bench.Target
	ts = append(ts, ratioTarget(r, "point SELECT, gateway vs same-engine HTTP server", "≥ 0.8× (aim 0.9×)", scnPoint, sysSame, 0.8))
	ts = append(ts, ratioTarget(r, "single-row INSERT, gateway (group commit) vs in-process autocommit (one writer)", "≥ 0.8×", scnInsert, sysProc, 0.8))

	// Many databases: judged at 10,000; a smaller count is shown for information.
	largest := 0
	for _, run := range r.Runs {
		var n int
		if _, err := fmt.Sscanf(run.Scenario, "%d-dbs zipf", &n); err == nil && run.System == sysGW {
			largest = max(largest, n)
		}
	}
	rssT := bench.Target{Name: "10,000 databases: gateway RSS", Goal: "< 1 GiB", Measured: "not measured"}
	skewT := bench.Target{Name: "10,000 databases, skewed access vs single-database rate", Goal: "≥ 0.5×", Measured: "not measured"}
	if largest > 0 {
		var peak float64
		for _, f := range r.Figures {
			if f.Unit == "MiB" && strings.Contains(f.Name, fmt.Sprintf("%d databases", largest)) {
				peak = max(peak, f.Value)
			}
		}
		v, ok := ratioOf(r, scnMany(largest, "zipf"), sysGW, "single-db gateway")
		rssT.Measured = fmt.Sprintf("%.0f MiB (largest RSS seen with %d databases)", peak, largest)
		if ok {
			skewT.Measured = fmt.Sprintf("%.2f× with %d databases (Zipf s=%g)", v, largest, cfg.zipfS)
		}
		if largest >= 10000 {
			rssT.Met = bench.Met(peak < 1024)
			if ok {
				skewT.Met = bench.Met(v >= 0.5)
			}
		} else {
			rssT.Measured += "; 10,000 only in make bench-full"
			skewT.Measured += "; 10,000 only in make bench-full"
		}
	}
	ts = append(ts, rssT, skewT)

	cold := bench.Target{Name: "cold start with a warm compilation cache", Goal: "< 200 ms", Measured: "not measured"}
	if f, ok := r.Figure("cold start, warm compilation cache (median)"); ok {
		cold.Measured = fmt.Sprintf("%.0f ms (median)", f.Value)
		cold.Met = bench.Met(f.Value < 200)
	}
	spawn := bench.Target{Name: "spawn, local backend", Goal: "p50 < 5 ms", Measured: "not measured"}
	if f, ok := r.Figure("spawn p50 (local backend)"); ok {
		spawn.Measured = fmt.Sprintf("%.2f ms", f.Value)
		spawn.Met = bench.Met(f.Value < 5)
	}
	docker := bench.Target{Name: "spawn, docker backend", Goal: "p50 reported", Measured: "not measured"}
	if dockerSkip != "" {
		docker.Measured += ": " + dockerSkip
	}
	if f, ok := r.Figure("spawn p50 (docker backend)"); ok {
		docker.Measured = fmt.Sprintf("%.0f ms", f.Value)
		docker.Met = bench.Met(true)
	}
	return append(ts, cold, spawn, docker, rowsTarget(r))
}

// rowsTarget judges issue #12's target: the rows route's filtered page of
// 50 answers within 2× a point SELECT through /query, on one 1,000,000-row
// table. Judged on the time one client waits for each answer (p50); the
// throughput of both under the suite's clients is beside it.
func rowsTarget(r *bench.Report) bench.Target {
	t := bench.Target{Name: "rows page of 50 (filter on an indexed column, 1,000,000 rows) vs point SELECT (issue #12)",
		Goal: "answer ≤ 2× a point SELECT's", Measured: "not measured"}
	page, point := r.Find(scnRowsOne, sysPage), r.Find(scnRowsOne, sysPoint)
	if page == nil || point == nil || page.Latency == nil || point.Latency == nil || point.Latency.P50 <= 0 {
		return t
	}
	v := page.Latency.P50 / point.Latency.P50
	t.Measured = fmt.Sprintf("%.1f× at one client (p50 %.3f ms vs %.3f ms)", v, page.Latency.P50, point.Latency.P50)
	if page.CPUPerOp > 0 && point.CPUPerOp > 0 {
		t.Measured += fmt.Sprintf("; gateway CPU per request %.0f µs vs %.0f µs", page.CPUPerOp, point.CPUPerOp)
	}
	if q, ok := ratioOf(r, scnRows, sysPage, sysPoint); ok && q > 0 {
		t.Measured += fmt.Sprintf("; throughput under the suite's clients %.2f×", q)
	}
	t.Met = bench.Met(v <= 2)
	return t
}

// maxSpread is how far apart the per-slice ratios of a comparison may be
// (highest over lowest) for its verdict to count: beyond it a neighbour's
// burst, not the gateway, decided the figure.
const maxSpread = 2.0

// ratioTarget judges the gateway's throughput in scn against base's. The
// verdict is the (throughput ratio ≥ min); beside it are the ratio
// of each slice and the same comparison in CPU time per request, which a
// busy machine moves much less. When the slices disagree by more than
// maxSpread the target is shown but not judged.
func ratioTarget(r *bench.Report, name, goal, scn, base string, min float64) bench.Target {
	t := bench.Target{Name: name, Goal: goal, Measured: "not measured"}
	v, ok := ratioOf(r, scn, sysGW, base)
	if !ok {
		return t
	}
	t.Measured = fmt.Sprintf("%.2f×", v)
	t.Met = bench.Met(v >= min)
	gw, b := r.Find(scn, sysGW), r.Find(scn, base)
	if lo, hi, ok := sliceSpread(gw, b); ok {
		t.Measured += fmt.Sprintf(" (slices %.2f–%.2f×)", lo, hi)
		if lo <= 0 || hi/lo > maxSpread {
			t.Met = nil
			t.Measured += "; not judged: the slices disagree, the machine was busy"
		}
	}
	if gw.CPUPerOp > 0 && b.CPUPerOp > 0 {
		t.Measured += fmt.Sprintf("; CPU per request: %s %.0f µs, gateway %.0f µs, so %.2f×", base, b.CPUPerOp, gw.CPUPerOp, b.CPUPerOp/gw.CPUPerOp)
	}
	return t
}

// sliceSpread is the lowest and highest ratio of run's slices to base's
// slices taken at the same round.
func sliceSpread(run, base *bench.Run) (lo, hi float64, ok bool) {
	if len(run.Slices) < 2 || len(run.Slices) != len(base.Slices) {
		return 0, 0, false
	}
	lo, hi = math.Inf(1), 0
	for i, v := range run.Slices {
		if base.Slices[i] <= 0 {
			return 0, 0, false
		}
		q := v / base.Slices[i]
		lo, hi = math.Min(lo, q), math.Max(hi, q)
	}
	return lo, hi, true
}
