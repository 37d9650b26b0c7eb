package functions

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/praetorian/db-forge/forge"
)

// The ABI's names (docs/FUNCTIONS.md).
const (
	hostModule = "forge"
	wasiModule = wasi_snapshot_preview1.ModuleName
	entryPoint = "forge_handle"
)

const pageSize = 64 << 10

// runtime is the functions' own wazero runtime: WASI preview 1 with no
// file system, no sockets, no environment and no arguments (clock and
// random as WASI gives them), the host module "forge", a memory cap per
// instance, and modules closed when their call's context ends.
type runtime struct {
	rt        wazero.Runtime
	cache     wazero.CompilationCache
	limit     uint32 // memory pages per instance
	recycle   uint32 // pages past which an instance is not pooled again
	allowed   map[string]map[string]api.FunctionDefinition
	moduleCfg wazero.ModuleConfig
}

func newRuntime(cfg Config) (*runtime, error) {
	ctx := context.Background()
	r := &runtime{limit: uint32(cfg.MemoryLimitBytes / pageSize), recycle: uint32(cfg.RecycleBytes / pageSize)}
	rc := wazero.NewRuntimeConfig().
		WithMemoryLimitPages(r.limit).
		WithCloseOnContextDone(true).
		WithCoreFeatures(api.CoreFeaturesV2)
	if cfg.CacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("functions compilation cache %s: %w", cfg.CacheDir, err)
		}
		r.cache = cache
		rc = rc.WithCompilationCache(cache)
	}
	r.rt = wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r.rt); err != nil {
		return nil, err
	}
	if err := instantiateHost(ctx, r.rt); err != nil {
		return nil, err
	}
	r.allowed = map[string]map[string]api.FunctionDefinition{}
	for _, m := range []string{wasiModule, hostModule} {
		r.allowed[m] = r.rt.Module(m).ExportedFunctionDefinitions()
	}
	// No clock or random of wazero's fakes: the system's. No nanosleep
	// (a sleep returns at once: a sleeping module only spins until its
	// deadline, which closes it).
	r.moduleCfg = wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions("_initialize").
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(rand.Reader)
	return r, nil
}

func (r *runtime) close(ctx context.Context) error {
	err := r.rt.Close(ctx)
	if r.cache != nil {
		err = errors.Join(err, r.cache.Close(ctx))
	}
	return err
}

func invalid(format string, args ...any) error {
	return fnError(400, forge.CodeFunctionInvalid, format, args...)
}

// compile compiles module and checks it against the ABI: every import
// one the host offers, with its type; the entry point exported with its
// type; a memory exported; no command (_start).
func (r *runtime) compile(ctx context.Context, module []byte) (wazero.CompiledModule, []string, error) {
	if len(module) < 8 || string(module[:4]) != "\x00asm" {
		return nil, nil, invalid("The body is not a WebAssembly module (it must start with \\0asm).")
	}
	cm, err := r.rt.CompileModule(ctx, module)
	if err != nil {
		msg := firstLine(err.Error())
		if strings.Contains(msg, "over limit") {
			return nil, nil, fnError(400, forge.CodeFunctionMemoryLimit,
				"The module asks for more memory than an instance may use (FORGE_FUNCTION_MEMORY_MB): %s", msg)
		}
		return nil, nil, invalid("The module does not compile: %s", msg)
	}
	if err := r.check(cm); err != nil {
		_ = cm.Close(ctx)
		return nil, nil, err
	}
	exports := make([]string, 0, len(cm.ExportedFunctions()))
	for name := range cm.ExportedFunctions() {
		exports = append(exports, name)
	}
	sort.Strings(exports)
	return cm, exports, nil
}

func (r *runtime) check(cm wazero.CompiledModule) error {
	for _, def := range cm.ImportedFunctions() {
		mod, name, _ := def.Import()
		host, ok := r.allowed[mod][name]
		if !ok {
			return invalid("The module imports %s.%s, which the host does not offer (only the WASI preview 1 functions and forge's: docs/FUNCTIONS.md).", mod, name)
		}
		if !sameTypes(def.ParamTypes(), host.ParamTypes()) || !sameTypes(def.ResultTypes(), host.ResultTypes()) {
			return invalid("The module imports %s.%s with the wrong type.", mod, name)
		}
	}
	for _, m := range cm.ImportedMemories() {
		mod, name, _ := m.Import()
		return invalid("The module imports a memory (%s.%s); it must define and export its own.", mod, name)
	}
	fns := cm.ExportedFunctions()
	if _, ok := fns["_start"]; ok {
		return invalid("The module is a command (it exports _start); build it as a reactor (Go: -buildmode=c-shared) that exports %s.", entryPoint)
	}
	h, ok := fns[entryPoint]
	if !ok {
		return invalid("The module does not export %s, the entry point (docs/FUNCTIONS.md).", entryPoint)
	}
	if len(h.ParamTypes()) != 0 || !sameTypes(h.ResultTypes(), []api.ValueType{api.ValueTypeI32}) {
		return invalid("The module's %s must take nothing and return an i32 (the status).", entryPoint)
	}
	if _, ok := cm.ExportedMemories()["memory"]; !ok {
		return invalid("The module does not export its memory as \"memory\".")
	}
	for _, m := range cm.ExportedMemories() {
		if m.Min() > r.limit {
			return fnError(400, forge.CodeFunctionMemoryLimit,
				"The module asks for %d pages of memory at start; at most %d are allowed (FORGE_FUNCTION_MEMORY_MB).", m.Min(), r.limit)
		}
	}
	return nil
}

func sameTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

// function is one deployed function in memory: its compiled module and
// its pool of warm instances (its own database's only).
type function struct {
	s        *Service
	db, name string
	info     forge.FunctionInfo
	compiled wazero.CompiledModule
	// usesSQL: the module imports forge.query (or query_row), so its calls run inside a
	// unit of work; one that does not runs none.
	usesSQL bool
	// writes: a call of it wrote (its calls run in write units since).
	writes atomic.Bool

	mu      sync.Mutex
	idle    []*instance
	out     int  // instances in a call
	retired bool // replaced, deleted or forgotten: close what comes back
}

func newFunction(s *Service, db, name string, cm wazero.CompiledModule) *function {
	f := &function{s: s, db: db, name: name, compiled: cm}
	for _, def := range cm.ImportedFunctions() {
		if mod, name, _ := def.Import(); mod == hostModule && (name == "query" || name == "query_row") {
			f.usesSQL = true
		}
	}
	return f
}

// instance is a warm instance of a function's module.
type instance struct {
	mod    api.Module
	mem    api.Memory
	handle api.Function
	out    *instanceOut
}

// instanceOut receives what the module writes to its standard output
// and error (a Go panic's message): the current call's log.
type instanceOut struct{ inv *invocation }

func (o *instanceOut) Write(p []byte) (int, error) {
	if o.inv != nil {
		o.inv.stderr(p)
	}
	return len(p), nil
}

// get takes a warm instance or makes one.
func (f *function) get(ctx context.Context) (*instance, error) {
	f.mu.Lock()
	if n := len(f.idle); n > 0 {
		in := f.idle[n-1]
		f.idle = f.idle[:n-1]
		f.out++
		f.mu.Unlock()
		return in, nil
	}
	f.out++
	f.mu.Unlock()
	in, err := f.instantiate(ctx)
	if err != nil {
		f.done(nil)
	}
	return in, err
}

// instantiate makes a new instance (its _initialize runs under ctx).
func (f *function) instantiate(ctx context.Context) (*instance, error) {
	out := &instanceOut{inv: &invocation{s: f.s, f: f}}
	cfg := f.s.rt.moduleCfg.WithStdout(out).WithStderr(out)
	mod, err := f.s.rt.rt.InstantiateModule(ctx, f.compiled, cfg)
	if err != nil {
		return nil, classify(ctx, err, out.inv, nil, f.s.rt.limit)
	}
	in := &instance{mod: mod, mem: mod.Memory(), handle: mod.ExportedFunction(entryPoint), out: out}
	if in.mem == nil || in.handle == nil {
		_ = mod.Close(ctx)
		return nil, invalid("The module exports no memory or no %s.", entryPoint)
	}
	out.inv = nil
	return in, nil
}

// put gives an instance back to the pool (a new one: not counted out).
func (f *function) put(in *instance) {
	f.mu.Lock()
	f.out++
	f.mu.Unlock()
	f.done(in)
}

// done ends a call of an instance: back to the pool if it is healthy
// (nil: it was discarded), else closed.
func (f *function) done(in *instance) {
	f.mu.Lock()
	f.out--
	keep := in != nil && !f.retired && len(f.idle) < f.s.cfg.MaxIdle &&
		in.mem.Size()/pageSize <= f.s.rt.recycle
	if keep {
		f.idle = append(f.idle, in)
	}
	closeCompiled := f.retired && f.out == 0
	f.mu.Unlock()
	if in != nil && !keep {
		_ = in.mod.Close(context.Background())
	}
	if closeCompiled {
		_ = f.compiled.Close(context.Background())
	}
}

// retire closes the idle instances, and the compiled module once no
// call holds an instance.
func (f *function) retire() {
	f.mu.Lock()
	if f.retired {
		f.mu.Unlock()
		return
	}
	f.retired = true
	idle := f.idle
	f.idle = nil
	closeCompiled := f.out == 0
	f.mu.Unlock()
	for _, in := range idle {
		_ = in.mod.Close(context.Background())
	}
	if closeCompiled {
		_ = f.compiled.Close(context.Background())
	}
}

// classify turns what a call (or an instantiation) of the module ended
// with into a *forge.FunctionError: the deadline, the memory cap, a
// fault the host recorded, or a trap or exit with its message.
func classify(ctx context.Context, err error, inv *invocation, mem api.Memory, limit uint32) error {
	if inv != nil && inv.fault != nil {
		return inv.fault
	}
	var ee *sys.ExitError
	if errors.As(err, &ee) {
		switch ee.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			return timeoutError()
		case sys.ExitCodeContextCanceled:
			return fmt.Errorf("function call: %w", forge.ErrCanceled)
		}
	}
	if ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return timeoutError()
		}
		return fmt.Errorf("function call: %w", forge.ErrCanceled)
	}
	msg := firstLine(err.Error())
	if ee != nil {
		msg = fmt.Sprintf("the module exited with code %d", ee.ExitCode())
	}
	if inv != nil && len(inv.errTail) > 0 {
		msg += ": " + strings.TrimSpace(string(inv.errTail))
	}
	// A module that hit the memory cap traps or exits soon after (Go:
	// "out of memory"): its memory is then within one growth of the cap.
	if (mem != nil && mem.Size()/pageSize+min(64, limit/8) >= limit) || strings.Contains(msg, "out of memory") ||
		strings.Contains(msg, "memory limit") {
		return fnError(400, forge.CodeFunctionMemoryLimit,
			"The function needed more memory than an instance may use (FORGE_FUNCTION_MEMORY_MB); nothing of it was committed (%s).", msg)
	}
	return fnError(500, forge.CodeFunctionTrapped, "The function trapped; nothing of it was committed: %s", msg)
}

func timeoutError() error {
	return fnError(504, forge.CodeFunctionTimeout,
		"The function exceeded its time limit (X-Query-Timeout, FORGE_FUNCTION_TIMEOUT) and was stopped; nothing of it was committed.")
}
