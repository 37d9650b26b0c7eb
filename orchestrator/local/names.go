package local

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/praetorian/db-forge/forge"
)

// nameLocks orders lifecycle changes per database name: a spawn, prune or
// delete of one name waits only for another operation on that name (a
// large database being removed, say), and no longer than its context.
type nameLocks struct {
	mu sync.Mutex
	m  map[string]*nameLock
}

type nameLock struct {
	held chan struct{} // a one-slot semaphore: full while held
	refs int           // holders and waiters; the entry goes at 0
}

// lock takes name's lock. If ctx is done first it returns ctx's error; a
// deadline that passed while waiting is forge.ErrBusy as well (503, retry
// shortly): the name was busy, nothing was wrong with the request.
func (n *nameLocks) lock(ctx context.Context, name string) (unlock func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n.mu.Lock()
	if n.m == nil {
		n.m = make(map[string]*nameLock)
	}
	e := n.m[name]
	if e == nil {
		e = &nameLock{held: make(chan struct{}, 1)}
		n.m[name] = e
	}
	e.refs++
	n.mu.Unlock()
	select {
	case e.held <- struct{}{}:
		return func() { <-e.held; n.release(name, e) }, nil
	case <-ctx.Done():
		n.release(name, e)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w: waited for another operation on %s: %w", forge.ErrBusy, name, ctx.Err())
		}
		return nil, ctx.Err()
	}
}

func (n *nameLocks) release(name string, e *nameLock) {
	n.mu.Lock()
	if e.refs--; e.refs == 0 {
		delete(n.m, name)
	}
	n.mu.Unlock()
}
