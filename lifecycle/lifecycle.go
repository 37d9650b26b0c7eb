// Package lifecycle holds the protocols that make and remove a database
// with its keys — spawn (mint the first key, complete, undo on failure)
// and delete (keys, data under Exclusive, keys again) — so that every
// front end runs the same steps in the same order: the HTTP gateway
// today, a CLI or an MCP server tomorrow. It knows no HTTP; it declares
// the small ports it needs, and its errors are the ports' own (forge and
// auth sentinels), which each front end maps as it maps any other.
package lifecycle

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/praetorian/db-forge/auth"
	"github.com/praetorian/db-forge/forge"
)

// Engine is the slice of the SQL engine a delete needs.
type Engine interface {
	// Exclusive runs fn while db has no open connection and none can open.
	Exclusive(ctx context.Context, db string, fn func() error) error
}

// Orchestrator manages database instances.
type Orchestrator interface {
	// Spawn makes sure name has its database and a running instance;
	// created reports whether the instance is new.
	Spawn(ctx context.Context, name string) (inst forge.Instance, created bool, err error)
	// Prune removes the instance and keeps the data.
	Prune(ctx context.Context, name string) error
	// Delete removes the instance and the data.
	Delete(ctx context.Context, name string) error
}

// Keys is the slice of the API key table (package auth's *Keys) that
// making and removing databases touches.
type Keys interface {
	Create(ctx context.Context, db string, scope auth.Scope, expiresIn time.Duration) (auth.Key, auth.Secret, error)
	// DeleteDatabase forgets every key of db.
	DeleteDatabase(ctx context.Context, db string) error
}

// Databases says whether a database exists (has its file).
type Databases interface {
	Exists(name string) (bool, error)
}

// Spawns tracks the databases a spawn made (package volumes' *Layout).
// Such a database is pending until Complete; one a crash leaves pending is
// removed at the next start, since nobody got its key.
type Spawns interface {
	// Pending reports whether name was made by a spawn not yet complete.
	Pending(name string) bool
	// Complete keeps name for good.
	Complete(name string) error
}

// Ports are what a Service works with. Engine and Orchestrator are
// required; a nil Keys means a deployment without keys (a spawn mints
// none, a delete sweeps none), a nil Databases that every database is
// taken to exist, a nil Spawns that no spawn is tracked.
type Ports struct {
	Engine       Engine
	Orchestrator Orchestrator
	Keys         Keys
	Databases    Databases
	Spawns       Spawns
	// Leases and Trash, when set, give databases leases and keep expired
	// ones in a trash (leases.go); nil: databases never expire.
	Leases Leases
	Trash  Trash
	Log    *zap.Logger      // nil: no log
	Now    func() time.Time // the clock of leases; nil: time.Now
}

// Service runs the lifecycle protocols. One Service per process: its
// lock orders minting a key (after checking that the database exists)
// with the sweeps of a database's keys during its deletion, so every
// front end of the process must share it.
type Service struct {
	p Ports
	// keyLocks order, per database, mints with the key sweeps of Delete,
	// so that no key is made for a database in the middle of its deletion
	// and survives it to open a successor of the same name. Per name: a
	// slow key write of one database holds up no other.
	keyLocks forge.NameLocks
	// leaseLocks order, per database, the changes of its lease with its
	// expiry and its restore (leases.go).
	leaseLocks forge.NameLocks
}

// New makes the Service of p.
func New(p Ports) *Service {
	if p.Log == nil {
		p.Log = zap.NewNop()
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	return &Service{p: p}
}

// Spawned is the outcome of a spawn.
type Spawned struct {
	Instance forge.Instance
	// Created reports whether the instance is new. An idempotent
	// re-spawn mints no key: keys nobody asked for must not pile up.
	Created bool
	// Key is the first key of a new instance, in this answer and nowhere
	// else; nil when the instance is not new or there are no keys.
	Key *auth.Secret
	// ExpiresAt is the end of the lease the spawn gave; zero: none given.
	ExpiresAt time.Time
}

// Spawn makes sure name has its database and a running instance. For a
// new instance it then mints the database's first read-write key and
// marks the spawn complete; if either fails, the spawn is undone and
// that error returned (a full volume, say): a database made by this
// spawn is deleted, an instance made over older data is pruned (the data
// stays).
func (s *Service) Spawn(ctx context.Context, name string) (Spawned, error) {
	return s.SpawnLeased(ctx, name, 0, nil)
}

// SpawnWith spawns database name as Spawn does, and fills it with fill
// before its key is minted: a database made from a file or a script. The
// database must be new (forge.ErrDatabaseExists if it has data already:
// a fill never replaces data); if fill fails, the spawn is undone, so a
// failed spawn leaves no file, no record and no key.
func (s *Service) SpawnWith(ctx context.Context, name string, fill func(ctx context.Context) error) (Spawned, error) {
	return s.SpawnLeased(ctx, name, 0, fill)
}

// SpawnLeased is Spawn (fill nil) or SpawnWith (fill set) with a lease:
// ttl > 0 makes the database expire ttl from now. A new database gets its
// lease before its key is handed out (a lease that cannot be recorded
// undoes the spawn); an existing one has its lease renewed. A database
// whose lease has run out is expired first: its name is free.
func (s *Service) SpawnLeased(ctx context.Context, name string, ttl time.Duration, fill func(ctx context.Context) error) (Spawned, error) {
	if err := s.expireIfDue(ctx, name); err != nil {
		return Spawned{}, err
	}
	inst, created, err := s.p.Orchestrator.Spawn(ctx, name)
	if err != nil {
		return Spawned{}, err
	}
	if !created {
		if fill != nil {
			return Spawned{}, fmt.Errorf("%s: %w", name, forge.ErrDatabaseExists)
		}
		sp := Spawned{Instance: inst}
		if ttl > 0 {
			if sp.ExpiresAt, err = s.SetLease(ctx, name, ttl); err != nil {
				return Spawned{}, err
			}
		}
		return sp, nil
	}
	if fill != nil {
		if s.p.Spawns != nil && !s.p.Spawns.Pending(name) {
			// An instance made anew over data that was there: prune it
			// again, the data stays.
			err := fmt.Errorf("%s: %w", name, forge.ErrDatabaseExists)
			s.undoSpawn(ctx, name, false, err)
			return Spawned{}, err
		}
		if err := fill(ctx); err != nil {
			// The fill may have failed because ctx ended: the undo gets
			// time of its own.
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
			defer cancel()
			s.undoSpawn(uctx, name, false, err)
			return Spawned{}, err
		}
	}
	var at time.Time
	if ttl > 0 {
		at = s.leaseEnd(ttl)
	}
	tok, err := s.completeSpawn(ctx, name, at)
	if err != nil {
		return Spawned{}, err
	}
	return Spawned{Instance: inst, Created: true, Key: tok, ExpiresAt: at}, nil
}

// undoTimeout bounds the undoing of a spawn whose fill failed.
const undoTimeout = 30 * time.Second

// completeSpawn mints a new database's first key, gives it its lease
// until expiresAt (zero: none) and marks the spawn complete; a failure
// undoes the spawn.
func (s *Service) completeSpawn(ctx context.Context, name string, expiresAt time.Time) (*auth.Secret, error) {
	var tok *auth.Secret
	if s.p.Keys != nil {
		_, t, err := s.MintKey(ctx, name, auth.ScopeReadWrite, 0)
		if err != nil {
			s.undoSpawn(ctx, name, false, err)
			return nil, err
		}
		tok = &t
	}
	if !expiresAt.IsZero() {
		if s.p.Leases == nil {
			err := errNoLeases
			s.undoSpawn(ctx, name, tok != nil, err)
			return nil, err
		}
		if err := s.p.Leases.Set(name, expiresAt); err != nil {
			s.undoSpawn(ctx, name, tok != nil, err)
			s.p.Leases.Forget(name)
			return nil, err
		}
	}
	if s.p.Spawns != nil {
		if err := s.p.Spawns.Complete(name); err != nil {
			s.undoSpawn(ctx, name, tok != nil, err)
			return nil, err
		}
	}
	return tok, nil
}

// undoSpawn removes what a failed spawn of name made (minted: its key
// too); cause is why. A database it cannot remove stays pending, and the
// next start removes it.
func (s *Service) undoSpawn(ctx context.Context, name string, minted bool, cause error) {
	var err error
	if s.p.Spawns != nil && s.p.Spawns.Pending(name) {
		if minted { // the key goes first, as in Delete
			err = s.dropKeys(ctx, name)
		}
		if err == nil {
			err = s.p.Engine.Exclusive(ctx, name, func() error { return s.p.Orchestrator.Delete(ctx, name) })
		}
	} else {
		err = s.p.Orchestrator.Prune(ctx, name)
	}
	if err != nil {
		s.p.Log.Error("spawn failed and could not be undone", zap.String("db", name),
			zap.NamedError("cause", cause), zap.Error(err))
		return
	}
	s.p.Log.Warn("spawn failed and was undone", zap.String("db", name), zap.Error(cause))
}

// Prune removes name's instance and keeps its data and its keys.
func (s *Service) Prune(ctx context.Context, name string) error {
	return s.p.Orchestrator.Prune(ctx, name)
}

// Delete removes database name, its instance and every key of it. The
// keys go before the data: a delete that fails half-way leaves a database
// no old key opens, never keys that would open a successor of the same
// name. No connection may hold the file while it goes, and none may open
// it. A key minted while it was being removed goes in a second sweep.
func (s *Service) Delete(ctx context.Context, name string) error {
	if err := s.dropKeys(ctx, name); err != nil {
		return err
	}
	err := s.p.Engine.Exclusive(ctx, name, func() error { return s.p.Orchestrator.Delete(ctx, name) })
	if err != nil {
		return err
	}
	if s.p.Leases != nil {
		s.p.Leases.Forget(name) // its record went with its directory
	}
	return s.dropKeys(ctx, name)
}

// MintKey makes a key for database db if it exists (an error wrapping
// forge.ErrDatabaseNotFound if not); its secret is shown to the caller
// and kept nowhere. The check and the mint are one step with respect to
// Delete's sweeps.
func (s *Service) MintKey(ctx context.Context, db string, scope auth.Scope, expiresIn time.Duration) (auth.Key, auth.Secret, error) {
	if s.p.Keys == nil {
		return auth.Key{}, auth.Secret{}, fmt.Errorf("mint key for %s: no key table", db)
	}
	unlock, err := s.keyLocks.Lock(ctx, db)
	if err != nil {
		return auth.Key{}, auth.Secret{}, err
	}
	defer unlock()
	if err := s.MustExist(db); err != nil {
		return auth.Key{}, auth.Secret{}, err
	}
	return s.p.Keys.Create(ctx, db, scope, expiresIn)
}

// MustExist is nil when database db has its file, an error wrapping
// forge.ErrDatabaseNotFound when it has not, or its lease has run out.
func (s *Service) MustExist(db string) error {
	if s.p.Leases != nil && s.p.Leases.Expired(db) {
		return fmt.Errorf("%s: expired: %w", db, forge.ErrDatabaseNotFound)
	}
	if s.p.Databases == nil {
		return nil
	}
	ok, err := s.p.Databases.Exists(db)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s: %w", db, forge.ErrDatabaseNotFound)
	}
	return nil
}

// dropKeys forgets every key of database db.
func (s *Service) dropKeys(ctx context.Context, db string) error {
	if s.p.Keys == nil {
		return nil
	}
	unlock, err := s.keyLocks.Lock(ctx, db)
	if err != nil {
		return err
	}
	defer unlock()
	return s.p.Keys.DeleteDatabase(ctx, db)
}
