package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/bench"
)

// Scenario names, as they appear in the report.
const (
	scnPoint  = "point-select"
	scnInsert = "insert"
	scnBulk   = "bulk-1000"
	scnMix    = "mix-90/10"
	scnSpawn  = "spawn+query+prune"
	// The rows route's page against a point SELECT on the same 1,000,000-row
	// table (issue #12's target), at the suite's clients and at one.
	scnRows    = "rows-page-50"
	scnRowsOne = "rows-page-50, 1 client"
	sysPoint   = "point SELECT (/query)"
	sysPage    = "rows GET ?cat=&_size=50"
)

func scnMany(n int, access string) string { return fmt.Sprintf("%d-dbs %s", n, access) }

// bencher runs the scenarios and fills the report.
type bencher struct {
	cfg     config
	rep     *bench.Report
	gateway *proc
	fixed   *proc
	same    *proc
	procs   []*proc

	dockerSkip string // why the docker spawn cycle was not measured
}

func (b *bencher) want(name string) bool { return b.cfg.only == nil || b.cfg.only[name] }

func (b *bencher) stopAll() {
	for _, p := range b.procs {
		p.stop()
	}
	b.procs = nil
}

func (b *bencher) path(elem ...string) string {
	return filepath.Join(append([]string{b.cfg.tmpRoot}, elem...)...)
}

func (b *bencher) bin(name string) string {
	p, err := binPath(b.cfg.binDir, name)
	if err != nil {
		panic(err) // checked in all()
	}
	return p
}

func (b *bencher) section(title string) {
	fmt.Fprintf(os.Stderr, "\n== %s (%s)\n", title, time.Now().Format("15:04:05"))
}

func (b *bencher) all(ctx context.Context) error {
	for _, n := range []string{"forge-gateway", "ceiling-fixed", "ceiling-sqlite", "ceiling-engine"} {
		if _, err := binPath(b.cfg.binDir, n); err != nil {
			return err
		}
	}
	// A section that fails is noted in the report and the others still run:
	// on a shared machine a neighbour can stall the disk for seconds.
	section := func(name string, f func() error) error {
		err := f()
		b.stopAll()
		if err != nil && ctx.Err() == nil {
			note := fmt.Sprintf("%s: not completed: %v", name, firstLine(err.Error()))
			fmt.Fprintln(os.Stderr, "  "+note)
			b.rep.Notes = append(b.rep.Notes, note)
			return nil
		}
		return err
	}
	if b.want("point") || b.want("insert") || b.want("bulk") || b.want("mix") || b.want("rows") || b.want("spawn") {
		if err := section("one-database scenarios", func() error { return b.single(ctx) }); err != nil {
			return err
		}
	}
	if b.want("many") {
		for _, n := range b.cfg.manyDBs {
			if err := section(fmt.Sprintf("%d databases", n), func() error { return b.many(ctx, n) }); err != nil {
				return err
			}
		}
	}
	if b.want("docker") {
		if err := section("docker spawn", func() error { return b.docker(ctx) }); err != nil {
			return err
		}
	}
	// The fault scenarios take about 1.5 min: the full suite runs them, the
	// short one only when asked (-only truth,longread; make bench-faults).
	if (b.cfg.only != nil || b.cfg.name == "full") && (b.want("truth") || b.want("longread")) {
		if err := section("faults", func() error { return b.faults(ctx) }); err != nil {
			return err
		}
	}
	if b.want("cold") {
		if err := section("cold start", func() error { return b.coldStart(ctx) }); err != nil {
			return err
		}
	}
	return nil
}

// Request bodies shared by the gateway and the ceilings.
func selectBody(id int) []byte {
	return fmt.Appendf(nil, `{"sql":%q,"params":[%d]}`, bench.SelectSQL, id)
}

var insertBody = fmt.Appendf(nil, `{"sql":%q,"params":["x",1.5]}`, bench.InsertSQL)

// pointSource picks a point SELECT of a random id among rows.
func pointSource(path string, rows int) func(int) bench.Source {
	reqs := make([]bench.Request, 4096)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range reqs {
		reqs[i] = bench.Request{Method: "POST", Path: path, Body: selectBody(1 + r.IntN(rows)), Want: 200}
	}
	return func(int) bench.Source {
		return func(r *rand.Rand) *bench.Request { return &reqs[r.IntN(len(reqs))] }
	}
}

func fixedSource(req bench.Request) func(int) bench.Source {
	return func(int) bench.Source { return func(*rand.Rand) *bench.Request { return &req } }
}

func mixSource(path string, rows int) func(int) bench.Source {
	point := pointSource(path, rows)(0)
	ins := bench.Request{Method: "POST", Path: path, Body: insertBody, Want: 200}
	return func(int) bench.Source {
		return func(r *rand.Rand) *bench.Request {
			if r.IntN(10) == 0 {
				return &ins
			}
			return point(r)
		}
	}
}

// system is one server a scenario loads, or (engine set) the in-process
// ceiling run in that mode.
type system struct {
	name   string
	p      *proc
	engine string // ceiling-engine -mode: select, insert or bulk
	// src, when set, is this system's requests instead of the
	// comparison's (two kinds of request to one server).
	src func(int) bench.Source
}

// tally adds up the slices of one system's run.
type tally struct {
	res    bench.Result
	cpu    time.Duration
	ops    int64 // in-process runs
	secs   float64
	slices []float64
}

// compare loads each system with the same requests and records one run per
// system. The measured time is cut into rounds that alternate between the
// systems, so that whatever else the shared machine does meanwhile (other
// builds, tests, disk flushes) weighs on all of them alike. key, if set, is
// the bearer token of every request (a database's own key: what an agent
// sends; the ceilings get the same header and ignore it); requests may also
// carry their own (bench.Request.Auth).
func (b *bencher) compare(ctx context.Context, scenario string, systems []system, rounds int, key string, src func(int) bench.Source) ([]*bench.Run, error) {
	return b.compareConns(ctx, scenario, systems, rounds, b.cfg.conns, key, src)
}

// compareConns is compare with conns clients.
func (b *bencher) compareConns(ctx context.Context, scenario string, systems []system, rounds, conns int, key string, src func(int) bench.Source) ([]*bench.Run, error) {
	rounds = max(rounds, 1)
	slice := b.cfg.run / time.Duration(rounds)
	tallies := make([]tally, len(systems))
	for round := range rounds {
		for i, s := range systems {
			t := &tallies[i]
			name := scenario + " / " + s.name
			if rounds > 1 {
				name += fmt.Sprintf(" (%d/%d)", round+1, rounds)
			}
			if s.engine != "" {
				ops, secs, cpu, err := b.engineSlice(ctx, s.engine, slice)
				if err != nil {
					return nil, err
				}
				t.ops += ops
				t.secs += secs
				t.cpu += cpu
				t.slices = append(t.slices, float64(ops)/secs)
				fmt.Fprintf(os.Stderr, "  %-38s %9.0f ops/s\n", name, float64(ops)/secs)
				continue
			}
			var cpu0 time.Duration
			sysSrc := src
			if s.src != nil {
				sysSrc = s.src
			}
			l := bench.Load{
				Name: name, Addr: s.p.addr, Conns: conns, Duration: slice, Warmup: b.cfg.warmup,
				NewSource: sysSrc, Seed: uint64(round) << 32, Progress: os.Stderr, Bearer: key,
				OnMeasure: func(start bool) {
					c, err := bench.ProcCPU(s.p.pid())
					if err != nil {
						return
					}
					if start {
						cpu0 = c
					} else {
						t.cpu += c - cpu0
					}
				},
			}
			res, err := l.Run(ctx)
			if err != nil {
				return nil, err
			}
			t.res.Merge(res)
			t.slices = append(t.slices, res.Throughput)
			fmt.Fprintf(os.Stderr, "  %-38s %9.0f req/s\n", name, res.Throughput)
		}
	}
	for i, s := range systems {
		t := tallies[i]
		if s.engine != "" {
			run := bench.Run{Scenario: scenario, System: s.name, Unit: "ops/s", Requests: t.ops, Seconds: t.secs,
				Note: engineNotes[s.engine], Slices: t.slices}
			if t.secs > 0 && t.ops > 0 {
				run.Throughput = float64(t.ops) / t.secs
				run.CPUPerOp = float64(t.cpu) / float64(time.Microsecond) / float64(t.ops)
			}
			b.rep.Runs = append(b.rep.Runs, run)
			fmt.Fprintf(os.Stderr, "  %-38s %9.0f ops/s\n", scenario+" / "+s.name, run.Throughput)
			continue
		}
		b.report(scenario+" / "+s.name, t.res)
		run := b.rep.AddRun(scenario, s.name, t.res)
		run.Slices = t.slices
		if t.res.Requests > 0 {
			run.CPUPerOp = float64(t.cpu) / float64(time.Microsecond) / float64(t.res.Requests)
		}
	}
	runs := make([]*bench.Run, len(systems))
	for i, s := range systems { // AddRun appends: take pointers once all are in
		runs[i] = b.rep.Find(scenario, s.name)
	}
	return runs, nil
}

var engineNotes = map[string]string{
	"select": "one connection, prepared statement, the row's values read",
	"insert": "one writer, autocommit, prepared statement",
	"bulk":   "one writer, 1,000-row transactions (ops = transactions)",
}

// engineSlice runs the in-process ceiling in mode for d (one connection).
func (b *bencher) engineSlice(ctx context.Context, mode string, d time.Duration) (ops int64, secs float64, cpu time.Duration, err error) {
	db := b.path("engine-" + mode + ".db")
	out, err := exec.CommandContext(ctx, b.bin("ceiling-engine"), "-db", db, "-rows", strconv.Itoa(b.cfg.rows),
		"-mode", mode, "-duration", d.String(), "-warmup", b.cfg.warmup.String(), "-cache", b.cfg.cacheDir).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return 0, 0, 0, fmt.Errorf("ceiling-engine %s: %w: %s", mode, err, ee.Stderr)
		}
		return 0, 0, 0, fmt.Errorf("ceiling-engine %s: %w", mode, err)
	}
	var res struct {
		Ops      int64   `json:"ops"`
		Seconds  float64 `json:"seconds"`
		CPUPerOp float64 `json:"cpu_us_per_op"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.Seconds <= 0 {
		return 0, 0, 0, fmt.Errorf("ceiling-engine %s: %v: %s", mode, err, out)
	}
	return res.Ops, res.Seconds, time.Duration(res.CPUPerOp * float64(res.Ops) * float64(time.Microsecond)), nil
}

func (b *bencher) report(name string, res bench.Result) {
	fmt.Fprintf(os.Stderr, "  %-34s %9.0f req/s  p50 %s  p99 %s ms  errors %d\n", name, res.Throughput,
		strconv.FormatFloat(res.Latency.P50, 'f', 3, 64), strconv.FormatFloat(res.Latency.P99, 'f', 3, 64), res.ErrorCount())
	if res.FirstError != "" {
		fmt.Fprintf(os.Stderr, "  first error: %s\n", res.FirstError)
	}
}

// single runs the one-database scenarios: the ceilings and the gateway side
// by side, each scenario on every system back to back.
func (b *bencher) single(ctx context.Context) error {
	b.section("starting the gateway and the ceilings")
	gw, took, err := startGateway(ctx, gatewayOpts{bin: b.bin("forge-gateway"), dataDir: b.path("gateway"),
		cacheDir: b.cfg.cacheDir, logLevel: b.cfg.logLevel, logPath: b.path("gateway.log")})
	if err != nil {
		return err
	}
	b.gateway = gw
	b.procs = append(b.procs, gw)
	fmt.Fprintf(os.Stderr, "  forge-gateway on %s (pid %d), healthy after %s\n", gw.addr, gw.pid(), took.Round(time.Millisecond))
	fixed, err := startProc(ctx, "ceiling-fixed", b.bin("ceiling-fixed"), nil, nil, b.path("ceiling-fixed.log"), true)
	if err != nil {
		return err
	}
	b.fixed = fixed
	b.procs = append(b.procs, fixed)
	same, err := startProc(ctx, "ceiling-sqlite", b.bin("ceiling-sqlite"),
		[]string{"-db", b.path("ceiling-sqlite.db"), "-rows", strconv.Itoa(b.cfg.rows), "-cache", b.cfg.cacheDir},
		nil, b.path("ceiling-sqlite.log"), true)
	if err != nil {
		return err
	}
	b.same = same
	b.procs = append(b.procs, same)
	fmt.Fprintf(os.Stderr, "  ceiling-fixed on %s, ceiling-sqlite on %s\n", fixed.addr, same.addr)

	c := newClient(gw.addr)
	defer c.CloseIdleConnections()
	// Set up with the admin key; load with the database's own key, which
	// is what an agent holds (and what the rate limit counts).
	key, err := setupDB(c, "bench", b.cfg.rows)
	if err != nil {
		return err
	}
	const queryPath = "/api/db/bench/query"

	if b.want("point") {
		b.section(scnPoint)
		if _, err := b.compare(ctx, scnPoint, []system{{bench.SysFixed, fixed, "", nil}, {bench.SysSameEngine, same, "", nil},
			{bench.SysGateway, gw, "", nil}, {bench.SysInProcess, nil, "select", nil}},
			b.cfg.rounds, key, pointSource(queryPath, b.cfg.rows)); err != nil {
			return err
		}
	}
	if b.want("insert") {
		b.section(scnInsert)
		src := fixedSource(bench.Request{Method: "POST", Path: queryPath, Body: insertBody, Want: 200})
		if _, err := b.compare(ctx, scnInsert, []system{{bench.SysSameEngine, same, "", nil}, {bench.SysGateway, gw, "", nil},
			{bench.SysInProcess, nil, "insert", nil}}, b.cfg.rounds, key, src); err != nil {
			return err
		}
	}
	if b.want("bulk") {
		b.section(scnBulk)
		src := fixedSource(bench.Request{Method: "POST", Path: "/api/db/bench/tables/kv/rows", Body: bulkBody(1000), Want: 201})
		if _, err := b.compare(ctx, scnBulk, []system{{bench.SysGateway, gw, "", nil}, {bench.SysInProcess, nil, "bulk", nil}},
			b.cfg.rounds, key, src); err != nil {
			return err
		}
	}
	if b.want("mix") {
		b.section(scnMix)
		if _, err := b.compare(ctx, scnMix, []system{{bench.SysSameEngine, same, "", nil}, {bench.SysGateway, gw, "", nil}},
			b.cfg.rounds, key, mixSource(queryPath, b.cfg.rows)); err != nil {
			return err
		}
	}
	if b.want("rows") {
		if err := b.rowsPage(ctx, c, gw, key); err != nil {
			return err
		}
	}
	if b.want("spawn") {
		b.section(scnSpawn)
		if err := b.spawnCycle(ctx, gw, "local", "spawn", b.cfg.spawnCycles); err != nil {
			return err
		}
	}
	if rss, hwm, err := bench.ProcStatus(gw.pid()); err == nil {
		b.figure("gateway RSS after the one-database scenarios", float64(rss)/(1<<20), "MiB",
			fmt.Sprintf("peak (VmHWM) %.0f MiB", float64(hwm)/(1<<20)))
	}
	b.stopAll()
	return nil
}

// rowsPageRows is the size of the rows scenario's table: issue #12's
// target is stated for 1,000,000 rows.
const rowsPageRows = 1_000_000

// rowsPage compares the rows route's filtered page of 50 with a point
// SELECT through /query, on one 1,000,000-row table with an index on the
// filter column (cat: 100 rows each, scattered over the table, so a page
// reads 50 rows from 50 places): first at the suite's clients
// (throughput: what each costs the gateway), then at one client (the
// time an agent waits for each answer).
func (b *bencher) rowsPage(ctx context.Context, c *fasthttp.HostClient, gw *proc, key string) error {
	b.section(scnRows + ": filling a 1,000,000-row table")
	q := "/api/db/bench/query"
	if _, err := retry(c, "POST", q, []byte(`{"sql":"CREATE TABLE big (id INTEGER PRIMARY KEY, cat INTEGER, name TEXT, score REAL)"}`)); err != nil {
		return err
	}
	const chunk, perCat = 25_000, 100
	for lo := 0; lo < rowsPageRows; lo += chunk {
		body := fmt.Appendf(nil, `{"sql":"WITH RECURSIVE n(i) AS (SELECT %d UNION ALL SELECT i+1 FROM n WHERE i < %d) INSERT INTO big SELECT i, i %% %d, 'name-' || i, i * 0.5 FROM n"}`,
			lo+1, lo+chunk, rowsPageRows/perCat)
		if _, err := retry(c, "POST", q, body); err != nil {
			return err
		}
	}
	if _, err := retry(c, "POST", q, []byte(`{"sql":"CREATE INDEX big_cat ON big(cat)"}`)); err != nil {
		return err
	}
	points := make([]bench.Request, 4096)
	pages := make([]bench.Request, 4096)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range points {
		points[i] = bench.Request{Method: "POST", Path: q, Want: 200,
			Body: fmt.Appendf(nil, `{"sql":"SELECT * FROM big WHERE id = ?","params":[%d]}`, 1+r.IntN(rowsPageRows))}
		pages[i] = bench.Request{Method: "GET", Want: 200,
			Path: fmt.Sprintf("/api/db/bench/tables/big/rows?cat=%d&_size=50", r.IntN(rowsPageRows/perCat))}
	}
	from := func(reqs []bench.Request) func(int) bench.Source {
		return func(int) bench.Source {
			return func(r *rand.Rand) *bench.Request { return &reqs[r.IntN(len(reqs))] }
		}
	}
	systems := []system{{name: sysPoint, p: gw, src: from(points)}, {name: sysPage, p: gw, src: from(pages)}}
	for _, run := range []struct {
		scenario string
		conns    int
	}{{scnRows, b.cfg.conns}, {scnRowsOne, 1}} {
		b.section(run.scenario)
		if _, err := b.compareConns(ctx, run.scenario, systems, b.cfg.rounds, run.conns, key, nil); err != nil {
			return err
		}
	}
	return nil
}

func (b *bencher) figure(name string, v float64, unit, note string) {
	b.rep.Figures = append(b.rep.Figures, bench.Figure{Name: name, Value: v, Unit: unit, Note: note})
	fmt.Fprintf(os.Stderr, "  %s: %.2f %s %s\n", name, v, unit, note)
}

// bulkBody is a rows-route body of n rows.
func bulkBody(n int) []byte {
	var sb strings.Builder
	sb.WriteString(`{"rows":[`)
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"name":"bulk-%d","score":%d.5}`, i, i)
	}
	sb.WriteString(`]}`)
	return []byte(sb.String())
}

// spawnCycle times spawn, first query and prune of n new databases on
// gateway p, one client, one database after the other.
func (b *bencher) spawnCycle(ctx context.Context, p *proc, backend, prefix string, n int) error {
	c := newClient(p.addr)
	defer c.CloseIdleConnections()
	var spawn, query, prune, cycle bench.Histogram
	cpu0, _ := bench.ProcCPU(p.pid())
	start := time.Now()
	lastShown := start
	for i := range n {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		name := fmt.Sprintf("%s%05d", prefix, i)
		t0 := time.Now()
		answer, err := callAs(c, adminKey, "POST", "/admin/databases/spawn/"+name, nil, 201)
		if err != nil {
			return err
		}
		t1 := time.Now()
		// The first query, as an agent sends it: with the key the spawn gave.
		if _, err := callAs(c, spawnKey(answer), "POST", "/api/db/"+name+"/query", []byte(`{"sql":"SELECT 1"}`), 200); err != nil {
			return err
		}
		t2 := time.Now()
		if err := call(c, "POST", "/admin/databases/prune/"+name, nil, 200); err != nil {
			return err
		}
		t3 := time.Now()
		spawn.Record(t1.Sub(t0))
		query.Record(t2.Sub(t1))
		prune.Record(t3.Sub(t2))
		cycle.Record(t3.Sub(t0))
		if time.Since(lastShown) >= 2*time.Second || i+1 == n {
			lastShown = time.Now()
			fmt.Fprintf(os.Stderr, "  %s backend: %d/%d cycles\n", backend, i+1, n)
		}
	}
	secs := time.Since(start).Seconds()
	cpu1, _ := bench.ProcCPU(p.pid())
	lat := cycle.Summary()
	scn := scnSpawn
	if backend != "local" {
		scn += " (" + backend + ")"
	}
	b.rep.Runs = append(b.rep.Runs, bench.Run{Scenario: scn, System: bench.SysGateway, Unit: "cycles/s",
		Throughput: float64(n) / secs, Requests: int64(n), Seconds: secs, Latency: &lat,
		CPUPerOp: float64(cpu1-cpu0) / float64(time.Microsecond) / float64(n),
		Note:     "one client; a cycle is spawn, SELECT 1, prune of a new database; " + backend + " backend"})
	for _, s := range []struct {
		name string
		h    *bench.Histogram
	}{{"spawn", &spawn}, {"first query", &query}, {"prune", &prune}} {
		l := s.h.Summary()
		b.figure(fmt.Sprintf("%s p50 (%s backend)", s.name, backend), l.P50, "ms",
			fmt.Sprintf("p90 %s, p99 %s ms over %d cycles", fmtMs(l.P90), fmtMs(l.P99), n))
	}
	return nil
}

// docker times the spawn cycle with the Docker backend: one worker
// container per database. It is skipped, and said so, when the backend
// does not answer (no engine, no worker image).
func (b *bencher) docker(ctx context.Context) error {
	b.section("spawn+query+prune, docker backend")
	// A deployment label of our own: other gateways' reconcilers on the same
	// engine leave our workers alone, and ours theirs.
	deployment := fmt.Sprintf("forge-bench-%d", os.Getpid())
	gw, _, err := startGateway(ctx, gatewayOpts{bin: b.bin("forge-gateway"), dataDir: b.path("docker"),
		cacheDir: b.cfg.cacheDir, logLevel: b.cfg.logLevel, logPath: b.path("gateway-docker.log"),
		env: map[string]string{"FORGE_BACKEND": "docker", "FORGE_DEPLOYMENT": deployment}})
	if err != nil {
		b.dockerSkip = "the gateway did not start with FORGE_BACKEND=docker: " + firstLine(err.Error())
		fmt.Fprintln(os.Stderr, "  skipped:", b.dockerSkip)
		return nil
	}
	b.procs = append(b.procs, gw)
	defer b.stopAll()
	c := newClient(gw.addr)
	defer c.CloseIdleConnections()
	probe := fmt.Sprintf("bench%dprobe", os.Getpid())
	if err := call(c, "POST", "/admin/databases/spawn/"+probe, nil, 201); err != nil {
		b.dockerSkip = "spawn with the docker backend failed: " + firstLine(err.Error())
		fmt.Fprintln(os.Stderr, "  skipped:", b.dockerSkip)
		return nil
	}
	if err := call(c, "POST", "/admin/databases/prune/"+probe, nil, 200); err != nil {
		return err
	}
	return b.spawnCycle(ctx, gw, "docker", fmt.Sprintf("bench%dd", os.Getpid()), b.cfg.dockerCycles)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	if len(line) > 200 {
		line = line[:200] + "…"
	}
	return line
}

func fmtMs(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

// many hosts n databases in a fresh gateway and reads them with uniform,
// then skewed (Zipf), access; it records the gateway's RSS along the way.
func (b *bencher) many(ctx context.Context, n int) error {
	b.section(fmt.Sprintf("%d databases", n))
	gw, _, err := startGateway(ctx, gatewayOpts{bin: b.bin("forge-gateway"), dataDir: b.path(fmt.Sprintf("many-%d", n)),
		cacheDir: b.cfg.cacheDir, logLevel: b.cfg.logLevel, logPath: b.path(fmt.Sprintf("gateway-many-%d.log", n))})
	if err != nil {
		return err
	}
	b.procs = append(b.procs, gw)
	defer b.stopAll()
	rss := func(when string) {
		r, hwm, err := bench.ProcStatus(gw.pid())
		if err != nil {
			return
		}
		b.figure(fmt.Sprintf("gateway RSS, %d databases, %s", n, when), float64(r)/(1<<20), "MiB",
			fmt.Sprintf("peak (VmHWM) so far %.0f MiB", float64(hwm)/(1<<20)))
	}
	rss("idle")
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("db%05d", i)
	}
	start := time.Now()
	keys, err := setupMany(ctx, gw.addr, names, b.cfg.setupBudget, func(c *fasthttp.HostClient, name string) (string, error) {
		return setupDB(c, name, b.cfg.manyRows)
	})
	if err != nil {
		return err
	}
	created := len(keys)
	note := fmt.Sprintf("spawn, CREATE TABLE, %d-row INSERT each, 8 clients", b.cfg.manyRows)
	if created < n {
		// The short suite keeps its time bound on a busy machine: it goes on
		// with the databases made in time, and says so.
		note += fmt.Sprintf("; stopped at the %s budget with %d of %d", b.cfg.setupBudget, created, n)
		n, names = created, names[:created]
	}
	b.figure(fmt.Sprintf("setup of %d databases", n), time.Since(start).Seconds(), "s", note)
	rss("after setup")

	bodies := make([][]byte, b.cfg.manyRows)
	for i := range bodies {
		bodies[i] = selectBody(i + 1)
	}
	for _, access := range []struct {
		name string
		s    float64
	}{{"uniform", 0}, {"zipf", b.cfg.zipfS}} {
		z := bench.NewZipf(n, access.s)
		perm := rand.New(rand.NewPCG(3, 4)).Perm(n) // hot databases spread over the names
		reqs := make([][]bench.Request, n)
		for i, name := range names {
			reqs[i] = make([]bench.Request, len(bodies))
			for j, body := range bodies {
				reqs[i][j] = bench.Request{Method: "POST", Path: "/api/db/" + name + "/query", Body: body, Want: 200,
					Auth: "Bearer " + keys[i]} // each database's own key
			}
		}
		src := func(int) bench.Source {
			return func(r *rand.Rand) *bench.Request {
				db := perm[z.Pick(r)]
				return &reqs[db][r.IntN(len(bodies))]
			}
		}
		runs, err := b.compare(ctx, scnMany(n, access.name), []system{{bench.SysGateway, gw, "", nil}}, 1, "", src)
		if err != nil {
			return err
		}
		run := runs[0]
		run.Note = fmt.Sprintf("point SELECT on %d-row tables", b.cfg.manyRows)
		if access.s > 0 {
			run.Note += fmt.Sprintf("; Zipf s=%g: the hottest 1,024 databases take %.0f%% of requests", access.s, 100*topShare(z, 1024))
		}
		rss("after " + access.name + " access")
	}
	return nil
}

// topShare is the share of requests the k most popular items get.
func topShare(z *bench.Zipf, k int) float64 {
	s := 0.0
	for i := range min(k, z.N()) {
		s += z.P(i)
	}
	return s
}

// coldStart times process start to the first 200 on GET /health, with an
// empty compilation cache and with a populated one.
func (b *bencher) coldStart(ctx context.Context) error {
	b.section("cold start")
	warmCache := b.path("cold-warm-cache")
	var cold, warm bench.Histogram
	trial := func(i int, cache string, h *bench.Histogram, what string) error {
		gw, took, err := startGateway(ctx, gatewayOpts{bin: b.bin("forge-gateway"),
			dataDir: b.path(fmt.Sprintf("cold-%s-%d", what, i)), cacheDir: cache, logLevel: b.cfg.logLevel,
			logPath: b.path(fmt.Sprintf("gateway-cold-%s-%d.log", what, i))})
		if err != nil {
			return err
		}
		gw.stop()
		h.Record(took)
		fmt.Fprintf(os.Stderr, "  %s cache: healthy after %s\n", what, took.Round(100*time.Microsecond))
		return nil
	}
	for i := range b.cfg.coldTrials {
		dir := b.path(fmt.Sprintf("cold-cache-%d", i))
		if i == 0 {
			dir = warmCache // the first cold start populates the cache the warm ones use
		}
		if err := trial(i, dir, &cold, "cold"); err != nil {
			return err
		}
	}
	for i := range b.cfg.warmTrials {
		if err := trial(i, warmCache, &warm, "warm"); err != nil {
			return err
		}
	}
	c, w := cold.Summary(), warm.Summary()
	b.figure("cold start, empty compilation cache (median)", c.P50, "ms",
		fmt.Sprintf("process start to first 200 on GET /health; %d trial(s), max %s ms", cold.Count(), fmtMs(c.Max)))
	b.figure("cold start, warm compilation cache (median)", w.P50, "ms",
		fmt.Sprintf("%d trials, min %s ms, max %s ms", warm.Count(), fmtMs(float64(warm.Quantile(0.0001))/1e6), fmtMs(w.Max)))
	return nil
}

// newClient is a client for setup calls.
func newClient(addr string) *fasthttp.HostClient {
	return &fasthttp.HostClient{Addr: addr, MaxConns: 64, ReadTimeout: time.Minute, WriteTimeout: time.Minute}
}

// call sends one request with the admin key and checks its status.
func call(c *fasthttp.HostClient, method, path string, body []byte, want int) error {
	_, err := callAs(c, adminKey, method, path, body, want)
	return err
}

// callAs sends one request with key as its bearer token, checks its status
// and returns a copy of the answer's body.
func callAs(c *fasthttp.HostClient, key, method, path string, body []byte, want int) ([]byte, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.Header.SetRequestURI(path)
	req.Header.SetHost(c.Addr)
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(body)
	}
	if err := c.Do(req, resp); err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode() != want {
		return nil, fmt.Errorf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode(), want, resp.Body())
	}
	return append([]byte(nil), resp.Body()...), nil
}

// spawnKey is the read-write key in a spawn's answer ("api_key"), or "" when
// it has none (the database already had its instance).
func spawnKey(answer []byte) string {
	var sp struct {
		Key string `json:"api_key"`
	}
	_ = json.Unmarshal(answer, &sp)
	return sp.Key
}

// spawnDB spawns database name with the admin key and returns a read-write
// key of its own: the spawn's, or, when the spawn gave none (a retried spawn
// that found the database made), one minted with POST
// /admin/databases/{name}/keys. The load then sends that key, as an agent
// would; the admin key serves setup only.
func spawnDB(c *fasthttp.HostClient, name string) (string, error) {
	answer, err := retry(c, "POST", "/admin/databases/spawn/"+name, nil)
	if err != nil {
		return "", err
	}
	if key := spawnKey(answer); key != "" {
		return key, nil
	}
	minted, err := retry(c, "POST", "/admin/databases/"+name+"/keys", []byte(`{"scope":"read-write"}`))
	if err != nil {
		return "", err
	}
	var k struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(minted, &k); err != nil || k.Key == "" {
		return "", fmt.Errorf("mint a key of %s: no key in %.200s", name, minted)
	}
	return k.Key, nil
}

// setupDB creates database name with the kv table of rows rows and returns
// its own read-write key. Each step is idempotent and retried a few times
// on a timeout or a busy answer.
func setupDB(c *fasthttp.HostClient, name string, rows int) (string, error) {
	key, err := spawnDB(c, name)
	if err != nil {
		return "", err
	}
	q := "/api/db/" + name + "/query"
	for _, body := range [][]byte{
		fmt.Appendf(nil, `{"sql":%q}`, bench.CreateSQL),
		fmt.Appendf(nil, `{"sql":%q,"params":[%d]}`, bench.SeedSQL, rows),
	} {
		if _, err := retry(c, "POST", q, body); err != nil {
			return "", err
		}
	}
	return key, nil
}

// retry sends a setup request with the admin key until it succeeds (2xx),
// at most 5 times, retrying transport errors, 503 and 504; it returns a
// copy of the successful answer's body.
func retry(c *fasthttp.HostClient, method, path string, body []byte) ([]byte, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	var err error
	for attempt := range 5 {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
		}
		req.Reset()
		req.Header.SetMethod(method)
		req.Header.SetRequestURI(path)
		req.Header.SetHost(c.Addr)
		setBearer(req)
		if body != nil {
			req.Header.SetContentType("application/json")
			req.SetBodyRaw(body)
		}
		if err = c.Do(req, resp); err != nil {
			err = fmt.Errorf("%s %s: %w", method, path, err)
			continue
		}
		switch st := resp.StatusCode(); {
		case st >= 200 && st < 300:
			return append([]byte(nil), resp.Body()...), nil
		case st == fasthttp.StatusServiceUnavailable || st == fasthttp.StatusGatewayTimeout:
			err = fmt.Errorf("%s %s: status %d: %s", method, path, st, resp.Body())
		default:
			return nil, fmt.Errorf("%s %s: status %d: %s", method, path, st, resp.Body())
		}
	}
	return nil, err
}

// setupMany creates the databases with 8 clients, each with setup,
// showing progress, and returns each one's own read-write key (what setup
// returned). With a budget, it stops starting new ones once the budget is
// spent; the keys it returns are those of names[:len(keys)].
func setupMany(ctx context.Context, addr string, names []string, budget time.Duration,
	setup func(c *fasthttp.HostClient, name string) (key string, err error)) (keys []string, err error) {
	c := newClient(addr)
	defer c.CloseIdleConnections()
	sctx := ctx
	if budget > 0 {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(ctx, budget)
		defer cancel()
	}
	keys = make([]string, len(names))
	var next, done atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(len(names)) {
					return
				}
				key, err := setup(c, names[i])
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				keys[i] = key
				done.Add(1)
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-finished:
			if firstErr != nil {
				return nil, firstErr
			}
			// Workers take indexes in order and finish the one they took.
			return keys[:min(next.Load(), int64(len(names)))], ctx.Err()
		case <-tick.C:
			fmt.Fprintf(os.Stderr, "  setup: %d/%d databases\n", done.Load(), len(names))
		case <-ctx.Done():
			return nil, ctx.Err() // requests in flight end when the gateway stops
		}
	}
}

func runCmd(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	return strings.TrimSpace(string(out)), err
}
