package app

import (
	"context"
	"errors"
	"io"

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
func newMoves(eng replacingEngine, vol *volumes.Layout, cfg config.Config) *snapshot.Service {
	return snapshot.New(movesEngine{eng}, vol, snapshot.Config{
		MaxDBBytes:         mib(cfg.MaxDBSizeMB),
		MaxCheckpoints:     cfg.MaxCheckpoints,
		MaxCheckpointBytes: mib(cfg.MaxCheckpointMB),
		MaxStatementBytes:  cfg.SQLLimits.SQLLength,
		Settle:             wasm.Settle,
	})
}
