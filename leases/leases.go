// Package leases keeps the databases' leases: the time after which a
// database expires, stops answering (as if deleted) and goes to the trash.
// Each lease is a small record beside its database (a sidecar of its
// directory, so it moves and goes with the database), and the whole table
// is also in memory: the per-request check (Expired) is a map look-up
// behind an atomic pointer, without a lock, a system call or an
// allocation. The table changes only through Set, Clear and Forget, which
// write the record first and then publish a new copy of the map.
//
// The Janitor (janitor.go) expires databases whose lease ran out and
// purges the trash; the protocol it runs is package lifecycle's.
package leases

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"
)

// RecordKey names a lease's record beside its database.
const RecordKey = "lease"

// Store keeps the records (package volumes' *Layout).
type Store interface {
	// List names every database.
	List() ([]string, error)
	ReadSidecar(name, key string) ([]byte, error)
	WriteSidecar(name, key string, data []byte) error
	DeleteSidecar(name, key string) error
}

// record is a lease on disk.
type record struct {
	ExpiresAt time.Time `json:"expires_at"`
}

// Table is every database's lease.
type Table struct {
	store Store
	now   func() time.Time

	mu sync.Mutex                       // orders writers; readers take none
	m  atomic.Pointer[map[string]int64] // name → expiry, Unix nanoseconds; never modified once published

	changed chan struct{} // capacity 1: the janitor looks again
}

// Open loads the lease of every database of store. now is the clock (nil:
// time.Now). A record that cannot be read stops the start: a lease
// silently lost would keep a database that was meant to go.
func Open(store Store, now func() time.Time) (*Table, error) {
	if now == nil {
		now = time.Now
	}
	t := &Table{store: store, now: now, changed: make(chan struct{}, 1)}
	names, err := store.List()
	if err != nil {
		return nil, fmt.Errorf("leases: %w", err)
	}
	m := make(map[string]int64)
	for _, name := range names {
		data, err := store.ReadSidecar(name, RecordKey)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("lease of %s: %w", name, err)
		}
		var r record
		if err := json.Unmarshal(data, &r); err != nil || r.ExpiresAt.IsZero() {
			return nil, fmt.Errorf("lease of %s: unreadable record %q", name, data)
		}
		m[name] = r.ExpiresAt.UnixNano()
	}
	t.m.Store(&m)
	return t, nil
}

// Expired reports whether database name has a lease that has run out.
// The per-request check: one map look-up, and the clock only for a
// database that has a lease.
func (t *Table) Expired(name string) bool {
	m := *t.m.Load()
	if len(m) == 0 {
		return false
	}
	at, ok := m[name]
	return ok && t.now().UnixNano() >= at
}

// ExpiresAt is when database name expires; false when it has no lease.
func (t *Table) ExpiresAt(name string) (time.Time, bool) {
	at, ok := (*t.m.Load())[name]
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, at).UTC(), true
}

// Set gives database name a lease until at, replacing any: the record
// first, then memory.
func (t *Table) Set(name string, at time.Time) error {
	data, err := json.Marshal(record{ExpiresAt: at.UTC()})
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.store.WriteSidecar(name, RecordKey, data); err != nil {
		return fmt.Errorf("lease of %s: %w", name, err)
	}
	t.publish(func(m map[string]int64) { m[name] = at.UnixNano() })
	return nil
}

// Clear removes database name's lease: it lives until deleted.
func (t *Table) Clear(name string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.store.DeleteSidecar(name, RecordKey); err != nil {
		return fmt.Errorf("lease of %s: %w", name, err)
	}
	t.publish(func(m map[string]int64) { delete(m, name) })
	return nil
}

// Forget drops database name's lease from memory: the database and its
// record have gone (deleted, or moved to the trash with its record).
func (t *Table) Forget(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := (*t.m.Load())[name]; ok {
		t.publish(func(m map[string]int64) { delete(m, name) })
	}
}

// publish installs a changed copy of the map; t.mu is held.
func (t *Table) publish(change func(map[string]int64)) {
	old := *t.m.Load()
	m := make(map[string]int64, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	change(m)
	t.m.Store(&m)
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// Due lists the databases whose lease has run out.
func (t *Table) Due() []string {
	now := t.now().UnixNano()
	var out []string
	for name, at := range *t.m.Load() {
		if now >= at {
			out = append(out, name)
		}
	}
	return out
}

// Next is the earliest lease's end; false when no database has a lease.
func (t *Table) Next() (time.Time, bool) {
	var next int64
	found := false
	for _, at := range *t.m.Load() {
		if !found || at < next {
			next, found = at, true
		}
	}
	if !found {
		return time.Time{}, false
	}
	return time.Unix(0, next), true
}

// Len is the number of databases with a lease.
func (t *Table) Len() int { return len(*t.m.Load()) }

// Changed is signalled after every change of the table.
func (t *Table) Changed() <-chan struct{} { return t.changed }
