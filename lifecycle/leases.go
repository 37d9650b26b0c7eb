package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/praetorian/db-forge/auth"
	"github.com/praetorian/db-forge/forge"
)

// Leases and the trash. A database may have a lease (a time to live, set
// at its spawn or later); when it runs out the database stops answering
// at once, as if deleted, and Expire moves it to the trash: its keys go
// (the name is free, and a database spawned under it must not open to
// them, as after a Delete), its instance is pruned (a Docker worker is
// removed), and its directory and checkpoints are moved, not copied. The
// admin can Restore it within the retention: the data comes back with a
// new instance and a new key. A Delete never goes through the trash.

// Leases is the lease table (package leases' *Table).
type Leases interface {
	// Expired reports whether name's lease has run out.
	Expired(name string) bool
	// ExpiresAt is name's lease's end; false when it has none.
	ExpiresAt(name string) (time.Time, bool)
	// Set gives name a lease until at (durable before it returns).
	Set(name string, at time.Time) error
	// Clear removes name's lease.
	Clear(name string) error
	// Forget drops name's lease from memory (its record went with it).
	Forget(name string)
}

// Trash keeps expired databases (package volumes' *Layout).
type Trash interface {
	// Retain moves database name into the trash.
	Retain(name string, expiredAt time.Time) error
	// Unretain moves it back, without the sidecar records drop names;
	// forge.ErrNotInTrash or forge.ErrNameInUse when it cannot.
	Unretain(name string, drop ...string) error
}

// errNoLeases: a lease was asked of a Service without Leases.
var errNoLeases = errors.New("this gateway gives no leases")

func (s *Service) now() time.Time { return s.p.Now() }

// leaseEnd is the end of a lease of ttl from now, rounded up to a whole
// second: the time the answers show (RFC 3339, in seconds) is exactly
// when the database expires.
func (s *Service) leaseEnd(ttl time.Duration) time.Time {
	at := s.now().Add(ttl)
	if r := at.Truncate(time.Second); !r.Equal(at) {
		at = r.Add(time.Second)
	}
	return at
}

// SetLease gives database name a lease of ttl from now and returns its
// end; ttl 0 removes the lease (the zero time). The database must exist
// and not have expired.
func (s *Service) SetLease(ctx context.Context, name string, ttl time.Duration) (time.Time, error) {
	if s.p.Leases == nil {
		return time.Time{}, errNoLeases
	}
	unlock, err := s.leaseLocks.Lock(ctx, name)
	if err != nil {
		return time.Time{}, err
	}
	defer unlock()
	if err := s.MustExist(name); err != nil {
		return time.Time{}, err
	}
	if ttl <= 0 {
		return time.Time{}, s.p.Leases.Clear(name)
	}
	at := s.leaseEnd(ttl)
	return at, s.p.Leases.Set(name, at)
}

// expireIfDue expires database name now if its lease has run out (a
// spawn of its name must find it gone).
func (s *Service) expireIfDue(ctx context.Context, name string) error {
	if s.p.Leases == nil || !s.p.Leases.Expired(name) {
		return nil
	}
	return s.Expire(ctx, name)
}

// Expire moves database name to the trash if its lease has run out (else
// it does nothing): keys first, as in Delete, then the instance and the
// data under the engine's exclusive access, then a second sweep of keys.
func (s *Service) Expire(ctx context.Context, name string) error {
	if s.p.Leases == nil || s.p.Trash == nil {
		return errNoLeases
	}
	unlock, err := s.leaseLocks.Lock(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	if !s.p.Leases.Expired(name) {
		return nil // renewed, restored or deleted meanwhile
	}
	expiredAt, _ := s.p.Leases.ExpiresAt(name)
	if err := s.dropKeys(ctx, name); err != nil {
		return err
	}
	err = s.p.Engine.Exclusive(ctx, name, func() error {
		if err := s.p.Orchestrator.Prune(ctx, name); err != nil && !errors.Is(err, forge.ErrInstanceNotFound) {
			return err
		}
		return s.p.Trash.Retain(name, expiredAt)
	})
	if errors.Is(err, forge.ErrDatabaseNotFound) {
		err = nil // deleted meanwhile: nothing to keep
	}
	if err != nil {
		return fmt.Errorf("expire %s: %w", name, err)
	}
	s.p.Leases.Forget(name)
	return s.dropKeys(ctx, name)
}

// Restore brings database name back from the trash with a new instance
// and a new read-write key (its old keys went when it expired), and, with
// ttl > 0, a new lease. forge.ErrNotInTrash when the trash has no such
// database, forge.ErrNameInUse when a database of the name exists. If the
// instance cannot be made, the database goes back to the trash.
func (s *Service) Restore(ctx context.Context, name string, ttl time.Duration) (Spawned, error) {
	if s.p.Leases == nil || s.p.Trash == nil {
		return Spawned{}, errNoLeases
	}
	if err := s.expireIfDue(ctx, name); err != nil {
		return Spawned{}, err
	}
	unlock, err := s.leaseLocks.Lock(ctx, name)
	if err != nil {
		return Spawned{}, err
	}
	defer unlock()
	if err := s.p.Trash.Unretain(name, leaseRecord); err != nil {
		return Spawned{}, err
	}
	inst, _, err := s.p.Orchestrator.Spawn(ctx, name)
	if err != nil {
		s.backToTrash(ctx, name, err)
		return Spawned{}, err
	}
	sp := Spawned{Instance: inst, Created: true}
	if ttl > 0 {
		sp.ExpiresAt = s.leaseEnd(ttl)
		if err := s.p.Leases.Set(name, sp.ExpiresAt); err != nil {
			s.backToTrash(ctx, name, err)
			return Spawned{}, err
		}
	}
	if s.p.Keys != nil {
		// The key lock orders this mint with a Delete's sweeps.
		kunlock, err := s.keyLocks.Lock(ctx, name)
		if err != nil {
			return Spawned{}, err
		}
		_, tok, err := s.p.Keys.Create(ctx, name, auth.ScopeReadWrite, 0)
		kunlock()
		if err != nil {
			return Spawned{}, err
		}
		sp.Key = &tok
	}
	return sp, nil
}

// leaseRecord is the sidecar of a lease (package leases' RecordKey): a
// restored database comes back without its old, run-out lease.
const leaseRecord = "lease"

// backToTrash undoes a restore that could not finish; cause is why.
func (s *Service) backToTrash(ctx context.Context, name string, cause error) {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	s.p.Leases.Forget(name)
	err := s.p.Engine.Exclusive(uctx, name, func() error {
		if err := s.p.Orchestrator.Prune(uctx, name); err != nil && !errors.Is(err, forge.ErrInstanceNotFound) {
			return err
		}
		return s.p.Trash.Retain(name, s.now())
	})
	if err != nil {
		s.p.Log.Error("restore failed and could not be undone: the database is back, without a key",
			zap.String("db", name), zap.NamedError("cause", cause), zap.Error(err))
		return
	}
	s.p.Log.Warn("restore failed; the database is in the trash again", zap.String("db", name), zap.Error(cause))
}
