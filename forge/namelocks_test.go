package forge_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// TestNameLocksArePerName: a key write held up on one database holds
// up no other, and a waiter on the same database gives up at its deadline.
func TestNameLocksArePerName(t *testing.T) {
	var l forge.NameLocks
	unlock, err := l.Lock(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	other, err := l.Lock(context.Background(), "b")
	if err != nil {
		t.Fatal(err)
	}
	other()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := l.Lock(ctx, "a"); !errors.Is(err, forge.ErrTimeout) {
		t.Fatalf("waiting on a held name: %v, want ErrTimeout", err)
	}
	unlock()
	again, err := l.Lock(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	again()
}
