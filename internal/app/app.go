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

	"github.com/praetorian/db-forge/audit"
	"github.com/praetorian/db-forge/batch"
	"github.com/praetorian/db-forge/config"
	"github.com/praetorian/db-forge/diff"
	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/gateway"
	"github.com/praetorian/db-forge/idem"
	"github.com/praetorian/db-forge/leases"
	"github.com/praetorian/db-forge/lifecycle"
	"github.com/praetorian/db-forge/metrics"
	"github.com/praetorian/db-forge/orchestrator/docker"
	"github.com/praetorian/db-forge/orchestrator/local"
	"github.com/praetorian/db-forge/tables"
	"github.com/praetorian/db-forge/txn"
	"github.com/praetorian/db-forge/volumes"
	"github.com/praetorian/db-forge/wasm"
)

// Run starts the gateway and serves until ctx is done, then shuts down
// gracefully: requests on open connections get 503 SHUTTING_DOWN while
// those in flight finish (the drain, at least FORGE_SHUTDOWN_DRAIN), the
// listener and the connections close, and every database closes cleanly,
// all within FORGE_SHUTDOWN_TIMEOUT. ready, if not nil, receives the
// listening address once requests are accepted.
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

	// One process owns a data directory: a second gateway, or a restore,
	// is refused while this one runs.
	unlockDir, err := volumes.Lock(cfg.DataDir)
	if err != nil {
		return err
	}
	defer unlockDir()
	vol, err := volumes.Open(cfg.DataDir)
	if err != nil {
		return err
	}
	for _, name := range vol.Abandoned() {
		log.Warn("removed a database whose spawn was cut off (nobody got its key)", zap.String("db", name))
	}
	room := newSpace(vol, cfg.DiskReserveMB, log.Named("volume"))
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
	ecfg := engineConfig(cfg)
	ecfg.CacheDir = cacheDir
	ecfg.OnDiskFull = room.release
	recorder, auditEng := newRecorder(cfg, log.Named("audit"))
	if recorder != nil {
		ecfg.Audit = recorder
	}
	// Deployed functions registered as SQL functions (package functions,
	// made below over the engine): asked when a connection opens.
	var sqlFns sqlFunctions
	ecfg.SQLFunctions = sqlFns.of
	eng, err := wasm.New(ecfg, withMeta(vol.Resolve, metaPath), log.Named("engine"))
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	auditEng.Engine = eng
	// Before the engine's close: the records still queued are written.
	defer func() { closeRecorder(context.Background(), recorder) }()
	// Whatever way Run returns, the engine is closed (a second Close is a
	// no-op): a listener or pprof that fails to start leaves no database
	// file open and no janitor running.
	defer func() { _ = eng.Close(context.Background()) }()
	log.Info("engine ready", zap.Duration("took", time.Since(start)), zap.String("wasm_cache", cacheDir))

	authn, closeKeys, err := newAuth(ctx, cfg, vol, eng, room.release, log)
	if err != nil {
		_ = eng.Close(context.Background())
		return err
	}
	// Like the engine's: a start that fails later still takes the key
	// database's last copy due and stops its goroutine (a no-op after the
	// shutdown's own call). Deferred after the engine's, so it runs first.
	defer func() { _ = closeKeys(context.Background()) }()

	orch, backend, watch, closeBackend, err := newBackend(cfg, vol, log)
	if err != nil {
		_ = eng.Close(context.Background())
		return err
	}
	defer closeBackend() // the Docker client's connections, on every return
	if watch != nil {
		wctx, stopWatch := context.WithCancel(ctx)
		defer stopWatch()
		go watch(wctx)
	}
	rctx, stopReserve := context.WithCancel(ctx)
	reserveDone := make(chan struct{})
	go func() { defer close(reserveDone); room.run(rctx) }()
	defer func() { stopReserve(); <-reserveDone }()

	// The lifecycle protocols (spawn, delete, keys), one per process: the
	// gateway and any other front end share its key lock.
	leaseTable, err := leases.Open(vol, nil)
	if err != nil {
		return err
	}
	idemSvc := idem.New(eng, cfg.IdempotencyTTL)
	fns, err := newFunctions(cfg, eng, vol, cacheDir, log.Named("functions"))
	if err != nil {
		return fmt.Errorf("functions: %w", err)
	}
	sqlFns.set(fns)
	defer func() { _ = fns.Close(context.Background()) }()
	replacing := replacingEngine{Engine: eng, forget: func(db string) { idemSvc.Forget(db); fns.Forget(db) }}
	life := lifecycle.New(lifecycle.Ports{Engine: replacing, Orchestrator: orch, Keys: authn.Keys,
		Databases: vol, Spawns: vol, Leases: leaseTable, Trash: vol, Log: log.Named("lifecycle")})
	janitor, stopJanitor := startLeaseJanitor(ctx, leaseTable, life, vol, cfg.TrashRetention, log.Named("leases"))
	defer stopJanitor()
	reg := metrics.New()
	opts := serverOptions(cfg)
	opts.Auth = authn
	opts.Databases = vol
	opts.Checks = []gateway.Check{
		room.check(),
		{Name: "engine", Run: eng.Check},
		{Name: "backend", Run: orch.Check},
	}
	opts.Metrics = reg
	opts.Damage = eng
	opts.Spawns = vol
	opts.Lifecycle = life
	opts.Idempotency = idempotency{idemSvc, tables.New(eng), batch.New(eng, batch.Config{MaxStatements: cfg.MaxBatchStatements})}
	txs := newTransactions(eng, cfg)
	opts.Transactions = txs
	pacer := &exportPacer{share: cfg.ExportBusyShare}
	moves := newMoves(replacing, vol, cfg, pacer)
	opts.Moves = moves
	opts.Functions = fns
	opts.Diffs = diff.New(diffOpener{eng: eng, moves: moves, dbs: vol}, diff.Config{})
	opts.Leases, opts.Trash = leaseTable, trash{vol, cfg.TrashRetention}
	if recorder != nil {
		opts.Audit = audit.NewService(eng)
	}
	if err := describe(&opts, cfg, vol, eng); err != nil {
		return err
	}
	mcpAPI := &inProcessAPI{}
	opts.MCP = newMCP(mcpAPI, opts.CORSOrigins, opts.Version, opts.Audit != nil)
	srv := gateway.New(opts, newGatewayEngine(eng, cfg.MaxBatchStatements), orch, log.Named("http"))
	mcpAPI.handler = srv.Handler()
	pacer.load = srv.Activity // before the gateway serves
	registerMetrics(reg, srv, eng, backend)
	registerTxMetrics(reg, txs.Registry)
	registerFunctionMetrics(reg, fns)
	registerLeaseMetrics(reg, leaseTable, janitor, vol)
	registerAuditMetrics(reg, recorder)
	room.register(reg)
	// Backups (FORGE_BACKUP_TARGET): stopped before the key database and
	// the engine close, at shutdown or on any other return.
	stopBackups, err := startBackups(ctx, cfg, environ, vol, eng, pacer, reg, log.Named("backup"))
	if err != nil {
		return err
	}
	defer stopBackups()

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
	adminKey := zap.String("admin_key", "FORGE_ADMIN_KEY")
	if cfg.AdminKey == "" {
		adminKey = zap.String("admin_key_file", adminKeyShown(cfg, vol))
	}
	log.Info("web console: open it in a browser, sign in with the admin key", zap.String("url", consoleURL(ln.Addr())), adminKey)
	if authn.Disabled {
		log.Warn("AUTHENTICATION IS DISABLED (FORGE_AUTH=disabled): every route, the admin routes included, " +
			"is open to anyone who can reach " + ln.Addr().String() + " and every database can be read, changed " +
			"and deleted without a key. Use it for local development only.")
	} else {
		rate := zap.String("rate_limit", "off")
		if authn.Limiter != nil {
			rate = zap.String("rate_limit", strconv.FormatFloat(cfg.RateLimit, 'g', -1, 64)+"/s per key, burst "+strconv.Itoa(cfg.RateBurst))
		}
		log.Info("authentication on: every route but GET /, GET /health, GET /openapi.json, /docs and /console needs an API key", rate)
	}
	if ready != nil {
		ready(ln.Addr().String())
	}

	select {
	case <-ctx.Done():
	case err := <-served:
		_ = closeKeys(context.Background())
		_ = eng.Close(context.Background())
		return fmt.Errorf("serve: %w", err)
	}
	// Drain, then close: requests on open connections hear 503
	// SHUTTING_DOWN while those in flight finish (at least
	// FORGE_SHUTDOWN_DRAIN), then the listener and the idle connections
	// close; all within FORGE_SHUTDOWN_TIMEOUT.
	stopJanitor() // no expiry starts while the engine closes
	srv.BeginDrain()
	log.Info("shutting down: draining; new requests get 503 SHUTTING_DOWN",
		zap.Int("in_flight", srv.InFlight()), zap.Duration("drain", cfg.ShutdownDrain),
		zap.Duration("timeout", cfg.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err = srv.Drain(sctx, cfg.ShutdownDrain)
	log.Info("shutting down: closing the listener and connections")
	err = errors.Join(err, srv.Shutdown(sctx))
	stopBackups()
	// The key database's last good copy still due, while the engine runs.
	if cerr := closeKeys(sctx); cerr != nil {
		err = errors.Join(err, cerr)
	}
	closeRecorder(sctx, recorder)
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

// gatewayEngine is the gateway's Engine port: the engine's single
// statements and exclusive access, and the tables and rows routes over its
// units of work.
type gatewayEngine struct {
	*wasm.Engine
	*tables.Service
	batches *batch.Service
}

// Batch runs a batch request (package batch).
func (g gatewayEngine) Batch(ctx context.Context, db string, b forge.Batch, out forge.BatchOutput) error {
	return g.batches.Batch(ctx, db, b, out)
}

func newGatewayEngine(eng *wasm.Engine, maxBatch int) gatewayEngine {
	return gatewayEngine{eng, tables.New(eng), batch.New(eng, batch.Config{MaxStatements: maxBatch})}
}

// idempotency is the gateway's Idempotency port: records (package idem)
// and the tables and rows routes' work on the unit of a record.
type idempotency struct {
	*idem.Service
	rows
	batches *batch.Service
}

// BatchTx runs a batch on the unit of its record (package batch).
func (i idempotency) BatchTx(ctx context.Context, tx forge.Tx, b forge.Batch, out forge.BatchOutput) error {
	return i.batches.InTx(ctx, tx, b, out)
}

// rows is package tables' Service under a name of its own (beside idem's).
type rows = *tables.Service

// transactions is the gateway's Transactions port: the registry of
// package txn over the engine's sessions, and batches run inside one.
type transactions struct {
	*txn.Registry
	maxBatch int
}

// Batch runs a batch in transaction id: package batch's logic over the
// open transaction (txn.Within: each unit a savepoint of it).
func (t transactions) Batch(ctx context.Context, db, owner, id string, b forge.Batch, out forge.BatchOutput) error {
	return t.Do(ctx, db, owner, id, func(tx forge.Tx) error {
		return batch.New(txn.Within{Tx: tx}, batch.Config{MaxStatements: t.maxBatch}).Batch(ctx, db, b, out)
	})
}

func newTransactions(eng *wasm.Engine, cfg config.Config) transactions {
	return transactions{Registry: txn.New(sessions{eng}, txnConfig(cfg)), maxBatch: cfg.MaxBatchStatements}
}

// txnConfig binds the transactions' settings to txn.Config.
func txnConfig(cfg config.Config) txn.Config {
	return txn.Config{DefaultTimeout: cfg.TxTimeout, MaxTimeout: cfg.TxMaxTimeout,
		MaxPerDB: cfg.MaxTxPerDB, MaxPerKey: cfg.MaxTxPerKey, MaxReadPerDB: max(cfg.ReadersPerDB, 1)}
}

// sessions is txn's Engine: the engine's Begin, whose *wasm.Session is a
// txn.Lease.
type sessions struct{ e *wasm.Engine }

func (s sessions) Begin(ctx context.Context, db string, ttl time.Duration, onEnd func(error)) (txn.Lease, error) {
	sess, err := s.e.Begin(ctx, db, ttl, onEnd)
	if err != nil {
		return nil, err
	}
	return sess, nil
}

func (s sessions) BeginRead(ctx context.Context, db string, ttl time.Duration, onEnd func(error)) (txn.Lease, error) {
	sess, err := s.e.BeginRead(ctx, db, ttl, onEnd)
	if err != nil {
		return nil, err
	}
	return sess, nil
}

// registerTxMetrics: the interactive transactions' gauge and counters.
func registerTxMetrics(reg *metrics.Registry, r *txn.Registry) {
	reg.Gauge("forge_transactions_open", "Interactive transactions open now.",
		func() float64 { return float64(r.Stats().Open) })
	reg.Counter("forge_transactions_committed_total", "Interactive transactions committed.",
		func() float64 { return float64(r.Stats().Committed) })
	reg.Counter("forge_transactions_rolled_back_total", "Interactive transactions rolled back: by their client, by a statement whose failure ended them, at shutdown.",
		func() float64 { return float64(r.Stats().RolledBack) })
	reg.Counter("forge_transactions_expired_total", "Interactive transactions rolled back because their lease ran out (FORGE_TX_TIMEOUT or their own timeout).",
		func() float64 { return float64(r.Stats().Expired) })
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
	stat("forge_engine_writer_takeovers_total", "Writes that found the writer lent to a read and opened a new writer instead of waiting.", func(s wasm.Stats) int64 { return s.WriterTakeovers })
	stat("forge_engine_room_released_total", "Deleting statements run again after the disk reserve was released for them (full volume).", func(s wasm.Stats) int64 { return s.RoomReleased })
	stat("forge_engine_recycled_total", "Wasm instances closed because their memory grew past FORGE_WASM_RECYCLE_MB.", func(s wasm.Stats) int64 { return s.Recycled })
	stat("forge_engine_corruptions_total", "Databases SQLite found damaged (SQLITE_CORRUPT, SQLITE_NOTADB) since start; each counts once until it passes an integrity check or is deleted.", func(s wasm.Stats) int64 { return s.Corruptions })
	reg.Gauge("forge_engine_damaged_databases", "Databases marked damaged now (GET /admin/databases, GET /health); the key database counts as .meta.",
		func() float64 { return float64(len(eng.Damaged())) })
	reg.Info("forge_backend_info", "The orchestrator backend in use (label backend).", map[string]string{"backend": backend})
}

// engineConfig binds the engine's settings to wasm.Config: field to
// field, MiB to bytes. "Off" needs no mapping: the settings table stores
// it as config.Off, which is the engine's "off" (negative) too. The cache
// directory and the full-volume hook are the wiring's.
func engineConfig(cfg config.Config) wasm.Config {
	return wasm.Config{
		MaxOpen:       cfg.MaxOpenDBs,
		MaxReaders:    cfg.ReadersPerDB,
		ReaderIdle:    cfg.ReaderIdle,
		DBIdle:        cfg.DBIdle,
		Synchronous:   cfg.Synchronous,
		BusyTimeout:   cfg.BusyTimeout,
		StmtCache:     cfg.StmtCache,
		PageCache:     kib(cfg.PageCacheKB),
		MaxWriteBatch: cfg.WriteBatch,
		QueryTimeout:  cfg.QueryTimeout,
		MemoryLimit:   mib(cfg.WasmMemoryMB),
		// The sandbox's limits (docs/SECURITY.md).
		MaxQueryTimeout: cfg.MaxQueryTimeout,
		HeapLimit:       mib(cfg.HeapLimitMB),
		RecycleBytes:    mib(cfg.WasmRecycleMB),
		MaxDBBytes:      mib(cfg.MaxDBSizeMB),
		Limits:          wasm.Limits(cfg.SQLLimits),
	}
}

// serverOptions binds the HTTP server's settings to gateway.Options; the
// ports are the wiring's.
func serverOptions(cfg config.Config) gateway.Options {
	return gateway.Options{
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
		ExportTimeout:     cfg.ExportTimeout,
	}
}

// mib is n MiB in bytes; config.Off stays negative (off).
func mib(n int) int64 { return int64(n) << 20 }

// kib is n KiB in bytes; config.Off stays negative (off).
func kib(n int) int64 { return int64(n) << 10 }

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
// the Docker reconciler until its context ends. closeBackend releases the
// Docker client (a no-op for the local backend); the caller defers it.
func newBackend(cfg config.Config, vol *volumes.Layout, log *zap.Logger) (b backend, name string, watch func(context.Context), closeBackend func(), err error) {
	noop := func() {}
	if cfg.Backend == "local" {
		return local.New(vol), "local", nil, noop, nil
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		if cfg.Backend == "docker" {
			return nil, "", nil, noop, fmt.Errorf("docker client: %w", err)
		}
		log.Info("FORGE_BACKEND=auto: no usable Docker client; using the local backend", zap.Error(err))
		return local.New(vol), "local", nil, noop, nil
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
		return local.New(vol), "local", nil, noop, nil
	}
	if probe != nil {
		log.Warn("docker backend: not ready yet; admin routes answer 503 until it is", zap.Error(probe))
	}
	log.Info("docker backend", zap.String("worker_image", cfg.WorkerImage), zap.String("worker_user", user),
		zap.String("host_data_dir", hostDir), zap.String("deployment", cfg.Deployment))
	return d, "docker", d.Watch, func() { _ = cli.Close() }, nil
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
