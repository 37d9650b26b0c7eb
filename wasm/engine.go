// Package wasm is the SQL engine: SQLite compiled to WebAssembly, run by
// wazero inside the gateway's process through ncruces/go-sqlite3. Every
// connection is its own wasm instance bound to one database file, so a
// runaway or crashing statement cannot touch another database's memory.
//
// Each open database has one writer connection and a small, lazily grown
// pool of readers (WAL mode). Open databases are bounded by an LRU; an
// evicted database closes once its last request is done and reopens on its
// next one. No type of ncruces/go-sqlite3 or wazero leaves this package.
package wasm

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/praetorian/db-forge/forge"
)

// Config holds the engine's knobs. Zero values take the defaults below.
type Config struct {
	MaxOpen      int           // open databases kept (LRU); default 1024
	MaxReaders   int           // reader connections per database; default 2
	Synchronous  string        // "NORMAL" (default) or "FULL"
	BusyTimeout  time.Duration // wait on a locked database; default 5s
	StmtCache    int           // prepared statements cached per connection; default 128
	QueryTimeout time.Duration // deadline of a request whose context has none; default 5s
	// MaxQueryTimeout caps a deadline the caller's context sets (a
	// per-request override); default 30s, never below QueryTimeout.
	MaxQueryTimeout time.Duration
	MemoryLimit     int64  // bytes of linear memory per wasm instance; default 256 MiB
	CacheDir        string // wazero compilation cache; "" compiles at every start
	// SQLFunctions, when set, lists the scalar functions every connection
	// of a database offers besides SQLite's (deployed functions
	// registered as SQL functions: sqlfunc.go); asked at each open.
	SQLFunctions func(db string) []SQLFunction

	// HeapLimit is SQLite's hard heap limit in each connection's instance
	// (sqlite3_hard_heap_limit64; every instance has its own SQLite). A
	// statement that needs more fails with forge.ErrOutOfMemory and its
	// instance is replaced. Default 64 MiB.
	HeapLimit int64
	// RecycleBytes: wasm memory never shrinks, so an instance whose linear
	// memory grew past this is closed after its request (and reopened on
	// demand) instead of going back to the pool. Default 32 MiB; negative
	// keeps every instance.
	RecycleBytes int64
	// PageCache bounds SQLite's page cache in each connection (PRAGMA
	// cache_size, in bytes, rounded down to KiB). The cache is what an
	// instance's linear memory mostly holds, and that memory never shrinks,
	// so this is what bounds an instance's memory under load (see
	// docs/OPERATIONS.md#memory). Default 512 KiB; negative keeps SQLite's
	// own (2,000 KiB).
	PageCache int64
	// MaxDBBytes is each database's size quota, applied as max_page_count
	// on every connection; a write past it fails with forge.ErrDatabaseFull.
	// Default 1 GiB.
	MaxDBBytes int64
	// Limits are SQLite's run-time limits on every connection.
	Limits Limits

	// ReaderIdle closes a reader connection unused this long (a database
	// keeps its writer, which serves reads while it is idle); default 30s,
	// negative never. DBIdle closes a whole database unused this long,
	// before the LRU would; default 10m, negative never. Memory then
	// follows the databases in use, not the LRU's bound.
	ReaderIdle time.Duration
	DBIdle     time.Duration

	// OnDiskFull is called when a statement that only deletes rows or
	// drops objects fails because the volume is full; if it reports that
	// it made room (it released reserved space), the statement runs once
	// more, so that deleting data is possible on a full volume.
	OnDiskFull func() bool

	// MaxWriteBatch bounds the write statements that share one
	// transaction when they queue for a database's writer (group commit,
	// groupcommit.go); default 64, 1 runs every statement in its own.
	MaxWriteBatch int

	// Audit, when set, records the statements of clients (audit.go).
	Audit Auditor
}

// Limits are SQLite's per-connection limits (sqlite3_limit). Zero values
// take the defaults of DefaultLimits. ATTACHED is always 0.
type Limits struct {
	Length            int // bytes in a string, blob or row
	SQLLength         int // bytes of SQL text in one statement
	Column            int // columns in a table, index, view, result or ORDER BY
	ExprDepth         int // depth of an expression tree; also caps parenthesis nesting
	CompoundSelect    int // terms of a compound SELECT (UNION, ...)
	VDBEOp            int // instructions of one prepared statement
	LikePatternLength int // bytes of a LIKE or GLOB pattern
	VariableNumber    int // highest parameter number
	TriggerDepth      int // nesting of trigger programs
}

// DefaultLimits are the limits the engine applies unless told otherwise.
// EXPR_DEPTH and COMPOUND_SELECT stay well below the depths (about 300
// and 250) at which SQLite's recursion overflows the wasm instance's stack.
func DefaultLimits() Limits {
	return Limits{
		Length:            4 << 20,
		SQLLength:         100_000,
		Column:            2000,
		ExprDepth:         100,
		CompoundSelect:    100,
		VDBEOp:            250_000,
		LikePatternLength: 10_000,
		VariableNumber:    10_000,
		TriggerDepth:      32,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	for _, p := range []struct{ v, def *int }{
		{&l.Length, &d.Length}, {&l.SQLLength, &d.SQLLength}, {&l.Column, &d.Column},
		{&l.ExprDepth, &d.ExprDepth}, {&l.CompoundSelect, &d.CompoundSelect}, {&l.VDBEOp, &d.VDBEOp},
		{&l.LikePatternLength, &d.LikePatternLength}, {&l.VariableNumber, &d.VariableNumber},
		{&l.TriggerDepth, &d.TriggerDepth},
	} {
		if *p.v <= 0 {
			*p.v = *p.def
		}
	}
	return l
}

// DefaultConfig is the engine's configuration when nothing is set: what
// New takes for a zero field. The settings table (package config) starts
// from the same values; a test in internal/app keeps the two equal.
func DefaultConfig() Config {
	return Config{
		MaxOpen:         1024,
		MaxReaders:      2,
		Synchronous:     "NORMAL",
		BusyTimeout:     5 * time.Second,
		StmtCache:       128,
		QueryTimeout:    5 * time.Second,
		MaxQueryTimeout: 30 * time.Second,
		MemoryLimit:     256 << 20,
		HeapLimit:       64 << 20,
		RecycleBytes:    32 << 20,
		PageCache:       512 << 10,
		MaxDBBytes:      1 << 30,
		Limits:          DefaultLimits(),
		ReaderIdle:      30 * time.Second,
		DBIdle:          10 * time.Minute,
		MaxWriteBatch:   64,
	}
}

// Validate reports a configuration New refuses.
func (c Config) Validate() error {
	switch c.Synchronous {
	case "", "NORMAL", "FULL":
		return nil
	}
	return fmt.Errorf("synchronous %q: want NORMAL or FULL", c.Synchronous)
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxOpen <= 0 {
		c.MaxOpen = d.MaxOpen
	}
	if c.MaxWriteBatch <= 0 {
		c.MaxWriteBatch = d.MaxWriteBatch
	}
	if c.MaxReaders < 0 {
		c.MaxReaders = 0
	} else if c.MaxReaders == 0 {
		c.MaxReaders = d.MaxReaders
	}
	if c.Synchronous == "" {
		c.Synchronous = d.Synchronous
	}
	if c.BusyTimeout <= 0 {
		c.BusyTimeout = d.BusyTimeout
	}
	if c.StmtCache <= 0 {
		c.StmtCache = d.StmtCache
	}
	if c.PageCache == 0 {
		c.PageCache = d.PageCache
	}
	if c.ReaderIdle == 0 {
		c.ReaderIdle = d.ReaderIdle
	}
	if c.DBIdle == 0 {
		c.DBIdle = d.DBIdle
	}
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = d.QueryTimeout
	}
	if c.MaxQueryTimeout <= 0 {
		c.MaxQueryTimeout = d.MaxQueryTimeout
	}
	c.MaxQueryTimeout = max(c.MaxQueryTimeout, c.QueryTimeout)
	if c.MemoryLimit <= 0 {
		c.MemoryLimit = d.MemoryLimit
	}
	if c.HeapLimit <= 0 {
		c.HeapLimit = d.HeapLimit
	}
	if c.RecycleBytes == 0 {
		c.RecycleBytes = d.RecycleBytes
	}
	if c.MaxDBBytes <= 0 {
		c.MaxDBBytes = d.MaxDBBytes
	}
	c.Limits = c.Limits.withDefaults()
	return c
}

// Resolver maps a database name to the path of its file. It returns an
// error wrapping forge.ErrDatabaseNotFound when there is no such database.
type Resolver func(name string) (path string, err error)

// Engine runs SQL against the databases its Resolver knows.
type Engine struct {
	cfg     Config
	resolve Resolver
	log     *zap.Logger

	mu     sync.Mutex
	dbs    map[string]*database
	lru    list.List                // of *database; front = most recently used
	gates  map[string]chan struct{} // names held by Exclusive
	closed bool

	dmu     sync.Mutex
	damaged map[string]forge.Damage // databases found damaged (damage.go)

	writes    writeHints // SQL texts known to write
	groupable writeHints // SQL texts known to be plain DML (groupcommit.go)

	// draining: databases out of the map whose connections are not closed
	// yet (still held by a request, or being closed). Exclusive and Close
	// wait for them: their connections are open on the file. Guarded by mu.
	draining map[*database]struct{}

	opened   atomic.Int64 // databases opened since start (for stats and tests)
	evicted  atomic.Int64
	faults   atomic.Int64 // instances discarded after a trap or out-of-memory
	recycled atomic.Int64 // instances closed because their memory grew
	idled    atomic.Int64 // databases closed because nobody used them
	groups   atomic.Int64 // group commits: transactions of two or more queued writes
	grouped  atomic.Int64 // writes run in them
	redone   atomic.Int64 // writes of a lost group run again alone
	// takeovers: writes that found the writer lent to a read and opened
	// a new one instead of waiting.
	takeovers atomic.Int64

	corruptions atomic.Int64 // databases found damaged
	released    atomic.Int64 // deleting statements retried after OnDiskFull made room

	stop chan struct{} // ends the janitor

	sessions map[*Session]struct{} // open sessions (session.go); guarded by mu
}

// New starts the process's wasm runtime if needed (compiling SQLite, or
// loading it from the cache) and returns an engine.
func New(cfg Config, resolve Resolver, log *zap.Logger) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = zap.NewNop()
	}
	start := time.Now()
	if err := initRuntime(cfg.MemoryLimit, cfg.CacheDir); err != nil {
		return nil, err
	}
	log.Debug("wasm runtime ready", zap.Duration("took", time.Since(start)))
	e := &Engine{
		cfg:      cfg,
		resolve:  resolve,
		log:      log,
		dbs:      make(map[string]*database),
		gates:    make(map[string]chan struct{}),
		draining: make(map[*database]struct{}),
		damaged:  make(map[string]forge.Damage),
		stop:     make(chan struct{}),
	}
	if period := sweepPeriod(cfg); period > 0 {
		go e.janitor(period, e.stop)
	}
	return e, nil
}

// sweepPeriod is how often the janitor looks: a quarter of the shorter
// idle time, between 1 and 30 seconds; 0 when nothing ever idles out.
func sweepPeriod(cfg Config) time.Duration {
	var shortest time.Duration
	for _, d := range []time.Duration{cfg.ReaderIdle, cfg.DBIdle} {
		if d > 0 && (shortest == 0 || d < shortest) {
			shortest = d
		}
	}
	if shortest == 0 {
		return 0
	}
	return min(max(shortest/4, time.Second), 30*time.Second)
}

// database is one open database file and its connections.
type database struct {
	name string
	path string
	e    *Engine
	elem *list.Element
	aud  *dbAudit // the audit log of its connections, nil: none

	ready chan struct{} // closed once the writer is open (or failed)
	err   error         // why opening failed; read after ready

	refs    int           // requests holding it; guarded by e.mu
	used    time.Time     // when the last request let go; guarded by e.mu
	evicted bool          // out of the map; close when refs drops to 0
	drained chan struct{} // closed when an evicted database is closed

	// wq owns the writer: its connection, who holds its role and who
	// waits for it (writer.go).
	wq       *writerQueue
	idle     chan *conn // idle readers
	nreaders atomic.Int32
}

// Stats reports what the engine holds.
type Stats struct {
	Open     int   // databases open now
	Opened   int64 // databases opened since start
	Evicted  int64 // databases closed by the LRU since start
	Faults   int64 // wasm instances discarded after a trap or out-of-memory
	Recycled int64 // wasm instances closed because their memory grew past RecycleBytes
	Idled    int64 // databases closed because nobody used them for DBIdle

	// Group commit (groupcommit.go); the names predate the word "group".
	WriteBatches  int64 // transactions that committed two or more queued writes at once
	BatchedWrites int64 // write statements run in such a transaction
	RedoneWrites  int64 // statements of a group whose transaction was lost, run again alone

	// WriterTakeovers: writes that found the writer held by a read and
	// opened a new writer rather than wait for the read to end.
	WriterTakeovers int64

	Corruptions  int64 // databases found damaged since start
	RoomReleased int64 // deleting statements run again after OnDiskFull made room
}

// Stats returns a snapshot of the engine's counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	n := len(e.dbs)
	e.mu.Unlock()
	return Stats{Open: n, Opened: e.opened.Load(), Evicted: e.evicted.Load(),
		Faults: e.faults.Load(), Recycled: e.recycled.Load(), Idled: e.idled.Load(),
		WriteBatches: e.groups.Load(), BatchedWrites: e.grouped.Load(), RedoneWrites: e.redone.Load(),
		Corruptions: e.corruptions.Load(), RoomReleased: e.released.Load(), WriterTakeovers: e.takeovers.Load()}
}

// Check reports whether the engine takes work.
func (e *Engine) Check(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return forge.ErrClosed
	}
	return nil
}

// acquire returns the open database for name, opening it if needed, and
// holds it until release. It waits, within ctx, for an Exclusive on name.
func (e *Engine) acquire(ctx context.Context, name string) (*database, error) {
	for {
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			return nil, forge.ErrClosed
		}
		if gate, ok := e.gates[name]; ok {
			e.mu.Unlock()
			expired, stop := waitTimer(ctx)
			select {
			case <-gate:
				stop()
				continue
			case <-ctx.Done():
			case <-expired:
			}
			stop()
			return nil, ctxErr(ctx)
		}
		db, ok := e.dbs[name]
		if ok {
			db.refs++
			e.lru.MoveToFront(db.elem)
			e.mu.Unlock()
			if err := waitReady(ctx, db.ready); err != nil {
				e.release(db)
				return nil, err
			}
			if db.err != nil {
				e.release(db)
				return nil, db.err
			}
			return db, nil
		}
		db = &database{
			name:  name,
			e:     e,
			aud:   e.audit(name),
			ready: make(chan struct{}),
			refs:  1,
			wq:    newWriterQueue(),
			idle:  make(chan *conn, e.cfg.MaxReaders),
		}
		db.elem = e.lru.PushFront(db)
		e.dbs[name] = db
		victims := e.evictLocked()
		e.mu.Unlock()
		for _, v := range victims {
			v.closeConns()
		}
		db.open()
		if db.err != nil {
			e.mu.Lock()
			if e.dbs[name] == db {
				e.detachLocked(db)
			}
			e.mu.Unlock()
			e.release(db)
			return nil, db.err
		}
		return db, nil
	}
}

// open resolves the file and opens the writer; waiters see the outcome
// when ready closes.
func (db *database) open() {
	defer close(db.ready)
	path, err := db.e.resolve(db.name)
	if err != nil {
		db.err = err
		return
	}
	db.path = path
	w, err := db.openConn(true)
	if err != nil {
		db.err = err
		return
	}
	db.e.opened.Add(1)
	db.wq.putIdle(w)
}

// dbConnOptions are connOptions for a connection of database name,
// with its SQL functions.
func (e *Engine) dbConnOptions(name string, writer bool) connOptions {
	o := e.connOptions(writer)
	if e.cfg.SQLFunctions != nil {
		o.funcs = e.cfg.SQLFunctions(name)
	}
	return o
}

func (e *Engine) connOptions(writer bool) connOptions {
	return connOptions{
		writer:      writer,
		synchronous: e.cfg.Synchronous,
		busyTimeout: e.cfg.BusyTimeout,
		maxStmt:     e.cfg.StmtCache,
		pageCacheKB: e.cfg.PageCache >> 10,
		heapLimit:   e.cfg.HeapLimit,
		maxDBBytes:  e.cfg.MaxDBBytes,
		limits:      e.cfg.Limits,
	}
}

// evictLocked takes least recently used databases out of the map until it
// is within bounds. Those nobody holds are returned for the caller to close
// outside the lock; the others close when their last holder releases them.
func (e *Engine) evictLocked() (victims []*database) {
	for el := e.lru.Back(); el != nil && len(e.dbs) > e.cfg.MaxOpen; {
		prev := el.Prev()
		db := el.Value.(*database)
		e.detachLocked(db)
		e.evicted.Add(1)
		if db.refs == 0 {
			victims = append(victims, db)
		}
		el = prev
	}
	return victims
}

// detachLocked takes db out of the map and the LRU; it closes when its last
// holder lets go. Until then it is draining.
func (e *Engine) detachLocked(db *database) {
	e.lru.Remove(db.elem)
	delete(e.dbs, db.name)
	db.evicted = true
	db.drained = make(chan struct{})
	e.draining[db] = struct{}{}
}

// release drops a hold taken by acquire.
func (e *Engine) release(db *database) {
	e.mu.Lock()
	db.refs--
	if db.refs == 0 {
		db.used = time.Now()
	}
	last := db.refs == 0 && db.evicted
	e.mu.Unlock()
	if last {
		db.closeConns()
	}
}

// closeConns closes every connection of a database nobody holds any more.
// Holders include the opener, so a database nobody holds is past ready.
func (db *database) closeConns() {
	if db.err == nil {
		db.wq.closeIdle()
		for db.nreaders.Load() > 0 {
			(<-db.idle).close()
			db.nreaders.Add(-1)
		}
	}
	db.e.mu.Lock()
	delete(db.e.draining, db)
	db.e.mu.Unlock()
	close(db.drained)
}

// Exclusive runs fn while no connection to name is open and none can be
// opened: the gateway deletes a database's files this way. It waits, within
// ctx, for requests already running on name to finish, including those on
// an instance of name the LRU evicted while they ran.
func (e *Engine) Exclusive(ctx context.Context, name string, fn func() error) error {
	gate := make(chan struct{})
	e.mu.Lock()
	for {
		if e.closed {
			e.mu.Unlock()
			return forge.ErrClosed
		}
		other, busy := e.gates[name]
		if !busy {
			break
		}
		e.mu.Unlock()
		select {
		case <-other:
		case <-ctx.Done():
			return ctxErr(ctx)
		}
		e.mu.Lock()
	}
	e.gates[name] = gate
	var idle *database
	if db := e.dbs[name]; db != nil {
		e.detachLocked(db)
		if db.refs == 0 {
			idle = db
		}
	}
	// With the gate set no instance of name can open, so these are all.
	var waits []*database
	for d := range e.draining {
		if d.name == name {
			waits = append(waits, d)
		}
	}
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.gates, name)
		close(gate)
		e.mu.Unlock()
	}()
	if idle != nil {
		idle.closeConns()
	}
	for _, d := range waits {
		select {
		case <-d.drained:
		case <-ctx.Done():
			return ctxErr(ctx)
		}
	}
	if err := fn(); err != nil {
		return err
	}
	e.clearDamage(name) // its files are gone or replaced
	return nil
}

// Close stops taking work and closes every database once its requests are
// done (also those the LRU evicted while in use), waiting within ctx.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.stop)
	var idle []*database
	for _, db := range e.dbs {
		e.detachLocked(db)
		if db.refs == 0 {
			idle = append(idle, db)
		}
	}
	waits := make([]*database, 0, len(e.draining))
	for db := range e.draining {
		waits = append(waits, db)
	}
	e.mu.Unlock()
	for _, db := range idle {
		db.closeConns()
	}
	// Open sessions roll back (never an implicit commit) and let go of
	// their databases.
	if err := e.abortSessions(ctx); err != nil {
		return fmt.Errorf("close engine: roll back sessions: %w", err)
	}
	for _, db := range waits {
		select {
		case <-db.drained:
		case <-ctx.Done():
			busy := 0
			for _, d := range waits {
				select {
				case <-d.drained:
				default:
					busy++
				}
			}
			return fmt.Errorf("close engine: %d databases still busy: %w", busy, ctx.Err())
		}
	}
	return nil
}

// lease takes the writer's role for a write into l (writer.go), waiting
// in turn within ctx, with its connection ready. Release it with endLease.
func (db *database) lease(ctx context.Context, l *lease) error {
	if _, err := db.wq.acquire(ctx, nil, l); err != nil {
		return err
	}
	if err := db.readyWriter(l); err != nil {
		l.release(nil)
		return err
	}
	return nil
}

// openConn opens a connection to db's file (its path resolved).
func (db *database) openConn(writer bool) (*conn, error) {
	c, err := openConn(db.path, db.e.dbConnOptions(db.name, writer))
	if err == nil {
		c.aud = db.aud
	}
	return c, err
}

// readyWriter opens the writer for a holder that has the role but no
// connection: the last one was closed (a fault, recycling), or a read has
// it and a write must never wait for a read (a takeover).
func (db *database) readyWriter(l *lease) error {
	if l.tookOver {
		l.tookOver = false
		db.e.takeovers.Add(1)
	}
	if l.conn != nil {
		return nil
	}
	c, err := db.openConn(true)
	if err != nil {
		return err
	}
	l.conn = c
	return nil
}

// renewWriter replaces l's connection if it broke or grew (keep), and
// readies it.
func (db *database) renewWriter(l *lease) error {
	if l.conn != nil && !db.keep(l.conn) {
		l.conn = nil
	}
	return db.readyWriter(l)
}

// endLease gives the writer's role and its connection on (closed instead
// if it broke or grew: the next holder opens a new one).
func (db *database) endLease(l *lease) {
	c := l.conn
	if c != nil && !db.keep(c) {
		c = nil
	}
	l.release(c)
}

// waitReady waits, within ctx, for a database being opened by another
// request.
func waitReady(ctx context.Context, ready <-chan struct{}) error {
	select {
	case <-ready:
		return nil
	default:
	}
	expired, stop := waitTimer(ctx)
	defer stop()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
	case <-expired:
	}
	return ctxErr(ctx)
}

// readConn takes a connection for a statement that may only read: an idle
// reader, else the writer if it is idle, else a new reader while the pool is
// below its bound, else whichever of them comes back first. Databases used
// by one client at a time thus live on a single wasm instance.
func (db *database) readConn(ctx context.Context) (*conn, error) {
	select {
	case c := <-db.idle:
		return c, nil
	default:
	}
	if c, ok := db.wq.borrow(); ok {
		return db.lendWriter(c)
	}
	if int(db.nreaders.Add(1)) <= cap(db.idle) {
		c, err := db.openConn(false)
		if err == nil {
			return c, nil
		}
		db.nreaders.Add(-1)
		db.e.log.Warn("open reader failed; waiting for a pooled connection",
			zap.String("db", db.name), zap.Error(err))
	} else {
		db.nreaders.Add(-1)
	}
	expired, stop := waitTimer(ctx)
	defer stop()
	select {
	case c := <-db.idle:
		return c, nil
	case c := <-db.wq.idleWriter():
		return db.lendWriter(c)
	case <-ctx.Done():
	case <-expired:
	}
	return nil, ctxErr(ctx)
}

// lendWriter lends the writer c, just taken from the idle queue's slot,
// to a read. A nil c (the writer was closed) is opened anew; the loan is
// recorded before the open, so that a write arriving meanwhile takes the
// role over at once instead of waiting for it.
func (db *database) lendWriter(c *conn) (*conn, error) {
	if c != nil {
		db.wq.lend(c)
		return c, nil
	}
	hold := &conn{writer: true} // stands for the connection being opened
	db.wq.lend(hold)
	c, err := db.openConn(true)
	if err != nil {
		if !db.wq.giveBack(hold) {
			db.wq.putIdle(nil)
		}
		return nil, err
	}
	db.wq.replaceLent(hold, c)
	return c, nil
}

// put returns a connection a read used to its pool: a reader, or the
// writer it borrowed (a holder's writer goes back through endLease). A
// broken instance is closed, and so is one whose linear memory grew past
// RecycleBytes (keep). A closed writer leaves its slot empty, to be
// reopened by the next request that needs it, and a closed reader shrinks
// the pool, which regrows.
func (db *database) put(c *conn) {
	if c.writer {
		if !db.wq.giveBack(c) {
			if db.keep(c) {
				db.wq.putIdle(c)
			} else {
				db.wq.putIdle(nil)
			}
			return
		}
		// A write took over the writer's role while this read held the
		// connection: it is a reader now, if the pool has room.
		c.writer, c.demoted = false, false
		if int(db.nreaders.Add(1)) > cap(db.idle) {
			db.nreaders.Add(-1)
			c.close()
			return
		}
	}
	if db.keep(c) {
		c.used = time.Now()
		db.idle <- c
		return
	}
	db.nreaders.Add(-1)
}

// keep tells whether c may serve another request. A broken instance, or
// one whose linear memory grew past RecycleBytes (wasm memory never
// shrinks: closing is the only way to give it back), is counted, logged
// and closed.
func (db *database) keep(c *conn) bool {
	var grown int64
	if !c.broken && db.e.cfg.RecycleBytes > 0 {
		if n := memorySize(c.db); n > db.e.cfg.RecycleBytes {
			grown = n
		}
	}
	if !c.broken && grown == 0 {
		return true
	}
	if c.broken {
		db.e.faults.Add(1)
		db.e.log.Warn("wasm instance discarded after a fault", zap.String("db", db.name), zap.Bool("writer", c.writer))
	} else {
		db.e.recycled.Add(1)
		db.e.log.Debug("wasm instance recycled: its memory grew", zap.String("db", db.name),
			zap.Bool("writer", c.writer), zap.Int64("memory_bytes", grown))
	}
	c.close()
	return false
}

// ctxErr is why a wait for ctx ended. A wait's timer (waitTimer) can fire
// a moment before a context of the standard library marks its own
// deadline passed: that is a timeout too.
func ctxErr(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return forge.ErrTimeout
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return forge.ErrTimeout
	}
	return forge.ErrCanceled
}

// janitor closes what has gone idle, every period, until stop closes.
func (e *Engine) janitor(period time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			e.sweep(now)
		}
	}
}

// sweep closes readers idle past ReaderIdle and databases idle past DBIdle.
// It only takes connections out of their pools under the engine's lock
// (a database still in the map is not being closed by anyone else) and
// closes them after letting go of it.
func (e *Engine) sweep(now time.Time) {
	var readers []*conn
	var dbs []*database
	e.mu.Lock()
	for _, db := range e.dbs {
		select {
		case <-db.ready:
		default:
			continue // still opening
		}
		if e.cfg.DBIdle > 0 && db.refs == 0 && now.Sub(db.used) > e.cfg.DBIdle {
			e.detachLocked(db)
			e.idled.Add(1)
			dbs = append(dbs, db)
			continue
		}
		if e.cfg.ReaderIdle < 0 {
			continue
		}
		for range len(db.idle) {
			select {
			case c := <-db.idle:
				if now.Sub(c.used) > e.cfg.ReaderIdle {
					db.nreaders.Add(-1)
					readers = append(readers, c)
				} else {
					db.idle <- c // room: it just came out
				}
			default:
			}
		}
	}
	e.mu.Unlock()
	for _, c := range readers {
		c.close()
	}
	for _, db := range dbs {
		db.closeConns()
	}
}
