package gateway

import (
	"context"

	"go.uber.org/zap"

	"github.com/praetorian/db-forge/auth"
)

// Spawns tracks the databases a spawn made (package volumes' *Layout).
// Such a database is pending until Complete; one a crash leaves pending is
// removed at the next start, since nobody got its key.
type Spawns interface {
	// Pending reports whether name was made by a spawn not yet complete.
	Pending(name string) bool
	// Complete keeps name for good.
	Complete(name string) error
}

// completeSpawn finishes the spawn of a new instance of name: its first
// key (nil when the gateway has no keys), then Complete. If either fails,
// the spawn is undone and the real error returned (507 on a full volume):
// a database made by this spawn is deleted, an instance made over older
// data is pruned (the data stays).
func (s *Server) completeSpawn(ctx context.Context, name string) (*auth.Secret, error) {
	var tok *auth.Secret
	if s.auth.Keys != nil {
		_, t, err := s.mintKey(ctx, name, auth.ScopeReadWrite, 0)
		if err != nil {
			s.undoSpawn(ctx, name, false, err)
			return nil, err
		}
		tok = &t
	}
	if s.opts.Spawns != nil {
		if err := s.opts.Spawns.Complete(name); err != nil {
			s.undoSpawn(ctx, name, tok != nil, err)
			return nil, err
		}
	}
	return tok, nil
}

// undoSpawn removes what a failed spawn of name made (minted: its key
// too); cause is why. A database it cannot remove stays pending, and the
// next start removes it.
func (s *Server) undoSpawn(ctx context.Context, name string, minted bool, cause error) {
	var err error
	if s.opts.Spawns != nil && s.opts.Spawns.Pending(name) {
		if minted { // the key goes first, as in deleteDatabase
			err = s.dropKeys(ctx, name)
		}
		if err == nil {
			err = s.engine.Exclusive(ctx, name, func() error { return s.orch.Delete(ctx, name) })
		}
	} else {
		err = s.orch.Prune(ctx, name)
	}
	if err != nil {
		s.log.Error("spawn failed and could not be undone", zap.String("db", name),
			zap.NamedError("cause", cause), zap.Error(err))
		return
	}
	s.log.Warn("spawn failed and was undone", zap.String("db", name), zap.Error(cause))
}
