package lifecycle_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/lifecycle"
)

// leaseWorld adds a lease table and a trash to world.
type leaseWorld struct {
	*world
	expired bool
}

func (w *leaseWorld) Expired(string) bool { return w.expired }
func (w *leaseWorld) ExpiresAt(string) (time.Time, bool) {
	return time.Unix(100, 0), w.expired
}
func (w *leaseWorld) Set(name string, _ time.Time) error { return w.call("set lease " + name) }
func (w *leaseWorld) Clear(name string) error            { return w.call("clear lease " + name) }
func (w *leaseWorld) Forget(name string)                 { w.expired = false; _ = w.call("forget lease " + name) }
func (w *leaseWorld) Retain(name string, _ time.Time) error {
	return w.call("retain " + name)
}
func (w *leaseWorld) Unretain(name string, drop ...string) error {
	return w.call("unretain " + name + " -" + strings.Join(drop, ","))
}

func newLeaseService(w *leaseWorld) *lifecycle.Service {
	return lifecycle.New(lifecycle.Ports{Engine: w, Orchestrator: w, Keys: w, Databases: w, Spawns: w,
		Leases: w, Trash: w})
}

func TestExpire(t *testing.T) {
	t.Parallel()
	down := forge.ErrBackendUnavailable
	tests := []struct {
		name    string
		expired bool
		fail    map[string]error
		calls   []string
		err     error
	}{
		{"not expired: nothing", false, nil, nil, nil},
		{"keys, instance and data under Exclusive, keys again", true, nil,
			[]string{"drop keys d", "exclusive d", "prune d", "retain d", "forget lease d", "drop keys d"}, nil},
		{"a pruned database is kept all the same", true, map[string]error{"prune d": forge.ErrInstanceNotFound},
			[]string{"drop keys d", "exclusive d", "prune d", "retain d", "forget lease d", "drop keys d"}, nil},
		{"a backend down keeps the lease, to retry", true, map[string]error{"prune d": down},
			[]string{"drop keys d", "exclusive d", "prune d"}, down},
		{"deleted meanwhile: nothing to keep", true, map[string]error{"retain d": forge.ErrDatabaseNotFound},
			[]string{"drop keys d", "exclusive d", "prune d", "retain d", "forget lease d", "drop keys d"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := &leaseWorld{world: &world{fail: tc.fail}, expired: tc.expired}
			err := newLeaseService(w).Expire(context.Background(), "d")
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("Expire = %v, want %v", err, tc.err)
			}
			if !slices.Equal(w.calls, tc.calls) {
				t.Fatalf("calls\n\t%s\nwant\n\t%s", strings.Join(w.calls, "\n\t"), strings.Join(tc.calls, "\n\t"))
			}
		})
	}
}

func TestRestore(t *testing.T) {
	t.Parallel()
	down := forge.ErrBackendUnavailable
	tests := []struct {
		name  string
		ttl   time.Duration
		fail  map[string]error
		calls []string
		key   bool
		err   error
	}{
		{"back without its lease, a new instance and key", 0, nil,
			[]string{"unretain d -lease", "spawn d", "mint d"}, true, nil},
		{"with a new lease", time.Minute, nil,
			[]string{"unretain d -lease", "spawn d", "set lease d", "mint d"}, true, nil},
		{"not in the trash", 0, map[string]error{"unretain d -lease": forge.ErrNotInTrash},
			[]string{"unretain d -lease"}, false, forge.ErrNotInTrash},
		{"no instance: back to the trash", 0, map[string]error{"spawn d": down},
			[]string{"unretain d -lease", "spawn d", "forget lease d", "exclusive d", "prune d", "retain d"}, false, down},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := &leaseWorld{world: &world{fail: tc.fail, created: true}}
			sp, err := newLeaseService(w).Restore(context.Background(), "d", tc.ttl)
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("Restore = %v, want %v", err, tc.err)
			}
			if !slices.Equal(w.calls, tc.calls) {
				t.Fatalf("calls\n\t%s\nwant\n\t%s", strings.Join(w.calls, "\n\t"), strings.Join(tc.calls, "\n\t"))
			}
			if (sp.Key != nil) != tc.key || (tc.ttl > 0) != !sp.ExpiresAt.IsZero() {
				t.Errorf("key %v, expires %v", sp.Key != nil, sp.ExpiresAt)
			}
		})
	}
}

// TestSpawnLeased: a new database gets its lease after its key and before
// it is complete; a lease that cannot be recorded undoes the spawn; a
// re-spawn renews; an expired name is expired first.
func TestSpawnLeased(t *testing.T) {
	t.Parallel()
	full := forge.ErrDiskFull
	tests := []struct {
		name             string
		created, expired bool
		fail             map[string]error
		calls            []string
		err              error
	}{
		{"new", true, false, nil,
			[]string{"spawn s", "exists s", "mint s", "set lease s", "complete s"}, nil},
		{"no lease record: undone, key first", true, false, map[string]error{"set lease s": full},
			[]string{"spawn s", "exists s", "mint s", "set lease s", "drop keys s", "exclusive s", "delete s", "forget lease s"}, full},
		{"re-spawn renews", false, false, nil,
			[]string{"spawn s", "exists s", "set lease s"}, nil},
		{"an expired name is expired first", true, true, nil,
			[]string{"drop keys s", "exclusive s", "prune s", "retain s", "forget lease s", "drop keys s",
				"spawn s", "exists s", "mint s", "set lease s", "complete s"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := &leaseWorld{world: &world{fail: tc.fail, created: tc.created, pending: map[string]bool{"s": true}}, expired: tc.expired}
			sp, err := newLeaseService(w).SpawnLeased(context.Background(), "s", time.Minute, nil)
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("SpawnLeased = %v, want %v", err, tc.err)
			}
			if !slices.Equal(w.calls, tc.calls) {
				t.Fatalf("calls\n\t%s\nwant\n\t%s", strings.Join(w.calls, "\n\t"), strings.Join(tc.calls, "\n\t"))
			}
			if err == nil && (sp.ExpiresAt.IsZero() || sp.ExpiresAt.Nanosecond() != 0) {
				t.Errorf("expires_at %v: want a whole second", sp.ExpiresAt)
			}
		})
	}
}
