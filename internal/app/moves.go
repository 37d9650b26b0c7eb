package app

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/praetorian/db-forge/config"
	"github.com/praetorian/db-forge/snapshot"
	"github.com/praetorian/db-forge/volumes"
	"github.com/praetorian/db-forge/wasm"
)

// movesEngine adapts the engine to snapshot.Engine.
type movesEngine struct{ replacingEngine }

func (m movesEngine) CopyTo(ctx context.Context, db, dest string, export bool) error {
	return m.Engine.CopyTo(ctx, db, dest, wasm.CopyOptions{DropReserved: export, Sync: !export})
}

// StreamFile: the engine's snapshot stream; a database it cannot
// stream is not ok, for CopyTo's way.
func (m movesEngine) StreamFile(ctx context.Context, db string) (io.ReadCloser, int64, bool, error) {
	s, err := m.Engine.StreamFile(ctx, db)
	if errors.Is(err, wasm.ErrNotStreamable) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, err
	}
	return s, s.Size(), true, nil
}

var (
	_ snapshot.Engine       = movesEngine{}
	_ snapshot.FileStreamer = movesEngine{}
)

// newMoves is the service of exports, imports and checkpoints.
func newMoves(eng replacingEngine, vol *volumes.Layout, cfg config.Config, pacer snapshot.Pacer) *snapshot.Service {
	return snapshot.New(movesEngine{eng}, vol, snapshot.Config{
		MaxDBBytes:         mib(cfg.MaxDBSizeMB),
		MaxCheckpoints:     cfg.MaxCheckpoints,
		MaxCheckpointBytes: mib(cfg.MaxCheckpointMB),
		MaxStatementBytes:  cfg.SQLLimits.SQLLength,
		Settle:             wasm.Settle,
		Pacer:              pacer,
	})
}

// busyWindow: a request admitted this recently still counts as the
// gateway being busy (point queries come and go in microseconds, so
// "in flight at this instant" alone would often miss them).
const busyWindow = 20 * time.Millisecond

// maxYield bounds one wait of an export: a chunk slowed by a slow client
// already leaves the CPU to others, and the answer must be sent within
// the write timeout.
const maxYield = 100 * time.Millisecond

// exportPacer paces exports (snapshot.Pacer) from the gateway's figures:
// while another request is in flight, or one was admitted within
// busyWindow since the copy began, a copy that took t to send a chunk
// waits t·(100−share)/share before the next, so that it takes share
// percent of the time it runs; alone, it never waits. The requests
// admitted before the copy began (its own among them) do not count.
type exportPacer struct {
	share int // percent, 1..100
	// load is the gateway's Activity; set once before the gateway serves.
	load func() (inFlight int, admitted uint64)
}

var _ snapshot.Pacer = (*exportPacer)(nil)

func (p *exportPacer) Start() func(context.Context, time.Duration) error {
	if p.share <= 0 || p.share >= 100 || p.load == nil {
		return func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	}
	c := &pacedCopy{p: p}
	_, c.seen = p.load()
	return c.yield
}

// pacedCopy is the pacing of one copy.
type pacedCopy struct {
	p       *exportPacer
	seen    uint64    // the admitted count at the last look
	changed time.Time // when it was last seen to change
}

func (c *pacedCopy) yield(ctx context.Context, took time.Duration) error {
	if !c.busy(time.Now()) {
		return ctx.Err()
	}
	wait := min(took*time.Duration(100-c.p.share)/time.Duration(c.p.share), maxYield)
	if wait <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// busy: a request in flight now, or one admitted since the copy began
// and within busyWindow.
func (c *pacedCopy) busy(now time.Time) bool {
	inFlight, admitted := c.p.load()
	if admitted != c.seen {
		c.seen, c.changed = admitted, now
	}
	return inFlight > 0 || now.Sub(c.changed) < busyWindow
}
