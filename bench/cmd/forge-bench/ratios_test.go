package main

import (
	"strings"
	"testing"

	"github.com/praetorian/db-forge/bench"
)

func TestTargets(t *testing.T) {
	t.Parallel()
	run := func(scn, sys string, tput, cpu float64) bench.Run {
		return bench.Run{Scenario: scn, System: sys, Throughput: tput, CPUPerOp: cpu}
	}
	tests := []struct {
		name    string
		runs    []bench.Run
		figures []bench.Figure
		many    []int
		want    map[string]string // target name prefix → "yes", "no" or "unmeasured", then a measured substring
	}{
		{
			name: "point select met, insert missed",
			runs: []bench.Run{
				run(scnPoint, sysSame, 10000, 40), run(scnPoint, sysGW, 8500, 50),
				run(scnInsert, sysProc, 10000, 30), run(scnInsert, sysGW, 5000, 60),
			},
			want: map[string]string{
				"point SELECT":      "yes|0.85×; CPU per request: same-engine HTTP 40 µs, gateway 50 µs, so 0.80×",
				"single-row INSERT": "no|0.50×",
				"10,000 databases:": "unmeasured|not measured",
				"cold start":        "unmeasured|not measured",
			},
		},
		{
			name: "slices that disagree are not judged",
			runs: []bench.Run{
				{Scenario: scnPoint, System: sysSame, Throughput: 10000, Slices: []float64{10000, 10000, 10000}},
				{Scenario: scnPoint, System: sysGW, Throughput: 9000, Slices: []float64{9500, 9000, 3000}},
				{Scenario: scnInsert, System: sysProc, Throughput: 10000, Slices: []float64{10000, 10000}},
				{Scenario: scnInsert, System: sysGW, Throughput: 5000, Slices: []float64{5000, 6000}},
			},
			want: map[string]string{
				"point SELECT":      "unmeasured|0.90× (slices 0.30–0.95×); not judged",
				"single-row INSERT": "no|0.50× (slices 0.50–0.60×)",
			},
		},
		{
			name: "10,000 databases judged, figures read",
			runs: []bench.Run{
				run(scnPoint, sysGW, 10000, 0), run(scnMany(10000, "zipf"), sysGW, 6000, 0),
			},
			figures: []bench.Figure{
				{Name: "gateway RSS, 10000 databases, after setup", Value: 900, Unit: "MiB"},
				{Name: "gateway RSS, 10000 databases, after zipf access", Value: 1100, Unit: "MiB"},
				{Name: "cold start, warm compilation cache (median)", Value: 48, Unit: "ms"},
				{Name: "spawn p50 (local backend)", Value: 2.5, Unit: "ms"},
			},
			many: []int{1000, 10000},
			want: map[string]string{
				"10,000 databases: gateway RSS": "no|1100 MiB",
				"10,000 databases, skewed":      "yes|0.60× with 10000 databases",
				"cold start":                    "yes|48 ms",
				"spawn, local":                  "yes|2.50 ms",
				"spawn, docker":                 "unmeasured|no Docker backend",
			},
		},
		{
			name: "rows page judged on one client's answer times",
			runs: []bench.Run{
				run(scnRows, sysPoint, 20000, 30), run(scnRows, sysPage, 3000, 250),
				{Scenario: scnRowsOne, System: sysPoint, Throughput: 20000, CPUPerOp: 30, Latency: &bench.Latency{P50: 0.040}},
				{Scenario: scnRowsOne, System: sysPage, Throughput: 3000, CPUPerOp: 260, Latency: &bench.Latency{P50: 0.300}},
			},
			want: map[string]string{
				"rows page": "no|7.5× at one client (p50 0.300 ms vs 0.040 ms); gateway CPU per request 260 µs vs 30 µs; throughput under the suite's clients 0.15×",
			},
		},
		{
			name: "rows page met",
			runs: []bench.Run{
				{Scenario: scnRowsOne, System: sysPoint, Latency: &bench.Latency{P50: 0.100}},
				{Scenario: scnRowsOne, System: sysPage, Latency: &bench.Latency{P50: 0.180}},
			},
			want: map[string]string{"rows page": "yes|1.8× at one client"},
		},
		{
			name:    "fewer databases are shown, not judged",
			runs:    []bench.Run{run(scnPoint, sysGW, 10000, 0), run(scnMany(2000, "zipf"), sysGW, 9000, 0)},
			figures: []bench.Figure{{Name: "gateway RSS, 2000 databases, after setup", Value: 300, Unit: "MiB"}},
			many:    []int{2000},
			want: map[string]string{
				"10,000 databases: gateway RSS": "unmeasured|300 MiB (largest RSS seen with 2000 databases); 10,000 only in make bench-full",
				"10,000 databases, skewed":      "unmeasured|0.90× with 2000 databases",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &bench.Report{Runs: tt.runs, Figures: tt.figures}
			computeRatios(r)
			ts := targets(r, config{suite: suite{manyDBs: tt.many}, zipfS: 0.99}, "no Docker backend")
			for prefix, want := range tt.want {
				met, measured, _ := strings.Cut(want, "|")
				found := false
				for _, tg := range ts {
					if !strings.HasPrefix(tg.Name, prefix) {
						continue
					}
					found = true
					got := "unmeasured"
					if tg.Met != nil {
						got = map[bool]string{true: "yes", false: "no"}[*tg.Met]
					}
					if got != met || !strings.Contains(tg.Measured, measured) {
						t.Errorf("%s: met %s, measured %q; want %s, %q", tg.Name, got, tg.Measured, met, measured)
					}
				}
				if !found {
					t.Errorf("no target %q", prefix)
				}
			}
		})
	}
}
