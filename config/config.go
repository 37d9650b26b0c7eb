// Package config reads DB-Forge's settings: defaults, then FORGE_* environment
// variables, then command-line flags of the same names, then validation. An
// unknown FORGE_* variable or flag is an error that names it. The Config is
// immutable once Load returns.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config is the gateway's whole configuration.
//
// "Off" is decided here, in the settings table, and nowhere else: a
// setting whose documented "0" turns a feature off (FORGE_READERS_PER_DB,
// FORGE_READER_IDLE, FORGE_DB_IDLE, FORGE_WASM_RECYCLE_MB, and
// FORGE_PAGE_CACHE_KB, whose 0 leaves SQLite's own cache size) is stored as
// Off, a negative value, because the package it configures takes 0 as
// "its default" and a negative value as "off" (wasm.Config). The wiring
// passes such fields on unchanged, scaled to bytes at most. FORGE_RATE_LIMIT
// reads "off" the same way. The other settings accept no "off", or mean
// "none" by 0 in the package they configure too (FORGE_DISK_RESERVE_MB,
// FORGE_LOG_FLUSH, FORGE_SHUTDOWN_DRAIN).
type Config struct {
	Listen   string
	DataDir  string
	Backend  string // auto | local | docker
	Log      string // json | console
	LogLevel string // debug | info | warn | error
	LogFlush time.Duration
	// PprofListen, when set, serves net/http/pprof there (loopback only).
	PprofListen string
	// Authentication (docs/SECURITY.md).
	AdminKey  string  // "" = the admin key file in the data dir
	Auth      string  // enabled | disabled
	RateLimit float64 // requests per second per key; negative = no limit
	RateBurst int     // requests a key may make at once after a pause

	// Engine.
	MaxOpenDBs   int
	ReadersPerDB int           // Off = no readers
	ReaderIdle   time.Duration // Off = never closed
	DBIdle       time.Duration // Off = never closed
	Synchronous  string        // NORMAL | FULL
	BusyTimeout  time.Duration
	StmtCache    int
	PageCacheKB  int // Off = SQLite's own cache size
	WriteBatch   int
	QueryTimeout time.Duration
	WasmMemoryMB int
	WasmCacheDir string // "" = <data dir>/.forge/wasm-cache; "off" disables

	// Sandbox and limits (docs/SECURITY.md).
	MaxQueryTimeout time.Duration
	HeapLimitMB     int
	WasmRecycleMB   int // Off = never recycled
	MaxDBSizeMB     int
	SQLLimits       SQLLimits
	// DiskReserveMB is the space kept in reserve on the data volume so
	// that data can be deleted once it is full (0 = none).
	DiskReserveMB int

	// Docker backend.
	WorkerImage     string
	HostDataDir     string
	WorkerUser      string
	WorkerMemoryMB  int
	WorkerPids      int
	WorkerMilliCPUs int
	Deployment      string

	// HTTP server.
	MaxBodyBytes      int
	ReadHeaderTimeout time.Duration
	MaxResponseBytes  int
	MaxInflight       int
	MaxInflightPerDB  int
	// MaxBatchStatements caps the statements of one batch request.
	MaxBatchStatements int
	// Interactive transactions: the lease's default and longest time to
	// live, and the open transactions allowed per database and per key.
	TxTimeout       time.Duration
	TxMaxTimeout    time.Duration
	MaxTxPerDB      int
	MaxTxPerKey     int
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	IdleTimeout     time.Duration
	ShutdownTimeout time.Duration
	ShutdownDrain   time.Duration
	// IdempotencyTTL: how long an idempotent request's answer is kept.
	IdempotencyTTL time.Duration
	// Checkpoints and exports (package snapshot): checkpoints per
	// database, the MiB they may take per database, and the time an
	// export may take.
	MaxCheckpoints  int
	MaxCheckpointMB int
	ExportTimeout   time.Duration
	// ExportBusyShare: the percent of its time an export may spend
	// sending while other requests are being served (100: no pacing).
	ExportBusyShare int
	// CORSOrigins: the origins browsers may call the API from ("*" for
	// any); none by default.
	CORSOrigins []string
	// TrashRetention: how long an expired database stays in the trash,
	// restorable, before the janitor removes it.
	TrashRetention time.Duration
	// Backups (package backup): where ("" = none), how often, how many
	// per database.
	BackupTarget   string
	BackupInterval time.Duration
	BackupKeep     int
	// The statement audit log (package audit): on, async or off, reads
	// too, retention by age and by count, the SQL text kept; the
	// best-effort writer's interval and buffer.
	Audit          string
	AuditReads     string
	AuditRetention time.Duration
	AuditMaxRows   int
	AuditMaxSQL    int
	AuditFlush     time.Duration
	AuditBuffer    int
	// Functions (package functions): a module's size, an instance's
	// memory, a call's deadline and answer, and a database's functions.
	FunctionMaxBytes       int
	FunctionMemoryMB       int
	FunctionTimeout        time.Duration
	FunctionMaxTimeout     time.Duration
	FunctionMaxOutputBytes int
	FunctionMaxSQLCalls    int
	FunctionMaxPerDB       int
	FunctionMaxMBPerDB     int
}

// SQLLimits are SQLite's per-connection limits (sqlite3_limit).
type SQLLimits struct {
	Length, SQLLength, Column, ExprDepth, CompoundSelect, VDBEOp,
	LikePatternLength, VariableNumber, TriggerDepth int
}

// Off is what a setting turned off holds in Config (see Config).
const Off = -1

// Setting describes one configuration variable.
type Setting struct {
	Env     string // FORGE_LISTEN
	Default string
	Help    string
	set     func(c *Config, v string) error
}

// Flag is the command-line flag of a setting: FORGE_DATA_DIR → -data-dir.
func (s Setting) Flag() string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(s.Env, "FORGE_")), "_", "-")
}

func str(p func(*Config) *string, allowed ...string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if len(allowed) > 0 {
			ok := false
			for _, a := range allowed {
				if strings.EqualFold(v, a) {
					v, ok = a, true
				}
			}
			if !ok {
				return fmt.Errorf("want one of %s", strings.Join(allowed, ", "))
			}
		}
		*p(c) = v
		return nil
	}
}

func integer(p func(*Config) *int, lo, hi int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("want an integer from %d to %d", lo, hi)
		}
		*p(c) = n
		return nil
	}
}

func duration(p func(*Config) *time.Duration, lo, hi time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d < lo || d > hi {
			return fmt.Errorf("want a duration from %v to %v, like 5s or 250ms", lo, hi)
		}
		*p(c) = d
		return nil
	}
}

// zeroOff is set, then turns the setting's documented "0" into Off: the
// one place where "0 = off" becomes the configured package's own "off".
func zeroOff[T int | time.Duration](p func(*Config) *T, set func(*Config, string) error) func(*Config, string) error {
	return func(c *Config, v string) error {
		if err := set(c, v); err != nil {
			return err
		}
		if *p(c) == 0 {
			*p(c) = Off
		}
		return nil
	}
}

// rate reads a rate limit: a positive number of requests per second, or
// "off" (also any negative number) for none.
func rate(p func(*Config) *float64) func(*Config, string) error {
	return func(c *Config, v string) error {
		v = strings.TrimSpace(v)
		if strings.EqualFold(v, "off") {
			*p(c) = Off
			return nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f == 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			return errors.New("want a positive number of requests per second, or off")
		}
		*p(c) = max(f, Off)
		return nil
	}
}

// The fields of the settings whose "0" is Off.
func readersPerDB(c *Config) *int         { return &c.ReadersPerDB }
func pageCacheKB(c *Config) *int          { return &c.PageCacheKB }
func readerIdle(c *Config) *time.Duration { return &c.ReaderIdle }
func dbIdle(c *Config) *time.Duration     { return &c.DBIdle }
func wasmRecycleMB(c *Config) *int        { return &c.WasmRecycleMB }

// Settings lists every variable, in the order documented in .env.example.
func Settings() []Setting {
	return []Setting{
		{"FORGE_LISTEN", ":8000", "address the gateway listens on", str(func(c *Config) *string { return &c.Listen })},
		{"FORGE_DATA_DIR", "./db-data", "data directory: every database file and the gateway's state", str(func(c *Config) *string { return &c.DataDir })},
		{"FORGE_BACKEND", "auto", "orchestrator backend: auto, local or docker (auto = docker when an engine answers, else local)", str(func(c *Config) *string { return &c.Backend }, "auto", "local", "docker")},
		{"FORGE_WORKER_IMAGE", "db-worker-base:latest", "docker backend: image of the per-database worker containers", str(func(c *Config) *string { return &c.WorkerImage })},
		{"FORGE_HOST_DATA_DIR", "", "docker backend: the data directory as the Docker host sees it (set when the gateway runs in a container; empty = FORGE_DATA_DIR)", str(func(c *Config) *string { return &c.HostDataDir })},
		{"FORGE_WORKER_USER", "", "docker backend: uid:gid of the workers, never root (empty = the gateway's own, or 65532:65532 when the gateway is root)", str(func(c *Config) *string { return &c.WorkerUser })},
		{"FORGE_WORKER_MEMORY_MB", "128", "docker backend: memory limit of each worker, in MiB", integer(func(c *Config) *int { return &c.WorkerMemoryMB }, 16, 1<<16)},
		{"FORGE_WORKER_PIDS", "32", "docker backend: process limit of each worker", integer(func(c *Config) *int { return &c.WorkerPids }, 4, 1<<16)},
		{"FORGE_WORKER_MILLICPUS", "250", "docker backend: CPU quota of each worker, in thousandths of a CPU", integer(func(c *Config) *int { return &c.WorkerMilliCPUs }, 10, 1<<16)},
		{"FORGE_DEPLOYMENT", "db-forge", "docker backend: value of the workers' managed-by label; deployments sharing an engine must differ", str(func(c *Config) *string { return &c.Deployment })},
		{"FORGE_LOG", "json", "log format: json or console", str(func(c *Config) *string { return &c.Log }, "json", "console")},
		{"FORGE_LOG_LEVEL", "info", "log level: debug, info, warn or error", str(func(c *Config) *string { return &c.LogLevel }, "debug", "info", "warn", "error")},
		{"FORGE_LOG_FLUSH", "1s", "how often buffered log lines are written out (0 = write every line at once); lines are always flushed at shutdown", duration(func(c *Config) *time.Duration { return &c.LogFlush }, 0, time.Minute)},
		{"FORGE_PPROF_LISTEN", "", "address of a Go pprof listener for profiling (empty = off; bind it to 127.0.0.1)", str(func(c *Config) *string { return &c.PprofListen })},
		{"FORGE_AUTH", "enabled", "authentication: enabled (every route but GET /, GET /health, GET /openapi.json, GET /docs and its assets needs an API key), or disabled for local development only (every route open to anyone)", str(func(c *Config) *string { return &c.Auth }, "enabled", "disabled")},
		{"FORGE_ADMIN_KEY", "", "the admin key, at least 32 characters (e.g. openssl rand -hex 32); empty = a key made at first start and kept in <data dir>/.forge/admin.key", str(func(c *Config) *string { return &c.AdminKey })},
		{"FORGE_RATE_LIMIT", "off", "requests per second each API key may make on average (429 RATE_LIMITED beyond); off = no limit (the default: one agent may use all the gateway serves; FORGE_MAX_INFLIGHT_PER_DB still bounds its requests in flight); the admin key is never limited", rate(func(c *Config) *float64 { return &c.RateLimit })},
		{"FORGE_RATE_BURST", "2000", "requests an API key may make at once after a pause, when FORGE_RATE_LIMIT is set", integer(func(c *Config) *int { return &c.RateBurst }, 1, 1<<30)},
		{"FORGE_MAX_OPEN_DBS", "1024", "databases kept open at once (LRU); others reopen on demand", integer(func(c *Config) *int { return &c.MaxOpenDBs }, 1, 1<<20)},
		{"FORGE_READERS_PER_DB", "2", "reader connections per open database, beside its one writer", zeroOff(readersPerDB, integer(readersPerDB, 0, 64))},
		{"FORGE_READER_IDLE", "30s", "close a reader connection unused this long (0 = never); the writer serves reads while idle", zeroOff(readerIdle, duration(readerIdle, 0, 24*time.Hour))},
		{"FORGE_DB_IDLE", "10m", "close a database unused this long, before the LRU would (0 = never); it reopens on its next request", zeroOff(dbIdle, duration(dbIdle, 0, 30*24*time.Hour))},
		{"FORGE_SYNCHRONOUS", "NORMAL", "SQLite synchronous mode in WAL: NORMAL or FULL", str(func(c *Config) *string { return &c.Synchronous }, "NORMAL", "FULL")},
		{"FORGE_BUSY_TIMEOUT", "5s", "how long a statement waits on a locked database", duration(func(c *Config) *time.Duration { return &c.BusyTimeout }, time.Millisecond, time.Hour)},
		{"FORGE_STMT_CACHE", "128", "prepared statements cached per connection", integer(func(c *Config) *int { return &c.StmtCache }, 1, 1<<16)},
		{"FORGE_PAGE_CACHE_KB", "512", "SQLite page cache of each connection, in KiB (PRAGMA cache_size): the bound of each wasm instance's memory under load (0 = SQLite's default, 2000)", zeroOff(pageCacheKB, integer(pageCacheKB, 0, 1<<20))},
		{"FORGE_WRITE_BATCH", "64", "group commit: write statements (plain INSERT/UPDATE/DELETE) queued for a database's writer share one transaction, up to this many, each in its own savepoint, none answered before the COMMIT (1 = off)", integer(func(c *Config) *int { return &c.WriteBatch }, 1, 4096)},
		{"FORGE_QUERY_TIMEOUT", "5s", "deadline of one statement (or one rows request)", duration(func(c *Config) *time.Duration { return &c.QueryTimeout }, time.Millisecond, time.Hour)},
		{"FORGE_WASM_MEMORY_MB", "256", "linear memory cap of each SQLite wasm instance, in MiB", integer(func(c *Config) *int { return &c.WasmMemoryMB }, 1, 4095)},
		{"FORGE_WASM_CACHE_DIR", "", "wazero compilation cache (empty = <data dir>/.forge/wasm-cache, off = none)", str(func(c *Config) *string { return &c.WasmCacheDir })},
		{"FORGE_MAX_QUERY_TIMEOUT", "30s", "longest deadline a request may ask for with its X-Query-Timeout header", duration(func(c *Config) *time.Duration { return &c.MaxQueryTimeout }, time.Millisecond, time.Hour)},
		{"FORGE_HEAP_LIMIT_MB", "64", "SQLite heap limit of each connection, in MiB (a statement needing more gets 400 MEMORY_LIMIT_EXCEEDED)", integer(func(c *Config) *int { return &c.HeapLimitMB }, 1, 4095)},
		{"FORGE_WASM_RECYCLE_MB", "32", "a wasm instance whose memory grew past this many MiB is closed after its request (0 = never)", zeroOff(wasmRecycleMB, integer(wasmRecycleMB, 0, 4095))},
		{"FORGE_MAX_DB_SIZE_MB", "1024", "size quota of each database, in MiB (writes past it get 507 DATABASE_FULL)", integer(func(c *Config) *int { return &c.MaxDBSizeMB }, 1, 1<<22)},
		{"FORGE_DISK_RESERVE_MB", "32", "space kept in reserve on the data volume, in MiB (a ballast file in <data dir>/.forge), released when the volume is full so that deleting data still works; made again once the volume has room (0 = none)", integer(func(c *Config) *int { return &c.DiskReserveMB }, 0, 1<<16)},
		{"FORGE_LIMIT_LENGTH", "4194304", "SQLite limit: bytes in one string, blob or row", integer(func(c *Config) *int { return &c.SQLLimits.Length }, 1000, 1_000_000_000)},
		{"FORGE_LIMIT_SQL_LENGTH", "100000", "SQLite limit: bytes of SQL text in one statement", integer(func(c *Config) *int { return &c.SQLLimits.SQLLength }, 1000, 1_000_000_000)},
		{"FORGE_LIMIT_COLUMN", "2000", "SQLite limit: columns in a table, index, view, result or ORDER BY", integer(func(c *Config) *int { return &c.SQLLimits.Column }, 1, 32767)},
		{"FORGE_LIMIT_EXPR_DEPTH", "100", "SQLite limit: depth of an expression tree (also caps nested parentheses; deeper than about 250 overflows the wasm stack)", integer(func(c *Config) *int { return &c.SQLLimits.ExprDepth }, 1, 200)},
		{"FORGE_LIMIT_COMPOUND_SELECT", "100", "SQLite limit: terms of a compound SELECT (about 250 overflows the wasm stack)", integer(func(c *Config) *int { return &c.SQLLimits.CompoundSelect }, 1, 200)},
		{"FORGE_LIMIT_VDBE_OP", "250000", "SQLite limit: instructions of one prepared statement (past it: 400 MEMORY_LIMIT_EXCEEDED)", integer(func(c *Config) *int { return &c.SQLLimits.VDBEOp }, 1000, 1_000_000_000)},
		{"FORGE_LIMIT_LIKE_PATTERN_LENGTH", "10000", "SQLite limit: bytes of a LIKE or GLOB pattern", integer(func(c *Config) *int { return &c.SQLLimits.LikePatternLength }, 1, 50000)},
		{"FORGE_LIMIT_VARIABLE_NUMBER", "10000", "SQLite limit: highest parameter number (?NNN) in a statement", integer(func(c *Config) *int { return &c.SQLLimits.VariableNumber }, 1, 32766)},
		{"FORGE_LIMIT_TRIGGER_DEPTH", "32", "SQLite limit: nesting of trigger programs", integer(func(c *Config) *int { return &c.SQLLimits.TriggerDepth }, 1, 100)},
		{"FORGE_MAX_BODY_BYTES", "8388608", "request body cap in bytes (larger bodies get 413)", integer(func(c *Config) *int { return &c.MaxBodyBytes }, 1024, 1<<30)},
		{"FORGE_MAX_RESPONSE_BYTES", "16777216", "response size cap in bytes (a larger result gets 413 RESPONSE_TOO_LARGE)", integer(func(c *Config) *int { return &c.MaxResponseBytes }, 1024, 1<<30)},
		{"FORGE_MAX_INFLIGHT", "1024", "requests in flight at once (more get 503 SERVER_BUSY with Retry-After)", integer(func(c *Config) *int { return &c.MaxInflight }, 1, 1<<20)},
		{"FORGE_MAX_INFLIGHT_PER_DB", "64", "data-plane requests in flight at once on one database (more get 429 TOO_MANY_REQUESTS with Retry-After)", integer(func(c *Config) *int { return &c.MaxInflightPerDB }, 1, 1<<20)},
		{"FORGE_MAX_BATCH_STATEMENTS", "1000", "statements one batch request may hold (more get 400 TOO_MANY_STATEMENTS)", integer(func(c *Config) *int { return &c.MaxBatchStatements }, 1, 1<<20)},
		{"FORGE_TX_TIMEOUT", "10s", "lease of an interactive transaction that names none: rolled back after this long without a request", duration(func(c *Config) *time.Duration { return &c.TxTimeout }, time.Millisecond, 24*time.Hour)},
		{"FORGE_TX_MAX_TIMEOUT", "300s", "longest lease a transaction may ask for (400 INVALID_TRANSACTION_TIMEOUT beyond)", duration(func(c *Config) *time.Duration { return &c.TxMaxTimeout }, time.Millisecond, 24*time.Hour)},
		{"FORGE_MAX_TX_PER_DB", "1", "open interactive transactions per database (more get 429 TOO_MANY_TRANSACTIONS)", integer(func(c *Config) *int { return &c.MaxTxPerDB }, 1, 1<<16)},
		{"FORGE_MAX_TX_PER_KEY", "4", "open interactive transactions per API key (more get 429 TOO_MANY_TRANSACTIONS)", integer(func(c *Config) *int { return &c.MaxTxPerKey }, 1, 1<<16)},
		{"FORGE_READ_HEADER_TIMEOUT", "10s", "time to read a request's line and headers", duration(func(c *Config) *time.Duration { return &c.ReadHeaderTimeout }, time.Millisecond, time.Hour)},
		{"FORGE_READ_TIMEOUT", "30s", "time to read a request's body once its headers are in", duration(func(c *Config) *time.Duration { return &c.ReadTimeout }, time.Millisecond, time.Hour)},
		{"FORGE_WRITE_TIMEOUT", "60s", "time to write a response", duration(func(c *Config) *time.Duration { return &c.WriteTimeout }, time.Millisecond, time.Hour)},
		{"FORGE_IDLE_TIMEOUT", "120s", "keep-alive connection idle time", duration(func(c *Config) *time.Duration { return &c.IdleTimeout }, time.Millisecond, time.Hour)},
		{"FORGE_SHUTDOWN_TIMEOUT", "30s", "grace period for requests in flight at SIGTERM", duration(func(c *Config) *time.Duration { return &c.ShutdownTimeout }, 0, time.Hour)},
		{"FORGE_SHUTDOWN_DRAIN", "1s", "at SIGTERM, the least time the gateway keeps answering 503 SHUTTING_DOWN (with Connection: close) to requests on open connections before it closes them; it also waits for the requests in flight, and stops early once no connection is open; all within FORGE_SHUTDOWN_TIMEOUT", duration(func(c *Config) *time.Duration { return &c.ShutdownDrain }, 0, time.Hour)},
		{"FORGE_MAX_CHECKPOINTS", "16", "checkpoints per database, the automatic ones of restores included (more get 409 CHECKPOINT_LIMIT)", integer(func(c *Config) *int { return &c.MaxCheckpoints }, 1, 1<<16)},
		{"FORGE_MAX_CHECKPOINT_MB", "4096", "MiB the checkpoints of one database may take in all (more get 409 CHECKPOINT_LIMIT)", integer(func(c *Config) *int { return &c.MaxCheckpointMB }, 1, 1<<24)},
		{"FORGE_EXPORT_TIMEOUT", "10m", "time an export may take to copy or dump a database (GET /api/db/{db_name}/export), and a diff to compare two (GET /api/db/{db_name}/diff)", duration(func(c *Config) *time.Duration { return &c.ExportTimeout }, time.Second, 24*time.Hour)},
		{"FORGE_EXPORT_BUSY_SHARE", "25", "percent of its time an export (GET /api/db/{db_name}/export), or a backup's upload, may spend sending while other requests are being served: after each MiB it waits in proportion, so that requests go first; alone, it runs at full speed; 100: never waits", integer(func(c *Config) *int { return &c.ExportBusyShare }, 1, 100)},
		{"FORGE_IDEMPOTENCY_TTL", "24h", "how long the answer to a write sent with an Idempotency-Key is kept for its retries (a retry later runs anew)", duration(func(c *Config) *time.Duration { return &c.IdempotencyTTL }, time.Second, 30*24*time.Hour)},
		{"FORGE_TRASH_RETENTION", "24h", "how long a database whose lease ran out stays in the trash, restorable by the admin (POST /admin/trash/{db_name}/restore), before the janitor removes it for good", duration(func(c *Config) *time.Duration { return &c.TrashRetention }, time.Second, 365*24*time.Hour)},
		{"FORGE_CORS_ORIGINS", "", "origins allowed cross-origin (CORS) access from a browser: a comma-separated list like https://app.example.com,http://localhost:3000, or * for any; empty: none", origins(func(c *Config) *[]string { return &c.CORSOrigins })},
		{"FORGE_BACKUP_TARGET", "", "where backups go: a directory, or s3://bucket/prefix (credentials, region and endpoint from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT_URL); empty: no backups (docs/OPERATIONS.md, Backups)", str(func(c *Config) *string { return &c.BackupTarget })},
		{"FORGE_BACKUP_INTERVAL", "1h", "time between backup passes; each copies every database (and the key store) changed since its last backup", duration(func(c *Config) *time.Duration { return &c.BackupInterval }, time.Second, 30*24*time.Hour)},
		{"FORGE_AUDIT", "on", "the statement audit log (GET /api/db/{db_name}/audit): on records every statement that writes in the same transaction as the write (a committed write always has its record; measured +10-50 % CPU per write); async writes a write's record just after its commit, batched by the buffered writer every FORGE_AUDIT_FLUSH (its cost shared by the writes of an interval, measured mostly under +10 %; a crash loses the records not yet written, about the last interval's, a full buffer drops records: counted in forge_audit_dropped_total, logged); off records nothing", str(func(c *Config) *string { return &c.Audit }, "on", "async", "off")},
		{"FORGE_AUDIT_READS", "off", "on also records read statements, best effort (written after the read by a buffered writer; dropped under load, counted in forge_audit_dropped_total)", str(func(c *Config) *string { return &c.AuditReads }, "on", "off")},
		{"FORGE_AUDIT_RETENTION", "168h", "audit records older than this are deleted (by the writes that follow, a bounded number at a time)", duration(func(c *Config) *time.Duration { return &c.AuditRetention }, time.Minute, 10*365*24*time.Hour)},
		{"FORGE_AUDIT_MAX_ROWS", "100000", "audit records kept per database at most (the oldest go first)", integer(func(c *Config) *int { return &c.AuditMaxRows }, 100, 100000000)},
		{"FORGE_AUDIT_MAX_SQL_BYTES", "1024", "bytes of a statement's SQL text kept in its audit record (the whole length is kept too)", integer(func(c *Config) *int { return &c.AuditMaxSQL }, 16, 1<<20)},
		{"FORGE_AUDIT_FLUSH", "200ms", "the buffered audit writer (reads, rolled-back writes, every write with FORGE_AUDIT=async) writes the records waiting this often, one transaction per database (and all of them at graceful shutdown); a crash loses those not yet written: about the last interval's, more if a database's write lock held the writer up", duration(func(c *Config) *time.Duration { return &c.AuditFlush }, time.Millisecond, time.Minute)},
		{"FORGE_AUDIT_BUFFER", "65536", "audit records waiting for the buffered writer at most; past it they are dropped (counted in forge_audit_dropped_total, logged at most once a second)", integer(func(c *Config) *int { return &c.AuditBuffer }, 16, 1<<24)},
		{"FORGE_BACKUP_KEEP", "24", "backups kept per database (the newest; older ones are removed from the target)", integer(func(c *Config) *int { return &c.BackupKeep }, 1, 100000)},
		{"FORGE_FUNCTION_MAX_BYTES", "8388608", "largest function module a deploy takes, in bytes (larger: 400 FUNCTION_INVALID; also bounded by FORGE_MAX_BODY_BYTES)", integer(func(c *Config) *int { return &c.FunctionMaxBytes }, 1024, 1<<30)},
		{"FORGE_FUNCTION_MEMORY_MB", "64", "linear memory of one function instance, in MiB (more: FUNCTION_MEMORY_LIMIT)", integer(func(c *Config) *int { return &c.FunctionMemoryMB }, 1, 4096)},
		{"FORGE_FUNCTION_TIMEOUT", "5s", "a function call's deadline when the request sets no X-Query-Timeout (past it: 504 FUNCTION_TIMEOUT, nothing committed)", duration(func(c *Config) *time.Duration { return &c.FunctionTimeout }, time.Millisecond, time.Hour)},
		{"FORGE_FUNCTION_MAX_TIMEOUT", "60s", "the longest deadline a function call may have, X-Query-Timeout included", duration(func(c *Config) *time.Duration { return &c.FunctionMaxTimeout }, time.Millisecond, 24*time.Hour)},
		{"FORGE_FUNCTION_MAX_OUTPUT_BYTES", "1048576", "largest answer of a function call, in bytes (more: 413 FUNCTION_OUTPUT_LIMIT, nothing committed)", integer(func(c *Config) *int { return &c.FunctionMaxOutputBytes }, 1, 1<<30)},
		{"FORGE_FUNCTION_MAX_SQL_CALLS", "1000", "statements one function call may run (past it each query answers FUNCTION_LIMIT to the function)", integer(func(c *Config) *int { return &c.FunctionMaxSQLCalls }, 1, 1<<24)},
		{"FORGE_FUNCTION_MAX_PER_DB", "32", "functions one database may have (more: 409 FUNCTION_LIMIT)", integer(func(c *Config) *int { return &c.FunctionMaxPerDB }, 1, 1<<16)},
		{"FORGE_FUNCTION_MAX_MB_PER_DB", "64", "MiB the functions of one database may take in all (more: 409 FUNCTION_LIMIT)", integer(func(c *Config) *int { return &c.FunctionMaxMBPerDB }, 1, 1<<20)},
	}
}

// origins reads a comma-separated list of browser origins (scheme, host,
// optional port; no path), or "*".
func origins(p func(*Config) *[]string) func(*Config, string) error {
	return func(c *Config, v string) error {
		var out []string
		for _, o := range strings.Split(v, ",") {
			o = strings.TrimSpace(o)
			if o == "" {
				continue
			}
			if o != "*" {
				u, err := url.Parse(o)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
					(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
					return fmt.Errorf("want * or origins like https://app.example.com or http://localhost:3000, not %q", o)
				}
				o = u.Scheme + "://" + u.Host
			}
			out = append(out, o)
		}
		*p(c) = out
		return nil
	}
}

// ErrHelp is returned when the arguments ask for help; usage was written.
var ErrHelp = flag.ErrHelp

// Load builds the configuration from environ ("KEY=value" strings, as
// os.Environ gives) and args (without the program name). Flags win over
// the environment, which wins over defaults. usage receives -h output.
func Load(args, environ []string, usage io.Writer) (Config, error) {
	var c Config
	settings := Settings()
	byEnv := make(map[string]Setting, len(settings))
	for _, s := range settings {
		byEnv[s.Env] = s
		if err := s.set(&c, s.Default); err != nil {
			return c, fmt.Errorf("default of %s: %w", s.Env, err)
		}
	}
	var unknown []string
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "FORGE_") {
			continue
		}
		s, ok := byEnv[k]
		if !ok {
			unknown = append(unknown, k)
			continue
		}
		if err := s.set(&c, v); err != nil {
			return c, fmt.Errorf("%s=%q: %w", k, v, err)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return c, fmt.Errorf("unknown setting %s in the environment (see .env.example for the valid FORGE_* variables)", strings.Join(unknown, ", "))
	}
	fs := flag.NewFlagSet("forge-gateway", flag.ContinueOnError)
	fs.SetOutput(usage)
	for _, s := range settings {
		fs.Func(s.Flag(), fmt.Sprintf("%s (env %s, default %q)", s.Help, s.Env, s.Default), func(v string) error {
			return s.set(&c, v)
		})
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return c, c.validate()
}

func (c Config) validate() error {
	if c.Listen == "" {
		return errors.New("FORGE_LISTEN must not be empty")
	}
	if c.DataDir == "" {
		return errors.New("FORGE_DATA_DIR must not be empty")
	}
	if c.MaxQueryTimeout < c.QueryTimeout {
		return fmt.Errorf("FORGE_MAX_QUERY_TIMEOUT (%v) must not be below FORGE_QUERY_TIMEOUT (%v)", c.MaxQueryTimeout, c.QueryTimeout)
	}
	if c.HeapLimitMB > c.WasmMemoryMB {
		return fmt.Errorf("FORGE_HEAP_LIMIT_MB (%d) must not exceed FORGE_WASM_MEMORY_MB (%d)", c.HeapLimitMB, c.WasmMemoryMB)
	}
	if c.WorkerUser != "" {
		uid, gid, ok := strings.Cut(c.WorkerUser, ":")
		u, uerr := strconv.Atoi(uid)
		g, gerr := strconv.Atoi(gid)
		if !ok || uerr != nil || gerr != nil || u <= 0 || g < 0 {
			return fmt.Errorf("FORGE_WORKER_USER=%q: want uid:gid with a non-root uid", c.WorkerUser)
		}
	}
	if err := checkAdminKey(c.AdminKey); err != nil {
		return err
	}
	if c.Deployment == "" || strings.ContainsAny(c.Deployment, " =,\x00") {
		return fmt.Errorf("FORGE_DEPLOYMENT=%q: want a plain label value", c.Deployment)
	}
	return nil
}

// Admin key bounds: the rule of package auth (MinAdminKeyLength,
// MaxTokenLength), checked here too so that a bad key stops the gateway
// with the other configuration errors. The value never appears in an error.
const (
	minAdminKey = 32
	maxAdminKey = 256
)

func checkAdminKey(k string) error {
	if k == "" {
		return nil
	}
	if len(k) < minAdminKey || len(k) > maxAdminKey {
		return fmt.Errorf("FORGE_ADMIN_KEY has %d characters: want %d to %d (e.g. openssl rand -hex 32)", len(k), minAdminKey, maxAdminKey)
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= ' ' || k[i] > '~' {
			return errors.New("FORGE_ADMIN_KEY: want visible ASCII characters only, no spaces")
		}
	}
	return nil
}

// EnvExample renders .env.example: every variable with its default.
func EnvExample() string {
	var b strings.Builder
	b.WriteString("# DB-Forge gateway settings. Every variable is also a flag: FORGE_DATA_DIR is -data-dir.\n")
	b.WriteString("# An unknown FORGE_* variable stops the gateway at start. Values shown are the defaults.\n")
	for _, s := range Settings() {
		fmt.Fprintf(&b, "\n# %s\n%s=%s\n", s.Help, s.Env, s.Default)
	}
	return b.String()
}
