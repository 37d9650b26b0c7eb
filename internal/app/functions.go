package app

import (
	"time"

	"go.uber.org/zap"

	"github.com/praetorian/db-forge/config"
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
// work and the databases' directories; its compilation cache is beside
// SQLite's (none when that one is off).
func newFunctions(cfg config.Config, eng *wasm.Engine, vol *volumes.Layout, wasmCache string, log *zap.Logger) (*functions.Service, error) {
	fc := functionsConfig(cfg)
	if wasmCache != "" {
		fc.CacheDir = vol.SystemPath("functions-cache")
	}
	return functions.New(fc, eng, vol, log)
}

// registerFunctionMetrics: calls per function and outcome, and their
// durations.
func registerFunctionMetrics(reg *metrics.Registry, s *functions.Service) {
	obs := reg.Functions()
	s.Observe(func(db, name, code string, d time.Duration) { obs(db, name, code, d) })
}
