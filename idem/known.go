package idem

import (
	"context"
	"errors"
	"hash/maphash"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// The keys a database may hold records of, in memory, so that a request
// with a key never used before (nearly every one) does not look its key
// up: a write's unit goes straight to its work and its record, and a read
// runs as a plain read.
//
// Records come only from this service (client SQL cannot touch Table), so
// once a database's keys have been loaded (loadKnown: the keys of its
// records of the last TTL) and every record this process adds since is
// noted (before its unit commits), a key that is not in the set has no
// record. A key in the set may have one: it is looked up (a unit that
// rolled back, a record that expired, or a hash collision only cost that
// look-up). Until a database's set is complete, and when it would pass
// maxKnown keys, every key is looked up, as without the set. A database
// whose file is replaced (a checkpoint's restore, a restore from the
// trash, a delete) is forgotten (Forget) while no connection to it is
// open, and its set loads again from the new file.

// maxKnown bounds the keys kept per database (8 bytes and a map entry
// each); past it the database's keys are looked up again, and a load is
// tried again after reloadAfter. (A variable for the tests.)
var maxKnown = 1 << 17

const reloadAfter = 10 * time.Minute

// keySeed makes the set's hashes; a collision only costs a look-up.
var keySeed = maphash.MakeSeed()

func keyHash(k forge.IdempotencyKey) uint64 {
	var h maphash.Hash
	h.SetSeed(keySeed)
	h.WriteString(k.Scope)
	h.WriteByte(0)
	h.WriteString(k.Key)
	return h.Sum64()
}

// keyHashBytes is keyHash of a key read from the table.
func keyHashBytes(scope, key []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(keySeed)
	h.Write(scope)
	h.WriteByte(0)
	h.Write(key)
	return h.Sum64()
}

// known is one database's set of keys.
type known struct {
	keys     map[uint64]struct{} // noted, and loaded once complete
	complete bool                // keys holds every key with a record
	loading  bool
	retry    time.Time // when a load may be tried again
	overflow bool      // more than maxKnown: given up until retry
}

// mayHaveRecord tells whether k may have a record on db: false only when
// db's set is complete and k is not in it. It starts the load of db's
// set if that is due (the caller then loads it, loadKnown).
func (s *Service) mayHaveRecord(db string, k forge.IdempotencyKey) (may, load bool) {
	h := keyHash(k)
	s.mu.RLock()
	if d := s.dbs[db]; d != nil && d.known.complete {
		_, may = d.known.keys[h]
		s.mu.RUnlock()
		return may, false
	}
	s.mu.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.state(db)
	if d.known.complete {
		_, may = d.known.keys[h]
		return may, false
	}
	if !d.known.loading && !s.now().Before(d.known.retry) {
		d.known.loading = true
		load = true
	}
	return true, load
}

// noteRecord adds k to db's set: its record is about to be written.
func (s *Service) noteRecord(db string, k forge.IdempotencyKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.state(db)
	if d.known.overflow {
		return
	}
	if d.known.keys == nil {
		d.known.keys = make(map[uint64]struct{})
	}
	d.known.keys[keyHash(k)] = struct{}{}
	if len(d.known.keys) > maxKnown {
		d.known = known{overflow: true, retry: s.now().Add(reloadAfter)}
	}
}

// selectKeys lists the keys of the records of the last TTL, one more
// than the set may hold.
const selectKeys = "SELECT key_scope, key FROM " + Table + " WHERE created_at >= ?1 LIMIT ?2"

// loadKnown reads db's keys into its set, on a read unit, and marks the
// set complete; the keys noted meanwhile stay. Without the table the set
// is complete and empty (so a read with a key runs as a plain read).
func (s *Service) loadKnown(ctx context.Context, db string) {
	s.mu.Lock()
	d0 := s.state(db) // Forget during the load: its keys are the old file's
	s.mu.Unlock()
	r := keysReader{keys: make(map[uint64]struct{})}
	err := s.e.Read(ctx, db, func(tx forge.Tx) error {
		clear(r.keys)
		_, err := tx.Run(ctx, forge.Statement{SQL: selectKeys, Bookkeeping: true, Params: forge.Params{Positional: []forge.Value{
			forge.IntValue(s.now().Add(-s.ttl).UnixMilli()), forge.IntValue(int64(maxKnown) + 1),
		}}}, &r)
		var se *forge.SQLError
		if errors.As(err, &se) { // no table: no keys
			return nil
		}
		return err
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
	default:
		for h := range d.known.keys {
			r.keys[h] = struct{}{}
		}
		d.known = known{keys: r.keys, complete: true}
	}
}

// keysReader hashes the rows of selectKeys.
type keysReader struct {
	keys map[uint64]struct{}
}

func (r *keysReader) Columns([]string) error { return nil }

func (r *keysReader) Row(row forge.Row) error {
	r.keys[keyHashBytes(row.Text(0), row.Text(1))] = struct{}{}
	return nil
}

// Forget drops what the service knows of database db (its key set, whether
// it has the records table, when it last expired records): its file was
// replaced or removed. Call it while no connection to db is open (the
// engine's Exclusive), so that no unit reads the old file after it.
func (s *Service) Forget(db string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.dbs, db)
}
