package volumes

import (
	"strings"
	"sync"
)

// nameLocks is a lock per database name, case-folded: two names that
// differ only by case are one database on a case-insensitive file system,
// and Create's check for such a conflict must not race the other's Create.
// Operations on different names never wait for one another, so a large
// database being removed does not hold up a spawn of another one.
//
// Names are ASCII (forge.ValidateName), so strings.ToLower folds exactly
// as strings.EqualFold compares.
type nameLocks struct {
	mu sync.Mutex
	m  map[string]*nameLock
}

type nameLock struct {
	mu   sync.Mutex
	refs int // holders and waiters; the entry goes when it drops to 0
}

// lock takes the lock of name and returns its release. It waits only for
// operations on the same (case-folded) name, each a few file-system calls.
func (n *nameLocks) lock(name string) (unlock func()) {
	key := strings.ToLower(name)
	n.mu.Lock()
	if n.m == nil {
		n.m = make(map[string]*nameLock)
	}
	e := n.m[key]
	if e == nil {
		e = &nameLock{}
		n.m[key] = e
	}
	e.refs++
	n.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		n.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(n.m, key)
		}
		n.mu.Unlock()
	}
}
