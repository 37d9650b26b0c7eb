package auth

import (
	"context"
	"crypto/subtle"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// SQL is what the key store needs of a SQLite database: one statement per
// call, positional parameters. The gateway's wiring provides it over the
// SQL engine and a reserved system database (<data>/.forge/meta.db), so
// that the process's one wasm runtime keeps one owner.
type SQL interface {
	// Exec runs a statement that returns no rows.
	Exec(ctx context.Context, sql string, args ...forge.Value) (rowsAffected int64, err error)
	// Query runs a statement and calls each for every row; row is valid
	// only during the call. An error from each stops the statement and is
	// returned.
	Query(ctx context.Context, sql string, args []forge.Value, each func(row forge.Row) error) error
}

// schemaVersion is the key table's layout, kept in PRAGMA user_version: a
// meta database written by a newer DB-Forge is refused, not misread.
const schemaVersion = 1

// schema is the key table. Times are Unix milliseconds (UTC).
var schema = []string{
	`CREATE TABLE IF NOT EXISTS api_keys (
	id         TEXT    PRIMARY KEY,
	hash       BLOB    NOT NULL UNIQUE CHECK (length(hash) = 32),
	prefix     TEXT    NOT NULL,
	db_name    TEXT    NOT NULL,
	scope      TEXT    NOT NULL CHECK (scope IN ('read-only', 'read-write', 'admin')),
	created_at INTEGER NOT NULL,
	expires_at INTEGER,
	revoked_at INTEGER,
	CHECK ((scope = 'admin') = (db_name = ''))
) STRICT`,
	`CREATE INDEX IF NOT EXISTS api_keys_db_name ON api_keys (db_name)`,
}

const (
	selectKeys = `SELECT id, hash, prefix, db_name, scope, created_at, expires_at, revoked_at FROM api_keys`
	insertKey  = `INSERT INTO api_keys (id, hash, prefix, db_name, scope, created_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?, ?)`
	revokeKey   = `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND db_name = ? AND revoked_at IS NULL`
	deleteKeys  = `DELETE FROM api_keys WHERE db_name = ?`
	maxLifetime = 100 * 365 * 24 * time.Hour
)

// Options configure Keys.
type Options struct {
	// Admin is the admin key's token (EnsureAdminKey's). It is kept as a
	// digest in memory only. Empty: only stored keys open anything.
	Admin Secret
	// Now is the clock; default time.Now. Tests inject their own.
	Now func() time.Time
}

// Keys is the key table: every key in memory, every change written to the
// store first. Verify, the per-request path, takes no lock and runs no
// SQL. The changes of one database's keys are serialised (store, then
// memory) by that database's write lock; memory itself is guarded by a
// mutex held only for map updates, never across SQL, so List and the
// changes of other databases never wait for a slow store write.
type Keys struct {
	store SQL
	now   func() time.Time
	// equal compares the stored digest with the presented token's: it is
	// constantTimeEqual, a field only so that a test can watch it. Digests
	// go by value: a slice passed to a function value would escape, and
	// cost an allocation per request.
	equal func(stored, presented digest) bool

	table table // digest → entry, read without locks

	writes dbLocks // per database: one store write at a time, then memory

	mu   sync.Mutex          // guards the maps and table writes; never held across SQL
	byID map[string]*entry   // stored keys by id (not the admin key)
	byDB map[string][]string // ids of each database's stored keys
	// minting holds the ids and digests of keys being written to the
	// store, so that two mints (of different databases, which do not wait
	// for each other) never draw the same one.
	minting     map[string]bool
	mintingHash map[digest]bool
}

// entry is one key in memory. Entries are never modified once published
// in the table: a revocation publishes a new one.
type entry struct {
	hash digest
	key  Key
}

// New loads every key of store into memory, creating the key table if it
// is not there, and installs the admin key of opts.
func New(ctx context.Context, store SQL, opts Options) (*Keys, error) {
	k := &Keys{
		store: store,
		now:   opts.Now,
		equal: constantTimeEqual,
		byID:  make(map[string]*entry),
		byDB:  make(map[string][]string),

		minting:     make(map[string]bool),
		mintingHash: make(map[digest]bool),
	}
	if k.now == nil {
		k.now = time.Now
	}
	if err := k.migrate(ctx); err != nil {
		return nil, err
	}
	if err := k.load(ctx); err != nil {
		return nil, err
	}
	if !opts.Admin.IsZero() {
		tok := opts.Admin.Reveal()
		if err := checkAdminToken(tok); err != nil {
			return nil, err
		}
		e := &entry{hash: hashToken(tok), key: Key{ID: AdminKeyID, Prefix: displayPrefix(tok), Scope: ScopeAdmin}}
		if k.table.get(&e.hash) != nil {
			return nil, fmt.Errorf("%w: the admin key is also a stored key", ErrWeakAdminKey)
		}
		k.table.put(e)
	}
	return k, nil
}

func (k *Keys) migrate(ctx context.Context) error {
	var version int64
	err := k.store.Query(ctx, "PRAGMA user_version", nil, func(r forge.Row) error {
		version = r.Int(0)
		return nil
	})
	if err != nil {
		return fmt.Errorf("key store: %w", err)
	}
	if version > schemaVersion {
		return fmt.Errorf("key store: schema version %d is newer than this gateway's %d", version, schemaVersion)
	}
	for _, s := range schema {
		if _, err := k.store.Exec(ctx, s); err != nil {
			return fmt.Errorf("key store: create schema: %w", err)
		}
	}
	if version < schemaVersion {
		if _, err := k.store.Exec(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
			return fmt.Errorf("key store: %w", err)
		}
	}
	return nil
}

// load reads every stored key. A row that breaks the rules (a tampered or
// damaged store) stops the start: failing closed beats guessing.
func (k *Keys) load(ctx context.Context) error {
	err := k.store.Query(ctx, selectKeys, nil, func(r forge.Row) error {
		e, err := scanEntry(r)
		if err != nil {
			return err
		}
		if k.byID[e.key.ID] != nil || k.table.get(&e.hash) != nil {
			return fmt.Errorf("key %s: duplicate", e.key.ID)
		}
		k.install(e)
		return nil
	})
	if err != nil {
		return fmt.Errorf("key store: load: %w", err)
	}
	return nil
}

func scanEntry(r forge.Row) (*entry, error) {
	id := string(r.Text(0))
	if r.Kind(1) != forge.Blob || len(r.Blob(1)) != len(digest{}) {
		return nil, fmt.Errorf("key %s: bad hash", id)
	}
	e := &entry{}
	copy(e.hash[:], r.Blob(1))
	scope, err := ParseScope(string(r.Text(4)))
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", id, err)
	}
	e.key = Key{
		ID:        id,
		Prefix:    string(r.Text(2)),
		DB:        string(r.Text(3)),
		Scope:     scope,
		CreatedAt: fromMillis(r.Int(5)),
	}
	if id == "" || id == AdminKeyID {
		return nil, fmt.Errorf("key %q: reserved id", id)
	}
	if err := validDB(e.key.DB, scope); err != nil {
		return nil, fmt.Errorf("key %s: %w", id, err)
	}
	if r.Kind(6) != forge.Null {
		e.key.ExpiresAt = fromMillis(r.Int(6))
	}
	if r.Kind(7) != forge.Null {
		e.key.RevokedAt = fromMillis(r.Int(7))
	}
	return e, nil
}

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// stamp is now at the store's precision, so that a key reads back the
// same after a restart.
func (k *Keys) stamp() time.Time { return fromMillis(k.now().UnixMilli()) }

// install publishes a stored key; k.mu is held (or k is not shared yet).
func (k *Keys) install(e *entry) {
	if _, ok := k.byID[e.key.ID]; !ok {
		k.byDB[e.key.DB] = append(k.byDB[e.key.DB], e.key.ID)
	}
	k.byID[e.key.ID] = e
	k.table.put(e)
}

// Create mints a key for database db ("" with ScopeAdmin: every database)
// and returns it with its token. The token exists only in this return
// value: it is not stored, so it cannot be shown again. expiresIn 0 means
// the key never expires.
func (k *Keys) Create(ctx context.Context, db string, scope Scope, expiresIn time.Duration) (Key, Secret, error) {
	if _, err := ParseScope(string(scope)); err != nil {
		return Key{}, Secret{}, fmt.Errorf("create key: %w", err)
	}
	if err := validDB(db, scope); err != nil {
		return Key{}, Secret{}, fmt.Errorf("create key: %w", err)
	}
	if expiresIn < 0 || expiresIn > maxLifetime {
		return Key{}, Secret{}, fmt.Errorf("create key: expires in %v: %w", expiresIn, ErrInvalidExpiry)
	}
	unlock, err := k.writes.lock(ctx, db)
	if err != nil {
		return Key{}, Secret{}, fmt.Errorf("create key: %w", err)
	}
	defer unlock()
	e, tok, err := k.draw(db, scope)
	if err != nil {
		return Key{}, Secret{}, fmt.Errorf("create key: %w", err)
	}
	defer k.drawn(e)
	expires := forge.NullValue()
	if expiresIn > 0 {
		e.key.ExpiresAt = fromMillis(e.key.CreatedAt.Add(expiresIn).UnixMilli())
		expires = forge.IntValue(e.key.ExpiresAt.UnixMilli())
	}
	_, err = k.store.Exec(ctx, insertKey,
		forge.TextValue(e.key.ID), forge.BlobValue(e.hash[:]), forge.TextValue(e.key.Prefix),
		forge.TextValue(db), forge.TextValue(string(scope)), forge.IntValue(e.key.CreatedAt.UnixMilli()), expires)
	if err != nil {
		return Key{}, Secret{}, fmt.Errorf("create key: %w", err)
	}
	k.mu.Lock()
	k.install(e)
	k.mu.Unlock()
	return e.key, tok, nil
}

// draw makes a new key of db: an id and a token that no stored key and no
// key being minted has, reserved until drawn is called.
func (k *Keys) draw(db string, scope Scope) (*entry, Secret, error) {
	for {
		id, err := newKeyID()
		if err != nil {
			return nil, Secret{}, err
		}
		tok, err := newToken()
		if err != nil {
			return nil, Secret{}, err
		}
		h := hashToken(tok.Reveal())
		k.mu.Lock()
		clash := k.byID[id] != nil || k.table.get(&h) != nil || k.minting[id] || k.mintingHash[h]
		if !clash {
			k.minting[id], k.mintingHash[h] = true, true
		}
		k.mu.Unlock()
		if clash {
			continue // a clash of 48 random bits; draw again
		}
		return &entry{hash: h, key: Key{ID: id, Prefix: displayPrefix(tok.Reveal()), DB: db, Scope: scope, CreatedAt: k.stamp()}}, tok, nil
	}
}

// drawn ends the reservation of draw: e is installed, or was not stored.
func (k *Keys) drawn(e *entry) {
	k.mu.Lock()
	delete(k.minting, e.key.ID)
	delete(k.mintingHash, e.hash)
	k.mu.Unlock()
}

// List returns the keys of database db ("" lists stored admin keys),
// revoked and expired ones included, oldest first. No secret is in a Key.
func (k *Keys) List(db string) []Key {
	k.mu.Lock()
	defer k.mu.Unlock()
	ids := k.byDB[db]
	keys := make([]Key, 0, len(ids))
	for _, id := range ids {
		keys = append(keys, k.byID[id].key)
	}
	slices.SortFunc(keys, func(a, b Key) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return keys
}

// Revoke revokes key id of database db. A key of another database, or no
// key at all, is ErrKeyNotFound: an id alone does not reveal which
// database it is for. Revoking a revoked key changes nothing.
func (k *Keys) Revoke(ctx context.Context, db, id string) error {
	unlock, err := k.writes.lock(ctx, db)
	if err != nil {
		return fmt.Errorf("revoke %s: %w", id, err)
	}
	defer unlock()
	// Only a change of db's keys could change a key of db, and this one
	// holds db's write lock.
	k.mu.Lock()
	old := k.byID[id]
	k.mu.Unlock()
	if old == nil || old.key.DB != db {
		return fmt.Errorf("revoke %s: %w", id, ErrKeyNotFound)
	}
	if old.key.Revoked() {
		return nil
	}
	at := k.stamp()
	// The store first: if this fails, the key stays valid everywhere. A
	// row already revoked by an earlier attempt that reported an error
	// is fine (0 rows).
	if _, err := k.store.Exec(ctx, revokeKey, forge.IntValue(at.UnixMilli()), forge.TextValue(id), forge.TextValue(db)); err != nil {
		return fmt.Errorf("revoke %s: %w", id, err)
	}
	e := &entry{hash: old.hash, key: old.key}
	e.key.RevokedAt = at
	k.mu.Lock()
	k.install(e)
	k.mu.Unlock()
	return nil
}

// DeleteDatabase removes every key of database db, for a database being
// deleted: its tokens become unknown, and a database made later under the
// same name starts with no keys. Call it before the data is removed, so
// that a failure half-way leaves a database nobody's old key opens rather
// than keys that outlive their database.
func (k *Keys) DeleteDatabase(ctx context.Context, db string) error {
	if db == "" {
		return fmt.Errorf("delete keys: %w", forge.ErrInvalidName)
	}
	unlock, err := k.writes.lock(ctx, db)
	if err != nil {
		return fmt.Errorf("delete keys of %s: %w", db, err)
	}
	defer unlock()
	if _, err := k.store.Exec(ctx, deleteKeys, forge.TextValue(db)); err != nil {
		return fmt.Errorf("delete keys of %s: %w", db, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, id := range k.byDB[db] {
		e := k.byID[id]
		k.table.del(&e.hash)
		delete(k.byID, id)
	}
	delete(k.byDB, db)
	return nil
}

// Verify finds the key whose token is tok: ErrUnknownKey, ErrRevoked or
// ErrExpired (all wrapping ErrUnauthenticated) when it does not open
// anything. It costs one SHA-256, one map look-up and one constant-time
// compare; it takes no lock, runs no SQL and does not allocate.
func (k *Keys) Verify(tok string) (Key, error) { return verify(k, tok) }

// VerifyBytes is Verify of a token held as bytes (a header value), without
// converting it to a string.
func (k *Keys) VerifyBytes(tok []byte) (Key, error) { return verify(k, tok) }

func verify[T string | []byte](k *Keys, tok T) (Key, error) {
	if len(tok) == 0 {
		return Key{}, ErrNoKey
	}
	if len(tok) > MaxTokenLength {
		return Key{}, ErrUnknownKey
	}
	h := hashToken(tok)
	e := k.table.get(&h)
	// The map found the entry by the digest of the presented token; the
	// check that decides is this constant-time compare of that digest with
	// the stored one, so no comparison involving stored key material can
	// stop early. (The map's own key compare works on the digest of the
	// caller's input: what its timing could reveal is bits of a SHA-256
	// digest, which give no way back to a token.)
	if e == nil || !k.equal(e.hash, h) {
		return Key{}, ErrUnknownKey
	}
	if e.key.Revoked() {
		return Key{}, ErrRevoked
	}
	if !e.key.ExpiresAt.IsZero() && e.key.Expired(k.now()) {
		return Key{}, ErrExpired
	}
	return e.key, nil
}

// constantTimeEqual compares two digests in time independent of their
// contents (crypto/subtle).
func constantTimeEqual(x, y digest) bool {
	return subtle.ConstantTimeCompare(x[:], y[:]) == 1
}

// table maps digests to entries for Verify without a lock: 256 shards (by
// the digest's first byte), each an immutable map replaced whole on a
// write (copy-on-write). Reads are one atomic load and a map look-up, with
// no shared cache line written, so they scale with cores; a write copies
// one shard, about 1/256 of the keys. Writers hold Keys.mu (briefly:
// never across SQL).
type table struct {
	shards [256]atomic.Pointer[map[digest]*entry]
}

func (t *table) get(h *digest) *entry {
	m := t.shards[h[0]].Load()
	if m == nil {
		return nil
	}
	return (*m)[*h]
}

func (t *table) put(e *entry) {
	s := &t.shards[e.hash[0]]
	next := map[digest]*entry{}
	if old := s.Load(); old != nil {
		next = maps.Clone(*old)
	}
	next[e.hash] = e
	s.Store(&next)
}

func (t *table) del(h *digest) {
	s := &t.shards[h[0]]
	old := s.Load()
	if old == nil {
		return
	}
	next := maps.Clone(*old)
	delete(next, *h)
	s.Store(&next)
}
