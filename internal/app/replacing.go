package app

import (
	"context"

	"github.com/praetorian/db-forge/wasm"
)

// replacingEngine is the engine as the services that replace or remove a
// database's file see it (lifecycle: delete, expiry, restore from the
// trash; snapshot: a checkpoint's restore, a spawn from a file): whatever
// runs while the database is held exclusively may change the file, so what
// other services keep in memory about it is dropped then, before any
// connection can open on the new file (forget: the idempotency records'
// key set).
type replacingEngine struct {
	*wasm.Engine
	forget func(db string)
}

func (e replacingEngine) Exclusive(ctx context.Context, db string, fn func() error) error {
	return e.Engine.Exclusive(ctx, db, func() error {
		defer e.forget(db)
		return fn()
	})
}
