// Package local is the orchestrator backend without containers, the
// embedded default where Docker is absent. Spawn creates the database file
// and an instance record beside it; prune drops the record and keeps the
// data; delete removes both.
//
// The instance list is derived from disk — the records in each database's
// directory — rather than kept in a separate store: the data directory is
// the one thing the operator owns and backs up, a record cannot outlive the
// database it describes, and a restart has nothing to reconcile.
package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// recordKey names the instance record in a database's directory.
const recordKey = "instance"

// Volumes is what this backend needs of the data directory.
type Volumes interface {
	Create(name string) (created bool, err error)
	Remove(name string) error
	List() ([]string, error)
	ReadSidecar(name, key string) ([]byte, error)
	WriteSidecar(name, key string, data []byte) error
	DeleteSidecar(name, key string) error
}

// Backend is the local orchestrator.
type Backend struct {
	vol Volumes
	now func() time.Time
	// names orders lifecycle changes of each name (they do file I/O:
	// a delete removes a whole database); reads need no lock.
	names nameLocks
}

// New returns a local backend over vol.
func New(vol Volumes) *Backend {
	return &Backend{vol: vol, now: time.Now}
}

type record struct {
	CreatedAt time.Time `json:"created_at"`
}

// Spawn creates the database if needed and its instance. created is true
// when there was no instance (a new database, or one pruned before). A
// spawn that fails after making the database file (the instance record
// met a full volume, say) removes the file again: it leaves nothing.
func (b *Backend) Spawn(ctx context.Context, name string) (forge.Instance, bool, error) {
	unlock, err := b.names.lock(ctx, name)
	if err != nil {
		return forge.Instance{}, false, fmt.Errorf("spawn %s: %w", name, err)
	}
	defer unlock()
	made, err := b.vol.Create(name)
	if err != nil {
		return forge.Instance{}, false, fmt.Errorf("spawn %s: %w", name, err)
	}
	if inst, ok, err := b.instance(name); err != nil || ok {
		return inst, false, err
	}
	rec := record{CreatedAt: b.now().UTC()}
	data, _ := json.Marshal(rec)
	if err := b.vol.WriteSidecar(name, recordKey, data); err != nil {
		if made {
			err = errors.Join(err, b.vol.Remove(name))
		}
		return forge.Instance{}, false, fmt.Errorf("spawn %s: %w", name, err)
	}
	return forge.Instance{Name: name, Status: forge.StatusRunning, CreatedAt: rec.CreatedAt}, true, nil
}

// Prune removes the instance and keeps the data.
func (b *Backend) Prune(ctx context.Context, name string) error {
	unlock, err := b.names.lock(ctx, name)
	if err != nil {
		return fmt.Errorf("prune %s: %w", name, err)
	}
	defer unlock()
	if _, ok, err := b.instance(name); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("prune %s: %w", name, forge.ErrInstanceNotFound)
	}
	return b.vol.DeleteSidecar(name, recordKey)
}

// List returns every instance, sorted by name.
func (b *Backend) List(ctx context.Context) ([]forge.Instance, error) {
	names, err := b.vol.List()
	if err != nil {
		return nil, err
	}
	out := make([]forge.Instance, 0, len(names))
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		inst, ok, err := b.instance(name)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, inst)
		}
	}
	return out, nil
}

// Delete removes the instance and the data.
func (b *Backend) Delete(ctx context.Context, name string) error {
	unlock, err := b.names.lock(ctx, name)
	if err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	defer unlock()
	if err := b.vol.Remove(name); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// Check reports the backend's health: the local backend has no daemon.
func (b *Backend) Check(context.Context) error { return nil }

func (b *Backend) instance(name string) (forge.Instance, bool, error) {
	data, err := b.vol.ReadSidecar(name, recordKey)
	if errors.Is(err, fs.ErrNotExist) {
		return forge.Instance{}, false, nil
	}
	if err != nil {
		return forge.Instance{}, false, fmt.Errorf("instance %s: %w", name, err)
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		return forge.Instance{}, false, fmt.Errorf("instance %s: corrupt record: %w", name, err)
	}
	return forge.Instance{Name: name, Status: forge.StatusRunning, CreatedAt: rec.CreatedAt}, true, nil
}
