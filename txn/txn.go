// Package txn keeps the interactive transactions: a write transaction a
// client opens with one request, joins with later ones (by its id) and
// ends with a commit or a rollback, held by the engine under a lease that
// every use renews. The engine holds the transaction (its Session); this
// package owns what is above it: unguessable ids, which key owns which
// transaction, the limits per database and per key, what became of a
// transaction that ended (so that a late use hears "expired" rather than
// "not found"), and the counters. It knows no HTTP and imports forge
// alone; it knows the engine through the Engine interface it declares.
package txn

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// CodeInvalidTimeout: a transaction asked for a lease longer than
// Config.MaxTimeout (or not positive).
const CodeInvalidTimeout = "INVALID_TRANSACTION_TIMEOUT"

// Engine opens transactions held across calls (package wasm's Engine,
// through the wiring).
type Engine interface {
	// Begin takes db's writer and begins a transaction whose lease lasts
	// ttl from now and from each use; onEnd hears once why it ended.
	Begin(ctx context.Context, db string, ttl time.Duration, onEnd func(error)) (Lease, error)
	// BeginRead begins a read-only transaction on a snapshot of db,
	// without the writer, under a lease as Begin's; its statements may
	// only read (forge.ErrReadOnlyTx).
	BeginRead(ctx context.Context, db string, ttl time.Duration, onEnd func(error)) (Lease, error)
}

// Lease is one open transaction in the engine (package wasm's *Session).
type Lease interface {
	// Do runs fn on the transaction and renews the lease.
	Do(ctx context.Context, fn func(forge.Tx) error) error
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
	// Expires is when the lease runs out unless a use renews it.
	Expires() time.Time
}

// Config bounds transactions. Zero fields take the defaults.
type Config struct {
	// DefaultTimeout is a transaction's lease when its client names none
	// (FORGE_TX_TIMEOUT); default 10 s.
	DefaultTimeout time.Duration
	// MaxTimeout is the longest lease a client may ask for
	// (FORGE_TX_MAX_TIMEOUT); default 300 s, never below DefaultTimeout.
	MaxTimeout time.Duration
	// MaxPerDB bounds the open transactions of one database
	// (FORGE_MAX_TX_PER_DB); default 1: SQLite has one writer, so a
	// second would only wait for the first.
	MaxPerDB int
	// MaxPerKey bounds the open transactions of one API key
	// (FORGE_MAX_TX_PER_KEY), read-only ones included; default 4.
	MaxPerKey int
	// MaxReadPerDB bounds the open read-only transactions of one
	// database, which MaxPerDB does not count (they do not hold the
	// writer): each holds one of the database's reader connections
	// (FORGE_READERS_PER_DB); default 2.
	MaxReadPerDB int
	// Remember is how long what became of an ended transaction is kept
	// for its client's late calls; default 10 min. At most MaxRemembered
	// (default 10,000) are kept; past that the oldest is forgotten and
	// its id answers "not found".
	Remember      time.Duration
	MaxRemembered int
}

// DefaultConfig is Config with every default.
func DefaultConfig() Config {
	return Config{DefaultTimeout: 10 * time.Second, MaxTimeout: 300 * time.Second, MaxPerDB: 1, MaxPerKey: 4,
		MaxReadPerDB: 2, Remember: 10 * time.Minute, MaxRemembered: 10_000}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.DefaultTimeout <= 0 {
		c.DefaultTimeout = d.DefaultTimeout
	}
	if c.MaxTimeout <= 0 {
		c.MaxTimeout = d.MaxTimeout
	}
	c.MaxTimeout = max(c.MaxTimeout, c.DefaultTimeout)
	if c.MaxPerDB <= 0 {
		c.MaxPerDB = d.MaxPerDB
	}
	if c.MaxPerKey <= 0 {
		c.MaxPerKey = d.MaxPerKey
	}
	if c.MaxReadPerDB <= 0 {
		c.MaxReadPerDB = d.MaxReadPerDB
	}
	if c.Remember <= 0 {
		c.Remember = d.Remember
	}
	if c.MaxRemembered <= 0 {
		c.MaxRemembered = d.MaxRemembered
	}
	return c
}

// Registry is the process's open transactions.
type Registry struct {
	e   Engine
	cfg Config

	mu     sync.Mutex
	open   map[string]*entry
	perDB  map[string]int // write transactions
	readDB map[string]int // read-only transactions
	perKey map[string]int
	ended  map[string]tomb
	order  []string // ended ids, oldest first
	stats  Stats
}

// entry is an open transaction; lease is nil while it is being begun.
type entry struct {
	db, owner string
	readOnly  bool
	lease     Lease
}

// tomb is what became of an ended transaction.
type tomb struct {
	db, owner string
	why       error
	at        time.Time
}

// Stats counts transactions.
type Stats struct {
	Open       int   // open now
	Committed  int64 // committed since start
	RolledBack int64 // rolled back since start: by their client, by a failed statement, at shutdown
	Expired    int64 // rolled back because their lease ran out
}

// New returns a registry over e.
func New(e Engine, cfg Config) *Registry {
	return &Registry{e: e, cfg: cfg.withDefaults(), open: make(map[string]*entry),
		perDB: make(map[string]int), readDB: make(map[string]int), perKey: make(map[string]int), ended: make(map[string]tomb)}
}

// Stats returns the counters.
func (r *Registry) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Open = len(r.open)
	return s
}

// Begin opens a transaction on db for owner (the key's id) with a lease
// of timeout (0: Config.DefaultTimeout), waiting within ctx for the
// database's writer — or, readOnly, a read-only transaction on a snapshot,
// which does not take the writer. It returns the transaction's id and
// when its lease runs out.
func (r *Registry) Begin(ctx context.Context, db, owner string, timeout time.Duration, readOnly bool) (id string, expires time.Time, err error) {
	if timeout == 0 {
		timeout = r.cfg.DefaultTimeout
	}
	if timeout < 0 || timeout > r.cfg.MaxTimeout {
		return "", time.Time{}, forge.Inputf(CodeInvalidTimeout,
			"Field \"timeout\" must be a number of seconds above 0 and at most %g (FORGE_TX_MAX_TIMEOUT).", r.cfg.MaxTimeout.Seconds())
	}
	id, err = newID()
	if err != nil {
		return "", time.Time{}, err
	}
	r.mu.Lock()
	switch {
	case !readOnly && r.perDB[db] >= r.cfg.MaxPerDB:
		r.mu.Unlock()
		return "", time.Time{}, fmt.Errorf("database %s has %d open (FORGE_MAX_TX_PER_DB): %w", db, r.cfg.MaxPerDB, forge.ErrTxLimit)
	case readOnly && r.readDB[db] >= r.cfg.MaxReadPerDB:
		r.mu.Unlock()
		return "", time.Time{}, fmt.Errorf("database %s has %d read-only open (FORGE_READERS_PER_DB): %w", db, r.cfg.MaxReadPerDB, forge.ErrTxLimit)
	case r.perKey[owner] >= r.cfg.MaxPerKey:
		r.mu.Unlock()
		return "", time.Time{}, fmt.Errorf("key %s has %d open (FORGE_MAX_TX_PER_KEY): %w", owner, r.cfg.MaxPerKey, forge.ErrTxLimit)
	}
	r.open[id] = &entry{db: db, owner: owner, readOnly: readOnly}
	if readOnly {
		r.readDB[db]++
	} else {
		r.perDB[db]++
	}
	r.perKey[owner]++
	r.mu.Unlock()

	begin := r.e.Begin
	if readOnly {
		begin = r.e.BeginRead
	}
	lease, err := begin(ctx, db, timeout, func(why error) { r.end(id, why) })
	if err != nil {
		r.mu.Lock()
		r.forgetLocked(id)
		r.mu.Unlock()
		return "", time.Time{}, err
	}
	r.mu.Lock()
	if e, ok := r.open[id]; ok { // not ended already
		e.lease = lease
	}
	r.mu.Unlock()
	return id, lease.Expires(), nil
}

// Do runs fn on transaction id of db, which owner must have opened, and
// renews its lease.
func (r *Registry) Do(ctx context.Context, db, owner, id string, fn func(forge.Tx) error) error {
	l, err := r.find(db, owner, id)
	if err != nil {
		return err
	}
	return l.Do(ctx, fn)
}

// Query runs one statement in transaction id.
func (r *Registry) Query(ctx context.Context, db, owner, id string, q forge.Statement, w forge.RowWriter) (forge.Result, error) {
	var res forge.Result
	err := r.Do(ctx, db, owner, id, func(tx forge.Tx) error {
		var err error
		res, err = tx.Run(ctx, q, w)
		return err
	})
	return res, err
}

// Commit commits transaction id.
func (r *Registry) Commit(ctx context.Context, db, owner, id string) error {
	l, err := r.find(db, owner, id)
	if err != nil {
		return err
	}
	return l.Commit(ctx)
}

// Rollback rolls transaction id back.
func (r *Registry) Rollback(ctx context.Context, db, owner, id string) error {
	l, err := r.find(db, owner, id)
	if err != nil {
		return err
	}
	return l.Rollback(ctx)
}

// find is the lease of an open transaction id of db opened by owner; for
// one that ended, why it ended; else forge.ErrTxNotFound. Another key's
// transaction is not found: its id reveals nothing.
func (r *Registry) find(db, owner, id string) (Lease, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.open[id]; ok && e.db == db && e.owner == owner && e.lease != nil {
		return e.lease, nil
	}
	if t, ok := r.ended[id]; ok && t.db == db && t.owner == owner && time.Since(t.at) < r.cfg.Remember {
		return nil, t.why
	}
	return nil, forge.ErrTxNotFound
}

// end is the engine telling that transaction id ended, and why.
func (r *Registry) end(id string, why error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.open[id]
	if !ok {
		return
	}
	r.forgetLocked(id)
	switch {
	case errors.Is(why, forge.ErrTxCommitted):
		r.stats.Committed++
	case errors.Is(why, forge.ErrTxExpired):
		r.stats.Expired++
	default:
		r.stats.RolledBack++
	}
	now := time.Now()
	r.ended[id] = tomb{db: e.db, owner: e.owner, why: why, at: now}
	r.order = append(r.order, id)
	for len(r.order) > 0 {
		old := r.order[0]
		if len(r.order) <= r.cfg.MaxRemembered && now.Sub(r.ended[old].at) < r.cfg.Remember {
			break
		}
		delete(r.ended, old)
		r.order[0] = ""
		r.order = r.order[1:]
	}
}

// forgetLocked takes id out of the open transactions and their counts.
func (r *Registry) forgetLocked(id string) {
	e, ok := r.open[id]
	if !ok {
		return
	}
	delete(r.open, id)
	count := r.perDB
	if e.readOnly {
		count = r.readDB
	}
	if count[e.db]--; count[e.db] <= 0 {
		delete(count, e.db)
	}
	if r.perKey[e.owner]--; r.perKey[e.owner] <= 0 {
		delete(r.perKey, e.owner)
	}
}

// newID is a transaction id: "tx_" and 16 random bytes, base64url.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("transaction id: %w", err)
	}
	return "tx_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Within is the engine as seen from inside one open transaction, for
// logic written over units of work (package batch): a write unit is a
// savepoint of the transaction — released when its callback returns nil,
// rolled back to otherwise, so that a failed batch leaves the
// transaction as it was — and a read unit a savepoint always rolled back
// to. Query runs one statement in the transaction. The db arguments are
// ignored: the transaction's database is the one.
type Within struct{ Tx forge.Tx }

// plainTx hides every method of a Tx but forge.Tx's own.
type plainTx struct{ forge.Tx }

// withinSavepoint names the savepoint of a unit inside a transaction.
const withinSavepoint = "forge_unit"

// Query runs q in the transaction.
func (w Within) Query(ctx context.Context, _ string, q forge.Statement, out forge.RowWriter) (forge.Result, error) {
	return w.Tx.Run(ctx, q, out)
}

// Read runs fn in a savepoint that is always rolled back to.
func (w Within) Read(ctx context.Context, _ string, fn func(forge.Tx) error) error {
	return w.savepoint(ctx, fn, true)
}

// Write runs fn in a savepoint, kept if fn returns nil.
func (w Within) Write(ctx context.Context, _ string, fn func(forge.Tx) error) error {
	return w.savepoint(ctx, fn, false)
}

func (w Within) savepoint(ctx context.Context, fn func(forge.Tx) error, undo bool) error {
	if _, err := w.Tx.Run(ctx, forge.Statement{SQL: "SAVEPOINT " + withinSavepoint}, nil); err != nil {
		return err
	}
	// Only the Tx's own methods: listing a dry run's changes rolls its
	// unit back to read the rows as committed, which inside an open
	// transaction would end it (a dry run here lists no changes).
	err := fn(plainTx{w.Tx})
	if err != nil || undo {
		// After a failure that ended the transaction there is nothing to
		// roll back to: the Tx says so, and err says why.
		_, rerr := w.Tx.Run(ctx, forge.Statement{SQL: "ROLLBACK TO " + withinSavepoint}, nil)
		if rerr != nil && err == nil {
			return rerr
		}
	}
	if _, rerr := w.Tx.Run(ctx, forge.Statement{SQL: "RELEASE " + withinSavepoint}, nil); rerr != nil && err == nil {
		return rerr
	}
	return err
}
