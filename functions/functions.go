// Package functions runs WebAssembly modules that clients deploy to a
// database (issue 16): deploys (compiled by a wazero runtime of its own,
// separate from SQLite's, with its own compilation cache; imports checked
// against what the host offers), warm instances pooled per database and
// function, the ABI's host module ("forge": the request, the answer, SQL
// on the function's own database, logging) and the limits of a call.
//
// A call's SQL runs in one unit of work of the engine, opened at the
// call's first statement (a function that runs none takes no
// transaction): a write unit, or a read unit for a read-only key,
// committed when the function returns a success and rolled back on its
// error, a trap or the deadline. The package knows the engine through
// the Engine interface it declares and the files through Files; it
// imports forge only of the project. wazero's types stop here.
//
// The ABI is docs/FUNCTIONS.md; the guest side for Go is functions/guest.
package functions

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/praetorian/db-forge/forge"
)

// Engine runs units of work on databases by name (package wasm's Engine).
type Engine interface {
	// Read runs fn on a snapshot of db; fn's statements may only read.
	Read(ctx context.Context, db string, fn func(forge.Tx) error) error
	// Write runs fn in one transaction on db's writer, committed if fn
	// returns nil and rolled back otherwise.
	Write(ctx context.Context, db string, fn func(forge.Tx) error) error
}

// Files is where a database's functions are kept (the volumes' layout).
type Files interface {
	// Dir is database db's directory, whether or not it exists.
	Dir(db string) (string, error)
	// Exists reports whether database db exists.
	Exists(db string) (bool, error)
}

// Config bounds deploys and calls. A zero field is its default.
type Config struct {
	// CacheDir holds wazero's compilation cache for functions ("" = none).
	CacheDir string
	// MaxModuleBytes caps a module's size (FORGE_FUNCTION_MAX_BYTES).
	MaxModuleBytes int
	// MemoryLimitBytes caps an instance's linear memory
	// (FORGE_FUNCTION_MEMORY_MB).
	MemoryLimitBytes int64
	// RecycleBytes: an instance whose memory grew past this is closed
	// after its call instead of going back to the pool.
	RecycleBytes int64
	// Timeout is a call's deadline when the request sets none
	// (FORGE_FUNCTION_TIMEOUT); MaxTimeout bounds any deadline.
	Timeout, MaxTimeout time.Duration
	// MaxOutputBytes caps a call's answer; MaxLogBytes the bytes it may
	// log (the rest is dropped); MaxSQLCalls the statements it may run.
	MaxOutputBytes, MaxLogBytes, MaxSQLCalls int
	// MaxResultBytes caps one statement's result handed to the module.
	MaxResultBytes int
	// MaxPerDB and MaxBytesPerDB bound a database's functions.
	MaxPerDB      int
	MaxBytesPerDB int64
	// MaxIdle is the number of warm instances kept per function.
	MaxIdle int
	// Refresh, when set, is called after a deploy or delete changed a
	// database's SQL functions: the engine closes the database's
	// connections, so that the next ones register them.
	Refresh func(ctx context.Context, db string) error
}

// Defaults of Config.
const (
	DefaultMaxModuleBytes = 8 << 20
	DefaultMemoryLimit    = 64 << 20
	DefaultRecycleBytes   = 32 << 20
	DefaultTimeout        = 5 * time.Second
	DefaultMaxTimeout     = 60 * time.Second
	DefaultMaxOutputBytes = 1 << 20
	DefaultMaxLogBytes    = 16 << 10
	DefaultMaxSQLCalls    = 1000
	DefaultMaxResultBytes = 4 << 20
	DefaultMaxPerDB       = 32
	DefaultMaxBytesPerDB  = 64 << 20
	DefaultMaxIdle        = 4
)

// DefaultConfig is the configuration of every zero field.
func DefaultConfig() Config {
	return Config{MaxModuleBytes: DefaultMaxModuleBytes, MemoryLimitBytes: DefaultMemoryLimit,
		RecycleBytes: DefaultRecycleBytes, Timeout: DefaultTimeout, MaxTimeout: DefaultMaxTimeout,
		MaxOutputBytes: DefaultMaxOutputBytes, MaxLogBytes: DefaultMaxLogBytes, MaxSQLCalls: DefaultMaxSQLCalls,
		MaxResultBytes: DefaultMaxResultBytes, MaxPerDB: DefaultMaxPerDB, MaxBytesPerDB: DefaultMaxBytesPerDB,
		MaxIdle: DefaultMaxIdle}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&c.MaxModuleBytes, d.MaxModuleBytes)
	set(&c.MaxOutputBytes, d.MaxOutputBytes)
	set(&c.MaxLogBytes, d.MaxLogBytes)
	set(&c.MaxSQLCalls, d.MaxSQLCalls)
	set(&c.MaxResultBytes, d.MaxResultBytes)
	set(&c.MaxPerDB, d.MaxPerDB)
	set(&c.MaxIdle, d.MaxIdle)
	if c.MemoryLimitBytes <= 0 {
		c.MemoryLimitBytes = d.MemoryLimitBytes
	}
	if c.RecycleBytes <= 0 {
		c.RecycleBytes = min(d.RecycleBytes, c.MemoryLimitBytes/2)
	}
	if c.MaxBytesPerDB <= 0 {
		c.MaxBytesPerDB = d.MaxBytesPerDB
	}
	if c.Timeout <= 0 {
		c.Timeout = d.Timeout
	}
	if c.MaxTimeout <= 0 {
		c.MaxTimeout = d.MaxTimeout
	}
	c.Timeout = min(c.Timeout, c.MaxTimeout)
	return c
}

// Validate checks a configuration.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.MemoryLimitBytes < 1<<20 || c.MemoryLimitBytes > 4<<30 {
		return fmt.Errorf("function memory limit %d bytes: must be between 1 MiB and 4 GiB", c.MemoryLimitBytes)
	}
	return nil
}

// Observer is told of every call (metrics): the function, the error
// code ("" for a success) and how long it took.
type Observer func(db, name, code string, d time.Duration)

// Service deploys and runs functions.
type Service struct {
	cfg   Config
	eng   Engine
	files Files
	log   *zap.Logger
	rt    *runtime
	locks forge.NameLocks // per database: deploys and deletes
	obs   Observer

	mu  sync.Mutex
	fns map[fnKey]*function // loaded functions; a miss loads from disk
}

type fnKey struct{ db, name string }

// New starts the functions' runtime.
func New(cfg Config, eng Engine, files Files, log *zap.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = zap.NewNop()
	}
	rt, err := newRuntime(cfg)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, eng: eng, files: files, log: log, rt: rt, fns: map[fnKey]*function{}}, nil
}

// Observe sets the observer of calls (before the first call).
func (s *Service) Observe(o Observer) { s.obs = o }

// Close closes every instance and the runtime.
func (s *Service) Close(ctx context.Context) error {
	s.mu.Lock()
	fns := s.fns
	s.fns = map[fnKey]*function{}
	s.mu.Unlock()
	for _, f := range fns {
		f.retire()
	}
	return s.rt.close(ctx)
}

// Forget drops what is held in memory of database db's functions (its
// file was replaced or removed: a delete, a restore); they load again
// from its directory at their next call.
func (s *Service) Forget(db string) {
	s.mu.Lock()
	var drop []*function
	for k, f := range s.fns {
		if k.db == db {
			drop = append(drop, f)
			delete(s.fns, k)
		}
	}
	s.mu.Unlock()
	for _, f := range drop {
		f.retire()
	}
}

// nameRule: a function's name is a lower-case identifier, so that it is
// also a file name and an SQL function's name.
var nameRule = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

func validName(name string) error {
	if !nameRule.MatchString(name) {
		return fnError(400, forge.CodeFunctionInvalid,
			"Invalid function name %q: a lower-case letter, then up to 62 lower-case letters, digits or underscores.", name)
	}
	return nil
}

func fnError(status int, code, format string, args ...any) *forge.FunctionError {
	return &forge.FunctionError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func notFound(name string) error {
	return fnError(404, forge.CodeFunctionNotFound, "Function %q not found in this database.", name)
}

// exists answers forge.ErrDatabaseNotFound for a database that is not.
func (s *Service) exists(db string) error {
	ok, err := s.files.Exists(db)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s: %w", db, forge.ErrDatabaseNotFound)
	}
	return nil
}

// Deploy compiles module, checks it, stores it as function name of
// database db (replacing one of that name) and makes it ready to call.
// created is false when it replaced one.
func (s *Service) Deploy(ctx context.Context, db, name string, module []byte, sqlFn *forge.SQLFunction) (forge.FunctionInfo, bool, error) {
	if err := forge.ValidateName(db); err != nil {
		return forge.FunctionInfo{}, false, err
	}
	if err := s.exists(db); err != nil {
		return forge.FunctionInfo{}, false, err
	}
	if err := validName(name); err != nil {
		return forge.FunctionInfo{}, false, err
	}
	if len(module) > s.cfg.MaxModuleBytes {
		return forge.FunctionInfo{}, false, fnError(400, forge.CodeFunctionInvalid,
			"The module is %d bytes; at most %d are allowed (FORGE_FUNCTION_MAX_BYTES).", len(module), s.cfg.MaxModuleBytes)
	}
	if sqlFn != nil {
		if err := validSQLFunction(sqlFn); err != nil {
			return forge.FunctionInfo{}, false, err
		}
	}
	compiled, exports, err := s.rt.compile(ctx, module)
	if err != nil {
		return forge.FunctionInfo{}, false, err
	}
	f := newFunction(s, db, name, compiled)
	f.info = forge.FunctionInfo{Name: name, Size: int64(len(module)), SHA256: sha(module),
		Created: time.Now().UTC().Truncate(time.Millisecond), Exports: exports, SQLFunction: sqlFn}
	// One instance now: its initialisation runs (bounded), and it is the
	// first warm one.
	ictx, cancel := s.callContext(ctx)
	inst, err := f.instantiate(ictx)
	cancel()
	if err != nil {
		f.retire()
		if fe := (*forge.FunctionError)(nil); errors.As(err, &fe) && fe.Code == forge.CodeFunctionTrapped {
			fe.Code, fe.Status = forge.CodeFunctionInvalid, 400
			fe.Message = "The module cannot be instantiated: " + fe.Message
		}
		return forge.FunctionInfo{}, false, err
	}
	f.put(inst)

	unlock, err := s.locks.Lock(ctx, db)
	if err != nil {
		f.retire()
		return forge.FunctionInfo{}, false, err
	}
	defer unlock()
	if sqlFn != nil {
		if err := s.checkSQLFunction(ctx, db, f, sqlFn); err != nil {
			f.retire()
			return forge.FunctionInfo{}, false, err
		}
	}
	old, _ := s.manifest(db, name)
	created, err := s.store(db, f.info, module)
	if err != nil {
		f.retire()
		return forge.FunctionInfo{}, false, err
	}
	s.swap(fnKey{db, name}, f)
	if sqlFn != nil || old.SQLFunction != nil {
		if err := s.refresh(ctx, db); err != nil {
			return f.info, created, err
		}
	}
	return f.info, created, nil
}

// swap puts f in the table in place of any function of its key.
func (s *Service) swap(k fnKey, f *function) {
	s.mu.Lock()
	old := s.fns[k]
	if f != nil {
		s.fns[k] = f
	} else {
		delete(s.fns, k)
	}
	s.mu.Unlock()
	if old != nil {
		old.retire()
	}
}

// List lists database db's functions.
func (s *Service) List(ctx context.Context, db string) ([]forge.FunctionInfo, error) {
	if err := forge.ValidateName(db); err != nil {
		return nil, err
	}
	if err := s.exists(db); err != nil {
		return nil, err
	}
	return s.manifests(db)
}

// Get describes function name of database db.
func (s *Service) Get(ctx context.Context, db, name string) (forge.FunctionInfo, error) {
	if err := forge.ValidateName(db); err != nil {
		return forge.FunctionInfo{}, err
	}
	if err := s.exists(db); err != nil {
		return forge.FunctionInfo{}, err
	}
	if err := validName(name); err != nil {
		return forge.FunctionInfo{}, notFound(name)
	}
	return s.manifest(db, name)
}

// Delete removes function name of database db.
func (s *Service) Delete(ctx context.Context, db, name string) error {
	if err := forge.ValidateName(db); err != nil {
		return err
	}
	if err := s.exists(db); err != nil {
		return err
	}
	if err := validName(name); err != nil {
		return notFound(name)
	}
	unlock, err := s.locks.Lock(ctx, db)
	if err != nil {
		return err
	}
	defer unlock()
	old, _ := s.manifest(db, name)
	if err := s.remove(db, name); err != nil {
		return err
	}
	s.swap(fnKey{db, name}, nil)
	if old.SQLFunction != nil {
		return s.refresh(ctx, db)
	}
	return nil
}

func (s *Service) refresh(ctx context.Context, db string) error {
	if s.cfg.Refresh == nil {
		return nil
	}
	return s.cfg.Refresh(ctx, db)
}

// lookup finds function name of db, loading it from disk on a miss.
func (s *Service) lookup(ctx context.Context, db, name string) (*function, error) {
	k := fnKey{db, name}
	s.mu.Lock()
	f := s.fns[k]
	s.mu.Unlock()
	if f != nil {
		return f, nil
	}
	if err := validName(name); err != nil {
		return nil, notFound(name)
	}
	info, module, err := s.read(db, name)
	if err != nil {
		return nil, err
	}
	compiled, _, err := s.rt.compile(ctx, module)
	if err != nil {
		return nil, err
	}
	f = newFunction(s, db, name, compiled)
	f.info = info
	s.mu.Lock()
	if cur := s.fns[k]; cur != nil { // loaded meanwhile
		s.mu.Unlock()
		f.retire()
		return cur, nil
	}
	s.fns[k] = f
	s.mu.Unlock()
	return f, nil
}

// callContext bounds a call: the request's deadline if it has one (at
// most MaxTimeout), else Timeout.
func (s *Service) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d := s.cfg.Timeout
	if dl, ok := ctx.Deadline(); ok {
		d = min(time.Until(dl), s.cfg.MaxTimeout)
	}
	return context.WithTimeout(ctx, d)
}
