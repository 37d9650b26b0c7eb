// Package app wires DB-Forge's gateway together: configuration, logger,
// data directory, engine, orchestrator backend, HTTP server, and graceful
// shutdown. It is the only package that knows every concrete type; main is
// a thin call to Run, and tests call Run too.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/client"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/praetorian/db-forge/config"
	"github.com/praetorian/db-forge/gateway"
	"github.com/praetorian/db-forge/metrics"
	"github.com/praetorian/db-forge/orchestrator/docker"
	"github.com/praetorian/db-forge/orchestrator/local"
	"github.com/praetorian/db-forge/volumes"
	"github.com/praetorian/db-forge/wasm"
)

// Run starts the gateway and serves until ctx is done, then shuts down
// gracefully: the listener closes, requests in flight finish (within
// FORGE_SHUTDOWN_TIMEOUT) and every database closes cleanly. ready, if not
// nil, receives the listening address once requests are accepted.
func Run(ctx context.Context, args, environ []string, logOut io.Writer, ready func(addr string)) error {
	cfg, err := config.Load(args, environ, logOut)
	if err != nil {
		return err
	}
	// Files the gateway creates are for itself and its workers' group only.
	syscall.Umask(0o007)
	log, stopLog, err := newLogger(cfg, logOut)
	if err != nil {
		return err
	}
	defer stopLog() // flushes what the buffer still holds
	defer func() { _ = log.Sync() }()

	vol, err := volumes.Open(cfg.DataDir)
	if err != nil {
		return err
	}
	cacheDir := cfg.WasmCacheDir
	switch cacheDir {
	case "":
		cacheDir = vol.SystemPath("wasm-cache")
	case "off":
		cacheDir = ""
	}
	metaPath := vol.SystemPath(metaFile)
	if err := ensureMetaFile(metaPath); err != nil {
		return err
	}
	start := time.Now()
	eng, err := wasm.New(wasm.Config{
		MaxOpen:       cfg.MaxOpenDBs,
		MaxReaders:    readers(cfg.ReadersPerDB),
		ReaderIdle:    idle(cfg.ReaderIdle),
		DBIdle:        idle(cfg.DBIdle),
		Synchronous:   cfg.Synchronous,
		BusyTimeout:   cfg.BusyTimeout,
		StmtCache:     cfg.StmtCache,
		PageCache:     pageCache(cfg.PageCacheKB),
		MaxWriteBatch: cfg.WriteBatch,
		QueryTimeout:  cfg.QueryTimeout,
		MemoryLimit:   int64(cfg.WasmMemoryMB) << 20,
		CacheDir:      cacheDir,
		// The sandbox's limits (docs/SECURITY.md).
		MaxQueryTimeout: cfg.MaxQueryTimeout,
		HeapLimit:       int64(cfg.HeapLimitMB) << 20,
		RecycleBytes:    recycleBytes(cfg.WasmRecycleMB),
		MaxDBBytes:      int64(cfg.MaxDBSizeMB) << 20,
		Limits: wasm.Limits{
			Length:            cfg.SQLLimits.Length,
			SQLLength:         cfg.SQLLimits.SQLLength,
			Column:            cfg.SQLLimits.Column,
			ExprDepth:         cfg.SQLLimits.ExprDepth,
			CompoundSelect:    cfg.SQLLimits.CompoundSelect,
			VDBEOp:            cfg.SQLLimits.VDBEOp,
			LikePatternLength: cfg.SQLLimits.LikePatternLength,
			VariableNumber:    cfg.SQLLimits.VariableNumber,
			TriggerDepth:      cfg.SQLLimits.TriggerDepth,
		},
	}, withMeta(vol.Resolve, metaPath), log.Named("engine"))
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	log.Info("engine ready", zap.Duration("took", time.Since(start)), zap.String("wasm_cache", cacheDir))

	authn, err := newAuth(ctx, cfg, vol, eng, log)
	if err != nil {
		_ = eng.Close(context.Background())
		return err
	}

	orch, backend, watch, err := newBackend(cfg, vol, log)
	if err != nil {
		_ = eng.Close(context.Background())
		return err
	}
	if watch != nil {
		wctx, stopWatch := context.WithCancel(ctx)
		defer stopWatch()
		go watch(wctx)
	}

	reg := metrics.New()
	srv := gateway.New(gateway.Options{
		MaxBodyBytes: cfg.MaxBodyBytes,
		ReadTimeout:  cfg.ReadTimeout,
		WriteTimeout: cfg.WriteTimeout,
		IdleTimeout:  cfg.IdleTimeout,
		// The server's limits (docs/SECURITY.md).
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		MaxResponseBytes:  cfg.MaxResponseBytes,
		MaxQueryTimeout:   cfg.MaxQueryTimeout,
		MaxInflight:       cfg.MaxInflight,
		MaxInflightPerDB:  cfg.MaxInflightPerDB,
		Auth:              authn,
		Checks: []gateway.Check{
			{Name: "data_dir", Run: func(context.Context) error { return vol.CheckWritable() }},
			{Name: "engine", Run: eng.Check},
			{Name: "backend", Run: orch.Check},
		},
		Metrics: reg,
	}, eng, orch, log.Named("http"))
	registerMetrics(reg, srv, eng, backend)

	if cfg.PprofListen != "" {
		stopPprof, err := servePprof(cfg.PprofListen, log)
		if err != nil {
			return err
		}
		defer stopPprof()
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("DB-Forge gateway listening",
		zap.String("addr", ln.Addr().String()),
		zap.String("data_dir", vol.Root()),
		zap.String("backend", backend))
	if authn.Disabled {
		log.Warn("AUTHENTICATION IS DISABLED (FORGE_AUTH=disabled): every route, the admin routes included, " +
			"is open to anyone who can reach " + ln.Addr().String() + " and every database can be read, changed " +
			"and deleted without a key. Use it for local development only.")
	} else {
		rate := zap.String("rate_limit", "off")
		if authn.Limiter != nil {
			rate = zap.String("rate_limit", strconv.FormatFloat(cfg.RateLimit, 'g', -1, 64)+"/s per key, burst "+strconv.Itoa(cfg.RateBurst))
		}
		log.Info("authentication on: every route but GET / and GET /health needs an API key", rate)
	}
	if ready != nil {
		ready(ln.Addr().String())
	}

	select {
	case <-ctx.Done():
	case err := <-served:
		_ = eng.Close(context.Background())
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("shutting down: finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if cerr := eng.Close(sctx); cerr != nil {
		err = errors.Join(err, cerr)
	}
	if err != nil {
		log.Error("unclean shutdown", zap.Error(err))
		return err
	}
	log.Info("stopped cleanly")
	return nil
}

// registerMetrics adds to the registry what the gateway's HTTP metrics do
// not say: the requests in flight and the engine's counters.
func registerMetrics(reg *metrics.Registry, srv *gateway.Server, eng *wasm.Engine, backend string) {
	reg.Gauge("forge_http_requests_in_flight", "Requests being answered now (GET /health aside).",
		func() float64 { return float64(srv.InFlight()) })
	reg.Gauge("forge_engine_open_databases", "Databases the engine holds open now (bounded by FORGE_MAX_OPEN_DBS).",
		func() float64 { return float64(eng.Stats().Open) })
	stat := func(name, help string, f func(wasm.Stats) int64) {
		reg.Counter(name, help, func() float64 { return float64(f(eng.Stats())) })
	}
	stat("forge_engine_opened_total", "Databases opened since start.", func(s wasm.Stats) int64 { return s.Opened })
	stat("forge_engine_evicted_total", "Databases closed by the LRU to stay within FORGE_MAX_OPEN_DBS.", func(s wasm.Stats) int64 { return s.Evicted })
	stat("forge_engine_idled_total", "Databases closed because nobody used them for FORGE_DB_IDLE.", func(s wasm.Stats) int64 { return s.Idled })
	stat("forge_engine_faults_total", "Wasm instances discarded after a trap or running out of memory.", func(s wasm.Stats) int64 { return s.Faults })
	stat("forge_engine_write_batches_total", "Transactions that committed two or more queued write statements at once (group commit, FORGE_WRITE_BATCH).", func(s wasm.Stats) int64 { return s.WriteBatches })
	stat("forge_engine_batched_writes_total", "Write statements committed in such a shared transaction.", func(s wasm.Stats) int64 { return s.BatchedWrites })
	stat("forge_engine_redone_writes_total", "Statements of a batch whose transaction was lost (a statement rolled it back, a fault), run again alone.", func(s wasm.Stats) int64 { return s.RedoneWrites })
	stat("forge_engine_recycled_total", "Wasm instances closed because their memory grew past FORGE_WASM_RECYCLE_MB.", func(s wasm.Stats) int64 { return s.Recycled })
	reg.Info("forge_backend_info", "The orchestrator backend in use (label backend).", map[string]string{"backend": backend})
}

// recycleBytes maps the setting (0 = never) to the engine's (negative = never).
// pageCache maps FORGE_PAGE_CACHE_KB (0 = SQLite's default) to the
// engine's PageCache (negative = SQLite's default, 0 = the engine's).
func pageCache(kb int) int64 {
	if kb == 0 {
		return -1
	}
	return int64(kb) << 10
}

func recycleBytes(mb int) int64 {
	if mb == 0 {
		return -1
	}
	return int64(mb) << 20
}

// idle maps an idle-time setting (0 = never) to the engine's (negative =
// never, 0 = its default).
func idle(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// readers maps the setting (0 = no readers) to the engine's (negative = none).
func readers(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// backend is what Run needs of an orchestrator.
type backend interface {
	gateway.Orchestrator
	Check(ctx context.Context) error
}

// newBackend picks the orchestrator backend. auto means Docker when an
// engine answers and has the worker image, else the local backend; the log
// says which and why. With docker chosen explicitly the gateway starts even
// while Docker is down: the data plane serves, admin routes answer 503, and
// the backend recovers when the engine answers. watch, when not nil, runs
// the Docker reconciler until its context ends.
func newBackend(cfg config.Config, vol *volumes.Layout, log *zap.Logger) (b backend, name string, watch func(context.Context), err error) {
	if cfg.Backend == "local" {
		return local.New(vol), "local", nil, nil
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		if cfg.Backend == "docker" {
			return nil, "", nil, fmt.Errorf("docker client: %w", err)
		}
		log.Info("FORGE_BACKEND=auto: no usable Docker client; using the local backend", zap.Error(err))
		return local.New(vol), "local", nil, nil
	}
	uid, gid := os.Geteuid(), os.Getegid()
	user := docker.WorkerUser(cfg.WorkerUser, uid, gid)
	_, wgid, _ := strings.Cut(user, ":")
	workerGID, _ := strconv.Atoi(wgid)
	hostDir := cfg.HostDataDir
	if hostDir == "" {
		hostDir = vol.Root()
	}
	d := docker.New(cli, vol, docker.Config{
		Spec: docker.SpecConfig{
			Image:       cfg.WorkerImage,
			HostDataDir: hostDir,
			User:        user,
			MemoryBytes: int64(cfg.WorkerMemoryMB) << 20,
			PidsLimit:   int64(cfg.WorkerPids),
			NanoCPUs:    int64(cfg.WorkerMilliCPUs) * 1_000_000,
			Deployment:  cfg.Deployment,
			StopTimeout: 5 * time.Second,
		},
		WorkerGID:   workerGID,
		ShareAsRoot: uid == 0,
	}, log.Named("docker"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	probe := d.Check(ctx)
	if probe == nil {
		probe = d.CheckImage(ctx)
	}
	if cfg.Backend == "auto" && probe != nil {
		log.Info("FORGE_BACKEND=auto: using the local backend", zap.String("reason", probe.Error()))
		_ = cli.Close()
		return local.New(vol), "local", nil, nil
	}
	if probe != nil {
		log.Warn("docker backend: not ready yet; admin routes answer 503 until it is", zap.Error(probe))
	}
	log.Info("docker backend", zap.String("worker_image", cfg.WorkerImage), zap.String("worker_user", user),
		zap.String("host_data_dir", hostDir), zap.String("deployment", cfg.Deployment))
	return d, "docker", d.Watch, nil
}

func newLogger(cfg config.Config, out io.Writer) (*zap.Logger, func(), error) {
	level, err := zapcore.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, nil, err
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.TimeKey = "ts"
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	encCfg.EncodeDuration = zapcore.MillisDurationEncoder
	var enc zapcore.Encoder
	if cfg.Log == "console" {
		encCfg.EncodeLevel = zapcore.CapitalColorLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	} else {
		enc = zapcore.NewJSONEncoder(encCfg)
	}
	if out == nil {
		out = os.Stderr
	}
	ws := zapcore.Lock(zapcore.AddSync(out))
	stop := func() {}
	if cfg.LogFlush > 0 {
		// One write(2) per request was 5% of a point SELECT's CPU: lines
		// gather in a buffer written out every FORGE_LOG_FLUSH (or when
		// 256 KiB are waiting), and at shutdown.
		b := &zapcore.BufferedWriteSyncer{WS: ws, Size: 256 << 10, FlushInterval: cfg.LogFlush}
		ws, stop = b, func() { _ = b.Stop() }
	}
	core := zapcore.NewCore(enc, ws, level)
	return zap.New(core, zap.ErrorOutput(zapcore.Lock(zapcore.AddSync(out)))), stop, nil
}
