package local_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/orchestrator/local"
	"github.com/praetorian/db-forge/volumes"
)

// slowRemove is the data directory with a Remove that waits to be let go,
// like the delete of a very large database.
type slowRemove struct {
	*volumes.Layout
	removing chan string
	release  chan struct{}
}

func (s slowRemove) Remove(name string) error {
	s.removing <- name
	<-s.release
	return s.Layout.Remove(name)
}

// A delete holds only its own name: while it removes a large database,
// spawns, prunes and deletes of other names go ahead, and an operation on
// the same name gives up when its context ends instead of hanging.
func TestLockDeleteBlocksOnlyItsName(t *testing.T) {
	t.Parallel()
	vol, err := volumes.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	slow := slowRemove{Layout: vol, removing: make(chan string), release: make(chan struct{})}
	b := local.New(slow)
	ctx := t.Context()
	for _, n := range []string{"big", "small"} {
		if _, _, err := b.Spawn(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	deleted := make(chan error, 1)
	go func() { deleted <- b.Delete(ctx, "big") }()
	<-slow.removing // the delete of big holds big's lock, in Remove

	done := make(chan error, 1)
	go func() {
		if _, created, err := b.Spawn(ctx, "other"); err != nil || !created {
			done <- errors.Join(err, errors.New("other not created"))
			return
		}
		done <- b.Prune(ctx, "small")
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second): // a safety net: with one lock this never returns
		t.Fatal("a spawn of another name waited for big's delete")
	}

	// The same name waits, but no longer than its deadline.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, _, err := b.Spawn(short, "big"); !errors.Is(err, forge.ErrBusy) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Spawn(big) during its delete = %v; want ErrBusy after the deadline", err)
	}
	canceled, cancel2 := context.WithCancel(ctx)
	cancel2()
	if err := b.Prune(canceled, "big"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Prune with a canceled context = %v", err)
	}

	close(slow.release)
	if err := <-deleted; err != nil {
		t.Fatal(err)
	}
	if _, created, err := b.Spawn(ctx, "big"); err != nil || !created {
		t.Fatalf("Spawn(big) after its delete = %v, %v", created, err)
	}
}
