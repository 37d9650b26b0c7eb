package forge

import (
	"context"
	"errors"
	"sync"
)

// NameLocks is a lock per name (a database's) whose waiters watch their
// context: the spawn and delete protocols (lifecycle) and the checkpoint
// protocol (snapshot) each order their work per database with one. The
// zero value is ready; a name held by nobody costs nothing.
type NameLocks struct {
	mu   sync.Mutex
	held map[string]chan struct{} // closed when released
}

// Lock takes name's lock, waiting while another holds it: ErrTimeout when
// ctx's deadline passes first, ErrCanceled when ctx ends otherwise.
func (l *NameLocks) Lock(ctx context.Context, name string) (unlock func(), err error) {
	for {
		l.mu.Lock()
		ch, busy := l.held[name]
		if !busy {
			if l.held == nil {
				l.held = make(map[string]chan struct{})
			}
			ch = make(chan struct{})
			l.held[name] = ch
			l.mu.Unlock()
			return func() {
				l.mu.Lock()
				delete(l.held, name)
				l.mu.Unlock()
				close(ch)
			}, nil
		}
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, ErrTimeout
			}
			return nil, ErrCanceled
		}
	}
}
