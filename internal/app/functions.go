package app

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/praetorian/db-forge/config"
	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/functions"
	"github.com/praetorian/db-forge/metrics"
	"github.com/praetorian/db-forge/volumes"
	"github.com/praetorian/db-forge/wasm"
)

// functionsConfig binds the functions' settings to functions.Config:
// field to field, MiB to bytes. The cache directory is the wiring's.
func functionsConfig(cfg config.Config) functions.Config {
	return functions.Config{
		MaxModuleBytes:   cfg.FunctionMaxBytes,
		MemoryLimitBytes: mib(cfg.FunctionMemoryMB),
		Timeout:          cfg.FunctionTimeout,
		MaxTimeout:       cfg.FunctionMaxTimeout,
		MaxOutputBytes:   cfg.FunctionMaxOutputBytes,
		MaxSQLCalls:      cfg.FunctionMaxSQLCalls,
		MaxPerDB:         cfg.FunctionMaxPerDB,
		MaxBytesPerDB:    mib(cfg.FunctionMaxMBPerDB),
	}
}

// newFunctions starts the functions' runtime over the engine's units of
// work and the databases' directories; its compilation cache is in
// SQLite's, as its "functions" directory (none when that one is off), so
// FORGE_WASM_CACHE_DIR moves both, and gateways that share one (the
// tests') compile a module once.
func newFunctions(cfg config.Config, eng *wasm.Engine, vol *volumes.Layout, wasmCache string, log *zap.Logger) (*functions.Service, error) {
	fc := functionsConfig(cfg)
	if wasmCache != "" {
		fc.CacheDir = filepath.Join(wasmCache, "functions")
	}
	fc.Refresh = func(ctx context.Context, db string) error {
		return eng.Exclusive(ctx, db, func() error { return nil }) // its connections close; the next register the new list
	}
	return functions.New(fc, eng, vol, log)
}

// sqlFunctions is the engine's Config.SQLFunctions: the deployed
// functions of a database that are SQL functions, once the functions'
// service exists (it is made over the engine).
type sqlFunctions struct {
	s atomic.Pointer[functions.Service]
}

func (f *sqlFunctions) set(s *functions.Service) { f.s.Store(s) }

func (f *sqlFunctions) of(db string) []wasm.SQLFunction {
	s := f.s.Load()
	if s == nil {
		return nil
	}
	var out []wasm.SQLFunction
	for _, sf := range s.SQLFunctions(db) {
		name := sf.Function
		out = append(out, wasm.SQLFunction{Name: sf.Name, Args: sf.Args, Deterministic: sf.Deterministic,
			Call: func(ctx context.Context, args []forge.Value) (forge.Value, error) {
				return s.Scalar(ctx, db, name, args)
			}})
	}
	return out
}

// registerFunctionMetrics: calls per function and outcome, and their
// durations.
func registerFunctionMetrics(reg *metrics.Registry, s *functions.Service) {
	obs := reg.Functions()
	s.Observe(func(db, name, code string, d time.Duration) { obs(db, name, code, d) })
}
