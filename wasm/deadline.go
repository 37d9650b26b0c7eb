package wasm

import (
	"context"
	"time"
)

// bounded is a request's context inside the engine: the caller's context
// plus the statement deadline, without a timer. context.WithTimeout would
// arm a runtime timer and allocate five objects per request; the engine
// needs neither. ncruces only ever polls Err() of a connection's interrupt
// context (from SQLite's progress handler and before each call), so Err
// compares the clock with the deadline; and the engine's own waits go
// through waitTimer, which arms a timer only when a wait must block.
//
// Done is the caller's: it does not close at the deadline. That bends the
// context contract, so a bounded never leaves the engine.
type bounded struct {
	context.Context
	deadline time.Time
}

func (b *bounded) Deadline() (time.Time, bool) { return b.deadline, true }

func (b *bounded) Err() error {
	if err := b.Context.Err(); err != nil {
		return err
	}
	// time.Until reads the monotonic clock alone (the deadline carries a
	// monotonic reading); time.Now would read the wall clock too. Err is
	// polled before every step of a statement and from SQLite's progress
	// handler, so once per row of a scan.
	if time.Until(b.deadline) <= 0 {
		return context.DeadlineExceeded
	}
	return nil
}

// waitTimer returns a channel that fires at ctx's deadline (nil when it
// has none: a nil channel never fires) and the function that releases it.
// Call it only on the slow path, once a non-blocking attempt has failed.
func waitTimer(ctx context.Context) (<-chan time.Time, func()) {
	d, ok := ctx.Deadline()
	if !ok {
		return nil, func() {}
	}
	t := time.NewTimer(time.Until(d))
	return t.C, func() { t.Stop() }
}

// both is a statement's context inside a unit of work when the caller
// gave the statement a context of its own: it ends when the unit's or the
// statement's does. Like bounded it only serves as a connection's
// interrupt and for telling a timeout from a cancellation (Err), so Done
// is the unit's; it never leaves the engine.
type both struct {
	context.Context // the unit's
	stmt            context.Context
}

func (b *both) Deadline() (time.Time, bool) {
	d, ok := b.Context.Deadline()
	if sd, sok := b.stmt.Deadline(); sok && (!ok || sd.Before(d)) {
		return sd, true
	}
	return d, ok
}

func (b *both) Err() error {
	if err := b.Context.Err(); err != nil {
		return err
	}
	return b.stmt.Err()
}
