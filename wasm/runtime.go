package wasm

import (
	"fmt"
	"sync"

	"github.com/ncruces/go-sqlite3"
	_ "github.com/ncruces/go-sqlite3/embed" // the SQLite wasm binary
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// wasmPageSize is the WebAssembly page size (64 KiB).
const wasmPageSize = 64 << 10

// The wazero runtime that compiles SQLite is process-wide in ncruces/go-sqlite3
// (sqlite3.RuntimeConfig, sqlite3.Initialize). This is the project's single
// engine initialisation: the first Engine configures it, and every later
// Engine must ask for the same per-instance memory limit.
var runtimeState struct {
	once        sync.Once
	err         error
	memoryPages uint32
	cacheDir    string
}

// initRuntime compiles SQLite once per process. cacheDir, when set, holds
// wazero's compilation cache so that a restart loads machine code instead
// of compiling it again (about 2 s cold, 50 ms warm on a 2-core machine).
func initRuntime(memoryLimitBytes int64, cacheDir string) error {
	pages := uint32(memoryLimitBytes / wasmPageSize)
	if pages < 16 || pages > 65536 {
		return fmt.Errorf("wasm memory limit %d bytes: must be between 1 MiB and 4 GiB", memoryLimitBytes)
	}
	runtimeState.once.Do(func() {
		cfg := wazero.NewRuntimeConfig().
			WithMemoryLimitPages(pages).
			WithCoreFeatures(api.CoreFeaturesV2)
		if cacheDir != "" {
			cache, err := wazero.NewCompilationCacheWithDir(cacheDir)
			if err != nil {
				runtimeState.err = fmt.Errorf("wasm compilation cache %s: %w", cacheDir, err)
				return
			}
			cfg = cfg.WithCompilationCache(cache)
		}
		sqlite3.RuntimeConfig = cfg
		runtimeState.memoryPages = pages
		runtimeState.cacheDir = cacheDir
		runtimeState.err = sqlite3.Initialize()
	})
	if runtimeState.err != nil {
		return runtimeState.err
	}
	if runtimeState.memoryPages != pages {
		return fmt.Errorf("wasm memory limit %d pages: the process runtime was already started with %d",
			pages, runtimeState.memoryPages)
	}
	// A different cache directory only matters at compile time, which has
	// happened: the later engine simply shares the compiled module.
	return nil
}
