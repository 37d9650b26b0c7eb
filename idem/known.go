package idem

import (
	"context"
	"errors"
	"hash/maphash"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// The keys a database may hold records of, in memory, each with where
// its record is (its id in LogTable, or inLegacy), so that a request with
// a key never used before (nearly every one) does not look its key up: a
// write's unit goes straight to its work and its record, and a read runs
// as a plain read; and a key used before is found by its record's id,
// without an index on the key.
//
// Records come only from this service (client SQL cannot touch them), so
// once a database's keys have been loaded (loadKnown: the keys of its
// records of the last TTL) and every record this process adds since is
// noted (before its unit commits), a key that is not in the set has no
// record. A key in the set may have one, at the id noted last (a unit
// that rolled back, or a record that expired, only cost that look-up).
// Until a database's set is complete, and when it would pass maxKnown
// keys, every key is looked up by a scan (find), as without the set; past
// maxKnown the table gets an index on the key, which the scan then uses.
// A database whose file is replaced (a checkpoint's restore, a restore
// from the trash, a delete) is forgotten (Forget) while no connection to
// it is open, and its set loads again from the new file.
//
// Keys are kept as 128-bit hashes (two 64-bit hashes of their own
// seeds); a look-up checks the key of the row it finds.

// maxKnown bounds the keys kept per database (~40 bytes each); past it
// the database's keys are looked up again, and a load is tried again
// after reloadAfter. (A variable for the tests.)
var maxKnown = 1 << 17

const reloadAfter = 10 * time.Minute

// inLegacy: the key's record is in Table, found by its primary key.
const inLegacy = -1

// keySeeds make the set's hashes.
var keySeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

// keyID is a key's 128-bit hash.
type keyID [2]uint64

func keyHash(k forge.IdempotencyKey) keyID {
	var id keyID
	for i, seed := range keySeeds {
		var h maphash.Hash
		h.SetSeed(seed)
		h.WriteString(k.Scope)
		h.WriteByte(0)
		h.WriteString(k.Key)
		id[i] = h.Sum64()
	}
	return id
}

// keyHashStored is keyHash of a key read from LogTable (storedKey).
func keyHashStored(k []byte) keyID {
	var id keyID
	for i, seed := range keySeeds {
		id[i] = maphash.Bytes(seed, k)
	}
	return id
}

// keyHashBytes is keyHash of a key read from Table.
func keyHashBytes(scope, key []byte) keyID {
	var id keyID
	for i, seed := range keySeeds {
		var h maphash.Hash
		h.SetSeed(seed)
		h.Write(scope)
		h.WriteByte(0)
		h.Write(key)
		id[i] = h.Sum64()
	}
	return id
}

// known is one database's set of keys.
type known struct {
	keys     map[keyID]int64 // noted, and loaded once complete: → id, or inLegacy
	complete bool            // keys holds every key with a record
	loading  bool
	retry    time.Time // when a load may be tried again
	overflow bool      // more than maxKnown: given up until retry
}

// mayHaveRecord tells whether k may have a record on db, and where: at
// is its id (or inLegacy) when db's set is complete, 0 when it is not
// (may is then true). It starts the load of db's set if that is due (the
// caller then loads it, loadKnown).
func (s *Service) mayHaveRecord(db string, k forge.IdempotencyKey) (may bool, at int64, load bool) {
	h := keyHash(k)
	s.mu.RLock()
	if d := s.dbs[db]; d != nil && d.known.complete {
		at, may = d.known.keys[h]
		s.mu.RUnlock()
		return may, at, false
	}
	s.mu.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.state(db)
	if d.known.complete {
		at, may = d.known.keys[h]
		return may, at, false
	}
	if !d.known.loading && !s.now().Before(d.known.retry) {
		d.known.loading = true
		load = true
	}
	return true, 0, load
}

// noteRecord notes k's record at id on db: it is about to be written.
func (s *Service) noteRecord(db string, k forge.IdempotencyKey, id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.state(db)
	if d.known.overflow {
		return
	}
	if d.known.keys == nil {
		d.known.keys = make(map[keyID]int64)
	}
	d.known.keys[keyHash(k)] = id
	if len(d.known.keys) > maxKnown {
		d.known = known{overflow: true, retry: s.now().Add(reloadAfter)}
		d.wantIndex = true
	}
}

// selectKeys lists the keys of the records of the last TTL in id order
// (a key's last record last), one more than the set may hold;
// selectLegacyKeys those of Table.
const (
	selectKeys       = "SELECT id, k FROM " + LogTable + " WHERE created_at >= ?1 ORDER BY id LIMIT ?2"
	selectLegacyKeys = "SELECT key_scope, key FROM " + Table + " WHERE created_at >= ?1 LIMIT ?2"
)

// loadKnown reads db's keys into its set, on a read unit, and marks the
// set complete; the keys noted meanwhile stay. Without the tables the
// set is complete and empty (so a read with a key runs as a plain read).
func (s *Service) loadKnown(ctx context.Context, db string) {
	s.mu.Lock()
	d0 := s.state(db) // Forget during the load: its keys are the old file's
	s.mu.Unlock()
	r := keysReader{keys: make(map[keyID]int64)}
	err := s.e.Read(ctx, db, func(tx forge.Tx) error {
		clear(r.keys)
		cutoff := forge.IntValue(s.now().Add(-s.ttl).UnixMilli())
		limit := forge.IntValue(int64(maxKnown) + 1)
		for _, q := range []string{selectLegacyKeys, selectKeys} { // the older first
			r.legacy = q == selectLegacyKeys
			_, err := tx.Run(ctx, forge.Statement{SQL: q, Bookkeeping: true, Params: forge.Params{
				Positional: []forge.Value{cutoff, limit}}}, &r)
			var se *forge.SQLError
			if err != nil && !errors.As(err, &se) { // no table: no keys
				return err
			}
		}
		return nil
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.state(db)
	d.known.loading = false
	switch {
	case d != d0: // forgotten meanwhile: the next request loads again
	case err != nil: // a timeout, a busy database: another request tries
	case d.known.overflow || len(r.keys)+len(d.known.keys) > maxKnown:
		d.known = known{overflow: true, retry: s.now().Add(reloadAfter)}
		d.wantIndex = true
	default:
		for h, id := range d.known.keys { // noted since: newer
			r.keys[h] = id
		}
		d.known = known{keys: r.keys, complete: true}
	}
}

// keysReader maps the keys of selectKeys and selectLegacyKeys to where
// their records are.
type keysReader struct {
	keys   map[keyID]int64
	legacy bool
}

func (r *keysReader) Columns([]string) error { return nil }

func (r *keysReader) Row(row forge.Row) error {
	if r.legacy {
		r.keys[keyHashBytes(row.Text(0), row.Text(1))] = inLegacy
		return nil
	}
	r.keys[keyHashStored(row.Blob(1))] = row.Int(0)
	return nil
}

// Forget drops what the service knows of database db (its key set, its
// next record's id, when it last expired records): its file was
// replaced or removed. Call it while no connection to db is open (the
// engine's Exclusive), so that no unit reads the old file after it.
func (s *Service) Forget(db string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.dbs, db)
}
