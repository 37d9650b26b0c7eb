// Package orchestratortest is the contract every orchestrator backend must
// meet, as one test suite that each backend's tests run against a real
// instance of that backend (litestream's replica_client_test pattern).
package orchestratortest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/praetorian/db-forge/forge"
)

// Backend is what the suite drives.
type Backend interface {
	Spawn(ctx context.Context, name string) (forge.Instance, bool, error)
	Prune(ctx context.Context, name string) error
	List(ctx context.Context) ([]forge.Instance, error)
	Delete(ctx context.Context, name string) error
}

// Harness gives the suite a backend and a look at the data directory.
type Harness struct {
	Backend Backend
	// HasData reports whether database name's file exists.
	HasData func(name string) bool
	// ContainerIDs: instances carry a non-empty container id.
	ContainerIDs bool
	// Prefix keeps names unique when backends share global state (Docker).
	Prefix string
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	ctx := context.Background()
	b := h.Backend
	name := func(s string) string { return h.Prefix + s }
	listed := func(t *testing.T, n string) (forge.Instance, bool) {
		t.Helper()
		list, err := b.List(ctx)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		for _, in := range list {
			if in.Name == n {
				return in, true
			}
		}
		return forge.Instance{}, false
	}

	t.Run("lifecycle", func(t *testing.T) {
		n := name("life")
		inst, created, err := b.Spawn(ctx, n)
		if err != nil || !created {
			t.Fatalf("spawn: created=%v err=%v", created, err)
		}
		if inst.Name != n || inst.Status != forge.StatusRunning || (inst.ContainerID != "") != h.ContainerIDs {
			t.Fatalf("spawned instance %+v", inst)
		}
		if !h.HasData(n) {
			t.Fatal("spawn made no database file")
		}
		again, created, err := b.Spawn(ctx, n)
		if err != nil || created || again.ContainerID != inst.ContainerID || again.Status != forge.StatusRunning {
			t.Fatalf("second spawn: %+v created=%v err=%v", again, created, err)
		}
		got, ok := listed(t, n)
		if !ok || got.ContainerID != inst.ContainerID || got.Status != forge.StatusRunning {
			t.Fatalf("listed %+v ok=%v", got, ok)
		}

		if err := b.Prune(ctx, n); err != nil {
			t.Fatalf("prune: %v", err)
		}
		if _, ok := listed(t, n); ok {
			t.Fatal("pruned instance still listed")
		}
		if !h.HasData(n) {
			t.Fatal("prune removed the data")
		}
		if err := b.Prune(ctx, n); !errors.Is(err, forge.ErrInstanceNotFound) {
			t.Fatalf("second prune: %v, want ErrInstanceNotFound", err)
		}
		if _, created, err := b.Spawn(ctx, n); err != nil || !created {
			t.Fatalf("spawn after prune: created=%v err=%v", created, err)
		}

		if err := b.Delete(ctx, n); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if h.HasData(n) {
			t.Fatal("delete left the data")
		}
		if _, ok := listed(t, n); ok {
			t.Fatal("deleted instance still listed")
		}
		if err := b.Delete(ctx, n); !errors.Is(err, forge.ErrDatabaseNotFound) {
			t.Fatalf("second delete: %v, want ErrDatabaseNotFound", err)
		}
		if err := b.Prune(ctx, n); !errors.Is(err, forge.ErrInstanceNotFound) {
			t.Fatalf("prune after delete: %v, want ErrInstanceNotFound", err)
		}
	})

	t.Run("delete a pruned database", func(t *testing.T) {
		n := name("pruned")
		if _, _, err := b.Spawn(ctx, n); err != nil {
			t.Fatal(err)
		}
		if err := b.Prune(ctx, n); err != nil {
			t.Fatal(err)
		}
		if err := b.Delete(ctx, n); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if h.HasData(n) {
			t.Fatal("data left")
		}
	})

	t.Run("invalid names", func(t *testing.T) {
		for _, n := range []string{"", "..", "../x", "a/b", "-x", "x-wal"} {
			if _, _, err := b.Spawn(ctx, n); !errors.Is(err, forge.ErrInvalidName) {
				t.Errorf("spawn %q: %v, want ErrInvalidName", n, err)
			}
		}
	})

	t.Run("case conflict", func(t *testing.T) {
		n := name("Case")
		if _, _, err := b.Spawn(ctx, n); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = b.Delete(ctx, n) }()
		if _, _, err := b.Spawn(ctx, name("CASE")); !errors.Is(err, forge.ErrNameConflict) {
			t.Fatalf("spawn differing by case: %v, want ErrNameConflict", err)
		}
	})

	t.Run("concurrent spawns create once", func(t *testing.T) {
		n := name("race")
		defer func() { _ = b.Delete(ctx, n) }()
		var created atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		ids := sync.Map{}
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				inst, c, err := b.Spawn(ctx, n)
				if err != nil {
					errs <- fmt.Errorf("spawn %d: %w", i, err)
					return
				}
				if c {
					created.Add(1)
				}
				ids.Store(inst.ContainerID, true)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if created.Load() != 1 {
			t.Fatalf("%d spawns reported created, want 1", created.Load())
		}
		count := 0
		ids.Range(func(any, any) bool { count++; return true })
		if count != 1 {
			t.Fatalf("%d distinct container ids, want 1", count)
		}
	})
}
