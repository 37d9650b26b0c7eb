package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"gonum.org/v1/plot/vg"

	"github.com/praetorian/db-forge/bench"
)

// The soak's table: a pad column makes the rows big enough that a database
// holds more pages than a connection's default page cache (about 2 MiB).
const (
	soakCreate = "CREATE TABLE IF NOT EXISTS soak (id INTEGER PRIMARY KEY, name TEXT, score REAL, pad TEXT)"
	soakSeed   = "INSERT OR IGNORE INTO soak SELECT i, 'name-' || i, i * 0.5, hex(randomblob(60)) FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < ?) SELECT i FROM n)"
	soakPoint  = "SELECT id, name, score FROM soak WHERE id = ?"
	soakRange  = "SELECT id, name, score FROM soak WHERE id BETWEEN ? AND ?"
	soakScan   = "SELECT count(*), sum(score), max(length(pad)) FROM soak WHERE name LIKE ?"
	soakTop    = "SELECT id, score FROM soak ORDER BY score DESC LIMIT 10"
	soakUpdate = "UPDATE soak SET score = score + 1, name = ? WHERE id = ?"
	// INSERTs go to a bounded band of ids above the seeded rows, replacing
	// what is there: the data stays the same size however long the soak.
	soakInsert = "INSERT OR REPLACE INTO soak (id, name, score, pad) VALUES (?, ?, ?, hex(randomblob(60)))"
	soakBand   = 1000
)

// soakMix is the share of each statement, in percent.
var soakMix = []struct {
	pct  int
	what string
}{
	{55, "point SELECT"}, {8, "50-row range SELECT"}, {1, "full-scan aggregate"}, {1, "ORDER BY score LIMIT 10 (scan + sort)"},
	{25, "UPDATE of one row"}, {10, "INSERT OR REPLACE in a 1,000-id band"},
}

func soakMixText() string {
	parts := make([]string, len(soakMix))
	for i, m := range soakMix {
		parts[i] = fmt.Sprintf("%d %% %s", m.pct, m.what)
	}
	return strings.Join(parts, ", ")
}

type soakConfig struct {
	binDir, outDir, cacheDir, tmpRoot string
	label                             string
	dbs, rows, conns                  int
	duration, every, settle           time.Duration
	zipfS                             float64
	adminOnly                         bool
	allowDirty                        bool
	env                               map[string]string
	memLimit                          int64 // FORGE_WASM_MEMORY_MB in bytes, to find the instances
	keep                              bool
}

// envFlags collects repeated -env KEY=VALUE flags.
type envFlags map[string]string

func (e envFlags) String() string { return fmt.Sprint(map[string]string(e)) }
func (e envFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || !strings.HasPrefix(k, "FORGE_") {
		return fmt.Errorf("-env %q: want FORGE_NAME=value", s)
	}
	e[k] = v
	return nil
}

// runSoak is `forge-bench -suite soak`: one gateway, a setup of many
// databases, then a bounded mixed load while the gateway's memory is
// sampled; the report goes to <out>/<date>-<host>-soak[-label].{md,json,png}.
func runSoak(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("forge-bench -suite soak", flag.ContinueOnError)
	_ = fs.String("suite", "soak", "soak")
	c := soakConfig{env: map[string]string{}}
	fs.StringVar(&c.binDir, "bin", "bin", "directory of forge-gateway")
	fs.StringVar(&c.outDir, "out", "bench/results", "directory of the results")
	fs.StringVar(&c.label, "label", "", "suffix of the report's name and title (e.g. before, after)")
	fs.IntVar(&c.dbs, "dbs", 300, "databases")
	fs.IntVar(&c.rows, "rows", 16000, "rows of each database (about 150 bytes each)")
	fs.IntVar(&c.conns, "conns", 64, "closed-loop clients")
	fs.DurationVar(&c.duration, "duration", 10*time.Minute, "time under load (SOAK_DURATION in make soak)")
	fs.DurationVar(&c.every, "sample", 10*time.Second, "time between samples")
	fs.DurationVar(&c.settle, "settle", 40*time.Second, "sampling after the load stops (idle readers close after FORGE_READER_IDLE)")
	fs.Float64Var(&c.zipfS, "zipf", 0.99, "Zipf exponent of the database picked (0 = uniform)")
	fs.BoolVar(&c.adminOnly, "admin-key", false, "send the admin key instead of each database's own key")
	fs.BoolVar(&c.allowDirty, "allow-dirty", false, "write into -out even when the git tree has uncommitted changes (the report and its file names say dirty)")
	fs.BoolVar(&c.keep, "keep", false, "keep the temporary data directory and the gateway's log")
	fs.Var(envFlags(c.env), "env", "a FORGE_NAME=value setting for the gateway (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.dbs < 1 || c.rows < 1 || c.conns < 1 || c.duration <= 0 || c.every <= 0 {
		return errors.New("soak: -dbs, -rows, -conns, -duration and -sample must be positive")
	}
	c.memLimit = 256 << 20
	if v, ok := c.env["FORGE_WASM_MEMORY_MB"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("FORGE_WASM_MEMORY_MB=%s: %w", v, err)
		}
		c.memLimit = int64(n) << 20
	}
	tmp, err := os.MkdirTemp("", "forge-soak-")
	if err != nil {
		return err
	}
	c.tmpRoot = tmp
	if c.keep {
		fmt.Fprintln(os.Stderr, "keeping", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	c.cacheDir = filepath.Join(os.TempDir(), "db-forge-bench-wasm-cache")
	return soak(ctx, c)
}

func soak(ctx context.Context, c soakConfig) error {
	started := time.Now()
	host, _ := os.Hostname()
	rep := &bench.SoakReport{
		Label: c.label, Date: started.Format("2006-01-02"), Host: host, Started: started.UTC().Truncate(time.Second),
		Machine: bench.Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()},
		Load: bench.SoakLoad{Databases: c.dbs, Rows: c.rows, Conns: c.conns, Seconds: c.duration.Seconds(),
			ZipfS: c.zipfS, Mix: soakMixText(), SampleEvery: c.every.Seconds(), Keys: "each database's own read-write key"},
		Settings: c.env,
	}
	if c.adminOnly {
		rep.Load.Keys = "the admin key"
	}
	stampStart(&rep.Machine)
	var err error
	if c.outDir, err = resultsDir(rep.Machine, c.outDir, c.allowDirty); err != nil {
		return err
	}
	openDBs, readers := c.dbs, 2
	if v, err := strconv.Atoi(c.env["FORGE_MAX_OPEN_DBS"]); err == nil && v > 0 {
		openDBs = min(openDBs, v)
	}
	if v, err := strconv.Atoi(c.env["FORGE_READERS_PER_DB"]); err == nil && v >= 0 {
		readers = v
	}
	rep.Load.InstanceBound = openDBs * (1 + readers)
	bin, err := binPath(c.binDir, "forge-gateway")
	if err != nil {
		return err
	}
	pprofAddr, err := freeAddr()
	if err != nil {
		return err
	}
	env := map[string]string{"FORGE_PPROF_LISTEN": pprofAddr}
	for k, v := range c.env {
		env[k] = v
	}
	fmt.Fprintf(os.Stderr, "\n== soak: starting the gateway (%s)\n", time.Now().Format("15:04:05"))
	gw, _, err := startGateway(ctx, gatewayOpts{bin: bin, dataDir: filepath.Join(c.tmpRoot, "data"), cacheDir: c.cacheDir,
		logLevel: "warn", logPath: filepath.Join(c.tmpRoot, "gateway.log"), env: env})
	if err != nil {
		return err
	}
	defer gw.stop()
	fmt.Fprintf(os.Stderr, "  forge-gateway on %s (pid %d), pprof on %s\n", gw.addr, gw.pid(), pprofAddr)

	fmt.Fprintf(os.Stderr, "\n== soak: %d databases of %d rows (%s)\n", c.dbs, c.rows, time.Now().Format("15:04:05"))
	names := make([]string, c.dbs)
	for i := range names {
		names[i] = fmt.Sprintf("soak%04d", i)
	}
	keys, err := setupMany(ctx, gw.addr, names, 0, func(hc *fasthttp.HostClient, name string) (string, error) {
		return soakSetupDB(hc, name, c.rows)
	})
	if err != nil {
		return err
	}
	rep.Load.DBBytes = dbFileSize(filepath.Join(c.tmpRoot, "data"), names[0])
	if c.adminOnly {
		for i := range keys {
			keys[i] = adminKey
		}
	}

	base := rep.Date + "-" + rep.Host + "-soak"
	if c.label != "" {
		base += "-" + c.label
	}
	profDir := filepath.Join(c.outDir, "pprof")
	saveHeap := func(when string) {
		if err := os.MkdirAll(profDir, 0o755); err != nil {
			rep.Notes = append(rep.Notes, "heap profile: "+err.Error())
			return
		}
		name := base + "-heap-" + when + ".pb.gz"
		if err := fetchTo("http://"+pprofAddr+"/debug/pprof/heap?gc=1", filepath.Join(profDir, name)); err != nil {
			rep.Notes = append(rep.Notes, "heap profile "+when+": "+err.Error())
			return
		}
		rep.Profiles = append(rep.Profiles, "pprof/"+name)
	}
	saveHeap("start")

	fmt.Fprintf(os.Stderr, "\n== soak: %d clients for %s, a sample every %s (%s)\n", c.conns, c.duration, c.every, time.Now().Format("15:04:05"))
	smp := &sampler{pid: gw.pid(), addr: gw.addr, memLimit: c.memLimit}
	loadStart := time.Now()
	smp.start = loadStart
	stopSampling := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		smp.loop(c.every, stopSampling)
	}()
	var cpu0, cpu1 time.Duration // the gateway's CPU time when the load starts and ends
	load := bench.Load{Name: "soak", Addr: gw.addr, Conns: c.conns, Duration: c.duration, Timeout: 30 * time.Second,
		NewSource: soakSource(names, keys, c.rows, c.zipfS), Seed: 7, Progress: soakProgress{},
		OnMeasure: func(start bool) {
			if cpu, err := bench.ProcCPU(gw.pid()); err == nil && start {
				cpu0 = cpu
			} else if err == nil {
				cpu1 = cpu
			}
		}}
	res, lerr := load.Run(ctx)
	rep.Result = res
	if cpu1 > cpu0 && res.Requests > 0 {
		rep.CPUPerRequest = float64(cpu1-cpu0) / float64(time.Microsecond) / float64(res.Requests)
	}
	saveHeap("end")
	if c.settle > 0 && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "\n== soak: load stopped; sampling %s more with no load (%s)\n", c.settle, time.Now().Format("15:04:05"))
		t := time.NewTimer(c.settle)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	close(stopSampling)
	wg.Wait()
	if n := len(smp.samples); n == 0 || time.Since(smp.start).Seconds()-smp.samples[n-1].Seconds > 1 {
		smp.take() // the last look
	}
	rep.Samples = smp.samples
	if len(smp.errs) > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d sample(s) incomplete; first: %s", len(smp.errs), smp.errs[0]))
	}
	if c.settle > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the load ran from 0 to %.0f s; later samples are the settle time, with no load", res.Seconds))
	}
	rep.Summarize()
	stampEnd(&rep.Machine)
	if err := writeSoak(rep, c.outDir, resultsBase(base, rep.Machine)); err != nil {
		return err
	}
	if lerr != nil {
		return lerr
	}
	return nil
}

// soakProgress prints the load's progress line every 30 s rather than every
// second: a soak is long.
type soakProgress struct{}

var soakLines atomic.Int64

func (soakProgress) Write(p []byte) (int, error) {
	if soakLines.Add(1)%30 == 1 {
		return os.Stderr.Write(p)
	}
	return len(p), nil
}

func writeSoak(rep *bench.SoakReport, dir, base string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if png, err := rep.Chart(30*vg.Centimeter, 20*vg.Centimeter); err == nil {
		if err := os.WriteFile(filepath.Join(dir, base+".png"), png, 0o644); err != nil {
			return err
		}
		rep.ChartFile = base + ".png"
	} else {
		rep.Notes = append(rep.Notes, "chart: "+err.Error())
	}
	js, err := rep.JSON()
	if err != nil {
		return err
	}
	md := rep.Markdown()
	if err := os.WriteFile(filepath.Join(dir, base+".json"), js, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, base+".md"), md, 0o644); err != nil {
		return err
	}
	fmt.Printf("\n%s\nwrote %s.{md,json,png}\n", md, filepath.Join(dir, base))
	return nil
}

// soakSource sends the soak's mix to database picked with Zipf skew (hot
// databases spread over the names), each request with the database's key.
// Each worker builds its requests in its own buffer: the load generator
// uses a request only until it asks for the next.
func soakSource(names, keys []string, rows int, zipfS float64) func(int) bench.Source {
	z := bench.NewZipf(len(names), zipfS)
	perm := rand.New(rand.NewPCG(3, 4)).Perm(len(names))
	paths, auths := make([]string, len(names)), make([]string, len(names))
	for i, n := range names {
		paths[i] = "/api/db/" + n + "/query"
		auths[i] = "Bearer " + keys[i]
	}
	var cum []int
	total := 0
	for _, m := range soakMix {
		total += m.pct
		cum = append(cum, total)
	}
	return func(int) bench.Source {
		req := &bench.Request{Method: "POST", Want: 200}
		var buf []byte
		return func(r *rand.Rand) *bench.Request {
			db := perm[z.Pick(r)]
			req.Path = paths[db]
			req.Auth = auths[db]
			id := 1 + r.IntN(rows)
			buf = buf[:0]
			p := r.IntN(total)
			kind := sort.SearchInts(cum, p+1)
			switch kind {
			case 0:
				buf = fmt.Appendf(buf, `{"sql":%q,"params":[%d]}`, soakPoint, id)
			case 1:
				buf = fmt.Appendf(buf, `{"sql":%q,"params":[%d,%d]}`, soakRange, id, id+49)
			case 2:
				buf = fmt.Appendf(buf, `{"sql":%q,"params":["name-%d%%"]}`, soakScan, r.IntN(10))
			case 3:
				buf = fmt.Appendf(buf, `{"sql":%q}`, soakTop)
			case 4:
				buf = fmt.Appendf(buf, `{"sql":%q,"params":["upd-%d",%d]}`, soakUpdate, r.Uint32(), id)
			default:
				buf = fmt.Appendf(buf, `{"sql":%q,"params":[%d,"ins-%d",%d.5]}`, soakInsert, rows+1+r.IntN(soakBand), r.Uint32(), r.IntN(1000))
			}
			req.Body = buf
			return req
		}
	}
}

func soakSetupDB(c *fasthttp.HostClient, name string, rows int) (string, error) {
	key, err := spawnDB(c, name)
	if err != nil {
		return "", err
	}
	q := "/api/db/" + name + "/query"
	for _, body := range [][]byte{
		fmt.Appendf(nil, `{"sql":%q}`, soakCreate),
		fmt.Appendf(nil, `{"sql":%q,"params":[%d]}`, soakSeed, rows),
	} {
		if _, err := retry(c, "POST", q, body); err != nil {
			return "", err
		}
	}
	return key, nil
}

// dbFileSize is the size of database name's file and its WAL under dir,
// whatever the layout (the seed may still be in the WAL).
func dbFileSize(dir, name string) int64 {
	var size int64
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		base := filepath.Base(p)
		if base == name+".db" || base == name+".db-wal" {
			if fi, err := d.Info(); err == nil {
				size += fi.Size()
			}
		}
		return nil
	})
	return size
}

// fetchTo saves the body of GET url to path.
func fetchTo(url, path string) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	if err := fasthttp.DoTimeout(req, resp, time.Minute); err != nil {
		return err
	}
	if resp.StatusCode() != 200 {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode())
	}
	return os.WriteFile(path, resp.Body(), 0o644)
}

// sampler looks at the gateway's memory every so often.
type sampler struct {
	pid      int
	addr     string
	memLimit int64
	start    time.Time
	client   *fasthttp.HostClient
	samples  []bench.SoakSample
	errs     []string
}

func (s *sampler) loop(every time.Duration, stop <-chan struct{}) {
	s.take()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.take()
		}
	}
}

func (s *sampler) take() {
	x := bench.SoakSample{Seconds: time.Since(s.start).Seconds()}
	var errs []string
	if rss, hwm, err := bench.ProcStatus(s.pid); err == nil {
		x.RSS, x.HWM = rss, hwm
	} else {
		errs = append(errs, err.Error())
	}
	if sm, err := os.ReadFile("/proc/" + strconv.Itoa(s.pid) + "/smaps"); err == nil {
		x.WasmInstances, x.WasmRSS, x.WasmCommitted = bench.WasmMemory(sm, s.memLimit)
	} else {
		errs = append(errs, err.Error())
	}
	if s.client == nil {
		s.client = newClient(s.addr)
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.Header.SetRequestURI("/metrics")
	req.Header.SetHost(s.addr)
	setBearer(req)
	if err := s.client.DoTimeout(req, resp, 30*time.Second); err == nil && resp.StatusCode() == 200 {
		v := bench.PromValues(resp.Body())
		x.HeapInuse = int64(v["go_memstats_heap_inuse_bytes"])
		x.HeapAlloc = int64(v["go_memstats_heap_alloc_bytes"])
		x.GoSys = int64(v["go_memstats_sys_bytes"])
		x.StackInuse = int64(v["go_memstats_stack_inuse_bytes"])
		x.Goroutines = int64(v["go_goroutines"])
		x.OpenDBs = int64(v["forge_engine_open_databases"])
		x.Recycled = int64(v["forge_engine_recycled_total"])
		x.Idled = int64(v["forge_engine_idled_total"])
		x.Requests = int64(v["forge_http_requests_total"])
	} else if err != nil {
		errs = append(errs, "GET /metrics: "+err.Error())
	} else {
		errs = append(errs, fmt.Sprintf("GET /metrics: status %d", resp.StatusCode()))
	}
	fasthttp.ReleaseRequest(req)
	fasthttp.ReleaseResponse(resp)
	if len(errs) > 0 {
		s.errs = append(s.errs, strings.Join(errs, "; "))
	}
	s.samples = append(s.samples, x)
	fmt.Fprintf(os.Stderr, "  t=%4.0fs RSS %6.1f MiB  wasm %6.1f MiB in %4d instances  Go heap %5.1f MiB  sys %5.1f MiB  open %d  recycled %d\n",
		x.Seconds, float64(x.RSS)/(1<<20), float64(x.WasmRSS)/(1<<20), x.WasmInstances, float64(x.HeapInuse)/(1<<20),
		float64(x.GoSys)/(1<<20), x.OpenDBs, x.Recycled)
}
