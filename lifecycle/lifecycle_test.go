package lifecycle_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/praetorian/db-forge/auth"
	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/lifecycle"
)

// world records every call the protocols make, in order.
type world struct {
	calls   []string
	fail    map[string]error // by call name
	created bool             // Spawn reports a new instance
	pending map[string]bool
}

func (w *world) call(name string) error {
	w.calls = append(w.calls, name)
	return w.fail[name]
}

func (w *world) Exclusive(_ context.Context, db string, fn func() error) error {
	if err := w.call("exclusive " + db); err != nil {
		return err
	}
	return fn()
}
func (w *world) Spawn(_ context.Context, name string) (forge.Instance, bool, error) {
	return forge.Instance{Name: name, ContainerID: "c1"}, w.created, w.call("spawn " + name)
}
func (w *world) Prune(_ context.Context, name string) error  { return w.call("prune " + name) }
func (w *world) Delete(_ context.Context, name string) error { return w.call("delete " + name) }
func (w *world) Create(_ context.Context, db string, _ auth.Scope, _ time.Duration) (auth.Key, auth.Secret, error) {
	return auth.Key{ID: "k1", DB: db}, auth.Secret{}, w.call("mint " + db)
}
func (w *world) DeleteDatabase(_ context.Context, db string) error { return w.call("drop keys " + db) }
func (w *world) Exists(name string) (bool, error)                  { return true, w.call("exists " + name) }
func (w *world) Pending(name string) bool                          { return w.pending[name] }
func (w *world) Complete(name string) error                        { return w.call("complete " + name) }

func newService(w *world) *lifecycle.Service {
	return lifecycle.New(lifecycle.Ports{Engine: w, Orchestrator: w, Keys: w, Databases: w, Spawns: w})
}

func TestDelete(t *testing.T) {
	t.Parallel()
	errBackend := errors.New("backend down")
	tests := []struct {
		name  string
		fail  map[string]error
		calls []string
		err   error
	}{
		{"keys, data under Exclusive, keys again", nil,
			[]string{"drop keys d", "exclusive d", "delete d", "drop keys d"}, nil},
		{"a failed delete leaves no key behind", map[string]error{"delete d": errBackend},
			[]string{"drop keys d", "exclusive d", "delete d"}, errBackend},
		{"keys that cannot go keep the data", map[string]error{"drop keys d": errBackend},
			[]string{"drop keys d"}, errBackend},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := &world{fail: tc.fail}
			err := newService(w).Delete(context.Background(), "d")
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("Delete = %v, want %v", err, tc.err)
			}
			if !slices.Equal(w.calls, tc.calls) {
				t.Fatalf("calls\n\t%s\nwant\n\t%s", strings.Join(w.calls, "\n\t"), strings.Join(tc.calls, "\n\t"))
			}
		})
	}
}

func TestSpawn(t *testing.T) {
	t.Parallel()
	full := forge.ErrDiskFull
	tests := []struct {
		name    string
		created bool
		pending bool
		fail    map[string]error
		calls   []string
		key     bool
		err     error
	}{
		{"a new instance gets its key, then is complete", true, true, nil,
			[]string{"spawn s", "exists s", "mint s", "complete s"}, true, nil},
		{"a re-spawn mints nothing", false, false, nil, []string{"spawn s"}, false, nil},
		{"no key: a new database is deleted", true, true, map[string]error{"mint s": full},
			[]string{"spawn s", "exists s", "mint s", "exclusive s", "delete s"}, false, full},
		{"no key: an instance over older data is pruned", true, false, map[string]error{"mint s": full},
			[]string{"spawn s", "exists s", "mint s", "prune s"}, false, full},
		{"not complete: its key goes first, then the database", true, true, map[string]error{"complete s": full},
			[]string{"spawn s", "exists s", "mint s", "complete s", "drop keys s", "exclusive s", "delete s"}, false, full},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := &world{fail: tc.fail, created: tc.created, pending: map[string]bool{"s": tc.pending}}
			sp, err := newService(w).Spawn(context.Background(), "s")
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("Spawn = %v, want %v", err, tc.err)
			}
			if (sp.Key != nil) != tc.key || sp.Created != (tc.created && tc.err == nil) {
				t.Fatalf("Spawned %+v", sp)
			}
			if !slices.Equal(w.calls, tc.calls) {
				t.Fatalf("calls\n\t%s\nwant\n\t%s", strings.Join(w.calls, "\n\t"), strings.Join(tc.calls, "\n\t"))
			}
		})
	}
}

// TestWithoutKeys: a deployment without a key table spawns without a key
// and deletes without a sweep.
func TestWithoutKeys(t *testing.T) {
	t.Parallel()
	w := &world{created: true}
	s := lifecycle.New(lifecycle.Ports{Engine: w, Orchestrator: w})
	sp, err := s.Spawn(context.Background(), "s")
	if err != nil || sp.Key != nil || !sp.Created {
		t.Fatalf("Spawn = %+v, %v", sp, err)
	}
	if err := s.Delete(context.Background(), "s"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"spawn s", "exclusive s", "delete s"}; !slices.Equal(w.calls, want) {
		t.Fatalf("calls %v, want %v", w.calls, want)
	}
}

// TestSpawnWith: a spawn filled from a file or a script is filled before
// its key; a failed fill, or a name with data, leaves nothing.
func TestSpawnWith(t *testing.T) {
	t.Parallel()
	bad := forge.Inputf("INVALID_DATABASE_FILE", "bad file")
	tests := []struct {
		name    string
		created bool
		pending bool
		fillErr error
		calls   []string
		err     error
	}{
		{"filled, then keyed and complete", true, true, nil,
			[]string{"spawn s", "fill s", "exists s", "mint s", "complete s"}, nil},
		{"a failed fill removes the database, no key", true, true, bad,
			[]string{"spawn s", "fill s", "exclusive s", "delete s"}, bad},
		{"a name with an instance is refused", false, false, nil, []string{"spawn s"}, forge.ErrDatabaseExists},
		{"data of a pruned instance is never replaced", true, false, nil,
			[]string{"spawn s", "prune s"}, forge.ErrDatabaseExists},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := &world{created: tc.created, pending: map[string]bool{"s": tc.pending}}
			sp, err := newService(w).SpawnWith(context.Background(), "s", func(context.Context) error {
				w.calls = append(w.calls, "fill s")
				return tc.fillErr
			})
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("SpawnWith = %v, want %v", err, tc.err)
			}
			if (err == nil) != (sp.Key != nil && sp.Created) {
				t.Fatalf("Spawned %+v", sp)
			}
			if !slices.Equal(w.calls, tc.calls) {
				t.Fatalf("calls\n\t%s\nwant\n\t%s", strings.Join(w.calls, "\n\t"), strings.Join(tc.calls, "\n\t"))
			}
		})
	}
}
