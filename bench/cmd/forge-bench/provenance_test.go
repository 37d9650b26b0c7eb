package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/praetorian/db-forge/bench"
)

// A dirty tree's results stay out of the repository unless -allow-dirty.
func TestRedirect(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "bench", "results"), 0o755); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	tests := []struct {
		name              string
		out, root         string
		dirty, allowDirty bool
		want              bool
	}{
		{"clean tree", filepath.Join(root, "bench/results"), root, false, false, false},
		{"dirty tree, results in the repository", filepath.Join(root, "bench/results"), root, true, false, true},
		{"dirty tree, a directory not made yet", filepath.Join(root, "bench/results/new/deeper"), root, true, false, true},
		{"dirty tree, the repository's top", root, root, true, false, true},
		{"dirty tree, -allow-dirty", filepath.Join(root, "bench/results"), root, true, true, false},
		{"dirty tree, results outside", outside, root, true, false, false},
		{"a sibling whose name starts like the root", root + "-other", root, true, false, false},
		{"not a git tree", filepath.Join(root, "bench/results"), "", true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := redirect(tt.out, tt.root, tt.dirty, tt.allowDirty); got != tt.want {
				t.Errorf("redirect(%q, %q, dirty=%v, allow=%v) = %v, want %v", tt.out, tt.root, tt.dirty, tt.allowDirty, got, tt.want)
			}
		})
	}
}

func TestResultsBase(t *testing.T) {
	t.Parallel()
	if got := resultsBase("2026-12-01-vm", bench.Machine{Tree: bench.TreeClean}); got != "2026-12-01-vm" {
		t.Errorf("clean: %q", got)
	}
	if got := resultsBase("2026-12-01-vm-full", bench.Machine{Tree: bench.TreeDirty}); got != "2026-12-01-vm-full-dirty" {
		t.Errorf("dirty: %q", got)
	}
}

// The comparisons whose sides differ in more than the system say so.
func TestRatioLabels(t *testing.T) {
	t.Parallel()
	r := &bench.Report{Method: bench.Method{Conns: 16, Rows: 10000}, Runs: []bench.Run{
		{Scenario: scnInsert, System: sysSame, Throughput: 100},
		{Scenario: scnInsert, System: sysGW, Throughput: 146},
		{Scenario: scnInsert, System: sysProc, Throughput: 200},
		{Scenario: scnPoint, System: sysSame, Throughput: 100},
		{Scenario: scnPoint, System: sysGW, Throughput: 75},
	}}
	computeRatios(r)
	want := map[string]string{
		scnInsert + "|" + sysSame: "gateway: group commit of concurrent inserts; same-engine HTTP: autocommit, one transaction per insert",
		scnInsert + "|" + sysProc: "gateway: group commit of concurrent inserts, 16 clients; in-process: autocommit, one writer in a loop",
		scnPoint + "|" + sysSame:  "",
	}
	for _, run := range r.Runs {
		if run.System != sysGW {
			continue
		}
		for _, q := range run.Ratios {
			k := run.Scenario + "|" + q.To
			if w, ok := want[k]; ok && q.Differs != w {
				t.Errorf("%s: differs %q, want %q", k, q.Differs, w)
			}
			delete(want, k)
		}
	}
	if len(want) > 0 {
		t.Errorf("ratios not recorded: %v", want)
	}
	if d := ratioDiffs(map[string]string{"FORGE_WRITE_BATCH": "1"}, 16, 10000); d.insertSame != "gateway: autocommit (FORGE_WRITE_BATCH=1); same-engine HTTP: autocommit, one transaction per insert" {
		t.Errorf("without group commit: %q", d.insertSame)
	}
}
