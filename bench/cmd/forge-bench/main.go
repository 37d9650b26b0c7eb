// Command forge-bench is DB-Forge's benchmark suite. It starts the gateway
// (bin/forge-gateway) and the three ceilings as separate processes on
// 127.0.0.1, drives each scenario from this process with a closed-loop
// fasthttp client, and writes bench/results/<date>-<host>.{md,json,png}.
//
//	forge-bench -suite short   # make bench: at most 3 minutes
//	forge-bench -suite full    # make bench-full: longer runs, 10,000 databases
//	forge-bench -suite soak    # make soak: memory under a long mixed load
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"gonum.org/v1/plot/vg"

	"github.com/praetorian/db-forge/bench"
)

// suite is what a run of the bench covers.
type suite struct {
	name         string
	run, warmup  time.Duration
	conns        int
	rounds       int           // the measured time of a comparison alternates between the systems this many times
	rows         int           // rows of the point-select table
	manyDBs      []int         // sizes of the many-databases scenario
	manyRows     int           // rows of each of those databases
	setupBudget  time.Duration // of the many-databases setup, to keep the suite's time bound; 0 = none
	spawnCycles  int
	dockerCycles int // spawn cycles with the Docker backend, when it answers
	coldTrials   int
	warmTrials   int
}

var suites = map[string]suite{
	"short": {name: "short", run: 3 * time.Second, warmup: 200 * time.Millisecond, conns: 16, rounds: 5, rows: 10000,
		manyDBs: []int{1500}, manyRows: 100, setupBudget: 40 * time.Second, spawnCycles: 200, dockerCycles: 3, coldTrials: 1, warmTrials: 5},
	"full": {name: "full", run: 10 * time.Second, warmup: 500 * time.Millisecond, conns: 16, rounds: 5, rows: 10000,
		manyDBs: []int{1000, 10000}, manyRows: 100, spawnCycles: 1000, dockerCycles: 20, coldTrials: 3, warmTrials: 10},
}

type config struct {
	suite
	binDir   string
	outDir   string
	tmpRoot  string
	cacheDir string // warm wazero compilation cache shared by the gateway and the ceilings
	zipfS    float64
	only     map[string]bool
	keep     bool
	logLevel string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "forge-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if soakSuite(args) {
		return runSoak(ctx, args)
	}
	fs := flag.NewFlagSet("forge-bench", flag.ContinueOnError)
	suiteName := fs.String("suite", "short", "short (make bench, ≤ 3 min), full (make bench-full) or soak (make soak; its own flags: -suite soak -h)")
	binDir := fs.String("bin", "bin", "directory of forge-gateway and the ceiling binaries")
	outDir := fs.String("out", "bench/results", "directory of the results")
	conns := fs.Int("conns", 0, "connections (closed-loop workers); 0 = the suite's")
	runFor := fs.Duration("duration", 0, "measured time of each run; 0 = the suite's")
	zipfS := fs.Float64("zipf", 0.99, "Zipf exponent of the skewed access (YCSB's 0.99)")
	only := fs.String("only", "", "comma-separated scenarios to run: point,insert,bulk,mix,rows,spawn,many,docker,truth,longread,cold (default all)")
	keep := fs.Bool("keep", false, "keep the temporary data directories and logs")
	logLevel := fs.String("log-level", "info", "the gateway's FORGE_LOG_LEVEL (info = access log on)")
	fs.Var(envFlags(gatewayExtra), "env", "a FORGE_NAME=value setting for every gateway the suite starts (repeatable)")
	allowDirty := fs.Bool("allow-dirty", false, "write into -out even when the git tree has uncommitted changes (the report and its file names say dirty); without it such a session's results go to a temporary directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, ok := suites[*suiteName]
	if !ok {
		return fmt.Errorf("-suite %q: want short or full", *suiteName)
	}
	if *conns > 0 {
		s.conns = *conns
	}
	if *runFor > 0 {
		s.run = *runFor
	}
	cfg := config{suite: s, binDir: *binDir, outDir: *outDir, zipfS: *zipfS, keep: *keep, logLevel: *logLevel}
	if *only != "" {
		cfg.only = map[string]bool{}
		for _, o := range strings.Split(*only, ",") {
			cfg.only[strings.TrimSpace(o)] = true
		}
	}
	tmp, err := os.MkdirTemp("", "forge-bench-")
	if err != nil {
		return err
	}
	cfg.tmpRoot = tmp
	if !cfg.keep {
		defer os.RemoveAll(tmp)
	} else {
		fmt.Fprintln(os.Stderr, "keeping", tmp)
	}
	// A compilation cache that outlives the session: starting SQLite-in-wazero
	// cold costs seconds that no scenario but the cold start should pay.
	cfg.cacheDir = filepath.Join(os.TempDir(), "db-forge-bench-wasm-cache")

	started := time.Now()
	host, _ := os.Hostname()
	rep := &bench.Report{
		Suite:   s.name,
		Date:    started.Format("2006-01-02"),
		Host:    host,
		Started: started.UTC().Truncate(time.Second),
		Machine: bench.Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()},
		Method: bench.Method{Conns: s.conns, RunSeconds: s.run.Seconds(), WarmSeconds: s.warmup.Seconds(), Rounds: s.rounds,
			Rows: s.rows, ZipfS: cfg.zipfS, Gateway: "bin/forge-gateway, FORGE_BACKEND=local, FORGE_LOG_LEVEL=" + cfg.logLevel +
				"; the load sends the database's own read-write key, as an agent does (each database's own in the many-databases scenario; the ceilings get the same header and ignore it), " +
				"the admin key (FORGE_ADMIN_KEY) serves setup, spawn and prune only; other settings default, the per-key rate limit (FORGE_RATE_LIMIT) among them"},
	}
	stampStart(&rep.Machine)
	if cfg.outDir, err = resultsDir(rep.Machine, cfg.outDir, *allowDirty); err != nil {
		return err
	}
	if len(gatewayExtra) > 0 {
		rep.Method.Gateway += " but " + envText(gatewayExtra)
	}
	b := &bencher{cfg: cfg, rep: rep}
	err = b.all(ctx)
	b.stopAll()
	if err != nil {
		return err
	}
	rep.Seconds = time.Since(started).Round(time.Second).Seconds()
	stampEnd(&rep.Machine)
	computeRatios(rep)
	rep.Targets = targets(rep, cfg, b.dockerSkip)
	if err := write(rep, cfg.outDir); err != nil {
		return err
	}
	if len(rep.Notes) > 0 {
		return fmt.Errorf("%d part(s) of the suite did not complete; see Notes in the report", len(rep.Notes))
	}
	return nil
}

// write saves the report as Markdown, JSON and PNG in dir.
func write(rep *bench.Report, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	base := rep.Date + "-" + rep.Host
	if rep.Suite != "short" {
		base += "-" + rep.Suite
	}
	base = resultsBase(base, rep.Machine)
	// The fault scenarios alone (make bench-faults) have no load run to
	// chart: their report is the Markdown and the JSON.
	var png []byte
	if len(rep.Runs) > 0 {
		var err error
		if png, err = rep.Chart(30*vg.Centimeter, 24*vg.Centimeter); err != nil {
			return err
		}
		rep.ChartFile = base + ".png"
	}
	js, err := rep.JSON()
	if err != nil {
		return err
	}
	for _, f := range []struct {
		ext  string
		data []byte
	}{{".png", png}, {".json", js}, {".md", rep.Markdown()}} {
		if f.data == nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, base+f.ext), f.data, 0o644); err != nil {
			return err
		}
	}
	exts := "{md,json,png}"
	if png == nil {
		exts = "{md,json}"
	}
	fmt.Printf("\n%s\nwrote %s.%s\n", rep.Markdown(), filepath.Join(dir, base), exts)
	return nil
}

// soakSuite reports whether args ask for the soak, which has flags of its own.
func soakSuite(args []string) bool {
	for i, a := range args {
		switch {
		case a == "-suite=soak" || a == "--suite=soak":
			return true
		case (a == "-suite" || a == "--suite") && i+1 < len(args) && args[i+1] == "soak":
			return true
		}
	}
	return false
}

// envText lists settings as "A=1, B=2", sorted.
func envText(env map[string]string) string {
	parts := make([]string, 0, len(env))
	for k, v := range env {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}
