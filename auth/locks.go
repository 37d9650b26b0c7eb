package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/praetorian/db-forge/forge"
)

// dbLocks serialises the store writes of each database's keys (a mint, a
// revocation, the delete of all of them), so that memory follows the store
// in the store's order for that database. Writes for different databases
// do not wait for one another, and a waiter leaves when its context ends.
// Neither Verify nor List ever takes one of these locks.
type dbLocks struct {
	mu sync.Mutex
	m  map[string]*dbLock
}

type dbLock struct {
	held chan struct{} // a one-slot semaphore: full while held
	refs int           // holders and waiters; the entry goes at 0
}

// lock takes database db's write lock. If ctx ends first, the error is
// what the store would have said of a statement cut off the same way:
// forge.ErrTimeout or forge.ErrCanceled (nothing was written).
func (l *dbLocks) lock(ctx context.Context, db string) (unlock func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, waitError(err)
	}
	l.mu.Lock()
	if l.m == nil {
		l.m = make(map[string]*dbLock)
	}
	e := l.m[db]
	if e == nil {
		e = &dbLock{held: make(chan struct{}, 1)}
		l.m[db] = e
	}
	e.refs++
	l.mu.Unlock()
	select {
	case e.held <- struct{}{}:
		return func() { <-e.held; l.release(db, e) }, nil
	case <-ctx.Done():
		l.release(db, e)
		return nil, waitError(ctx.Err())
	}
}

func (l *dbLocks) release(db string, e *dbLock) {
	l.mu.Lock()
	if e.refs--; e.refs == 0 {
		delete(l.m, db)
	}
	l.mu.Unlock()
}

func waitError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: waited for another key change of the database: %w", forge.ErrTimeout, err)
	}
	return fmt.Errorf("%w: %w", forge.ErrCanceled, err)
}
