package app

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
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
// while another request is in flight or was admitted within busyWindow,
// an export that took t to send a chunk waits t·(100−share)/share
// before the next, so that it takes share percent of the time it runs;
// alone, it never waits.
type exportPacer struct {
	share int // percent, 1..100
	// load is the gateway's Activity; set once before the gateway serves.
	load func() (inFlight int, admitted uint64)

	seen    atomic.Uint64 // the admitted count last seen
	changed atomic.Int64  // when it last changed (UnixNano)
}

var _ snapshot.Pacer = (*exportPacer)(nil)

func (p *exportPacer) Yield(ctx context.Context, took time.Duration) error {
	if p.share <= 0 || p.share >= 100 || p.load == nil || !p.busy() {
		return ctx.Err()
	}
	wait := min(took*time.Duration(100-p.share)/time.Duration(p.share), maxYield)
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

// busy: a request in flight now, or one admitted within busyWindow.
func (p *exportPacer) busy() bool {
	inFlight, admitted := p.load()
	now := time.Now().UnixNano()
	if p.seen.Swap(admitted) != admitted {
		p.changed.Store(now)
	}
	return inFlight > 0 || now-p.changed.Load() < int64(busyWindow)
}
