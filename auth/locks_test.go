package auth

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// blockingSQL is a store whose next write, once armed, waits to be
// released (a slow disk, a long group commit); reads and other writes go
// to the real store.
type blockingSQL struct {
	SQL
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (b *blockingSQL) Exec(ctx context.Context, sql string, args ...forge.Value) (int64, error) {
	if b.armed.CompareAndSwap(true, false) {
		b.entered <- struct{}{}
		<-b.release
	}
	return b.SQL.Exec(ctx, sql, args...)
}

// While one database's key write waits on the store, Verify and List
// answer at once, and the keys of other databases can still be minted,
// revoked and deleted; a change of the same database waits, no longer
// than its context.
func TestLockStoreWriteBlocksOnlyItsDatabase(t *testing.T) {
	t.Parallel()
	store := &blockingSQL{SQL: openStore(t, newDataDir(t)), entered: make(chan struct{}), release: make(chan struct{})}
	ctx := context.Background()
	k, err := New(ctx, store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, aTok := mustCreate(t, k, "a", ScopeReadWrite, 0)
	bKey, bTok := mustCreate(t, k, "b", ScopeReadWrite, 0)
	mustCreate(t, k, "c", ScopeReadOnly, 0)

	store.armed.Store(true)
	type minted struct {
		key Key
		tok Secret
		err error
	}
	slow := make(chan minted, 1)
	go func() {
		key, tok, err := k.Create(ctx, "a", ScopeReadOnly, 0)
		slow <- minted{key, tok, err}
	}()
	<-store.entered // a's mint is in the store, holding a's write lock

	done := make(chan error, 1)
	go func() {
		done <- func() error {
			for _, tok := range []Secret{aTok, bTok} {
				if _, err := k.Verify(tok.Reveal()); err != nil {
					return err
				}
			}
			if n := len(k.List("a")); n != 1 {
				return errors.New("List(a) does not show a's one stored key")
			}
			if n := len(k.List("b")); n != 1 {
				return errors.New("List(b) wrong")
			}
			_, tok, err := k.Create(ctx, "b", ScopeReadOnly, 0)
			if err != nil {
				return err
			}
			if _, err := k.Verify(tok.Reveal()); err != nil {
				return err
			}
			if err := k.Revoke(ctx, "b", bKey.ID); err != nil {
				return err
			}
			if _, err := k.Verify(bTok.Reveal()); err != ErrRevoked {
				return errors.New("b's key not revoked once Revoke returned")
			}
			return k.DeleteDatabase(ctx, "c")
		}()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second): // a safety net: with one lock this never returns
		t.Fatal("reads or other databases' writes waited for a's store write")
	}

	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := k.DeleteDatabase(short, "a"); !errors.Is(err, forge.ErrTimeout) {
		t.Fatalf("DeleteDatabase(a) during a's mint = %v; want ErrTimeout at the deadline", err)
	}
	if _, err := k.Verify(aTok.Reveal()); err != nil {
		t.Fatalf("a's key after a delete that never ran: %v", err)
	}

	close(store.release)
	m := <-slow
	if m.err != nil {
		t.Fatal(m.err)
	}
	if got, err := k.Verify(m.tok.Reveal()); err != nil || got.ID != m.key.ID {
		t.Fatalf("the slow mint's key: %v, %v", got, err)
	}
	if n := len(k.List("a")); n != 2 {
		t.Fatalf("List(a) has %d keys after the mint, want 2", n)
	}
	// The delete that follows a mint sweeps it.
	if err := k.DeleteDatabase(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Verify(m.tok.Reveal()); err != ErrUnknownKey {
		t.Fatalf("the mint's key after the delete: %v", err)
	}
	if len(k.minting) != 0 || len(k.mintingHash) != 0 || len(k.writes.m) != 0 {
		t.Fatalf("left behind: %d minting, %d hashes, %d locks", len(k.minting), len(k.mintingHash), len(k.writes.m))
	}
}
