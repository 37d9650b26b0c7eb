package app

import (
	"context"
	"errors"

	"github.com/praetorian/db-forge/diff"
	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/snapshot"
	"github.com/praetorian/db-forge/wasm"
)

// diffOpener adapts the engine's read snapshots (of a live database, of a
// checkpoint's file) to diff.Opener.
type diffOpener struct {
	eng   *wasm.Engine
	moves *snapshot.Service
	dbs   interface{ Exists(string) (bool, error) }
}

var _ diff.Opener = diffOpener{}

func (o diffOpener) OpenDatabase(ctx context.Context, db string) (diff.Source, error) {
	// The engine opens only files that exist, but says so as a fault
	// of the open: ask first, for a plain 404.
	if ok, err := o.dbs.Exists(db); err != nil {
		return nil, err
	} else if !ok {
		return nil, forge.ErrDatabaseNotFound
	}
	r, err := o.eng.OpenReader(ctx, db)
	if err != nil {
		return nil, err
	}
	return diffSource{r}, nil
}

func (o diffOpener) OpenCheckpoint(ctx context.Context, db, name string) (diff.Source, error) {
	var r *wasm.Reader
	err := o.moves.WithCheckpointFile(ctx, db, name, func(path string) error {
		var err error
		r, err = o.eng.OpenFileReader(ctx, path)
		if errors.Is(err, forge.ErrDatabaseNotFound) {
			return forge.ErrCheckpointNotFound // removed meanwhile
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return diffSource{r}, nil
}

// diffSource adapts *wasm.Reader to diff.Source.
type diffSource struct{ r *wasm.Reader }

func (s diffSource) Query(sql string, args ...forge.Value) (diff.Rows, error) {
	c, err := s.r.Query(sql, args...)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (s diffSource) Close() { s.r.Close() }
