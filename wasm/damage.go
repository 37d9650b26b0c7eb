package wasm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/praetorian/db-forge/forge"
)

// Faults of the files under a database, as opposed to faults of its SQL:
// a damaged file and a full volume. Both are named to the client as what
// they are (forge.ErrDatabaseCorrupt, forge.ErrDiskFull), and a damaged
// database is remembered, logged once and counted, so that an operator
// finds it in GET /admin/databases and /health without reading logs.

// diskFullMargin: a write that failed with SQLITE_FULL while the volume
// has less free space than this is the volume's fault, not the quota's.
const diskFullMargin = 1 << 20

// noteFault looks at the outcome err of a request on database name (whose
// file is path, "" if not known): it records a damaged database, and tells
// a full volume from a database at its quota. It returns the error the
// client is to see.
func (e *Engine) noteFault(name, path string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, forge.ErrDatabaseCorrupt) {
		e.markDamaged(name, err)
		return err
	}
	if errors.Is(err, forge.ErrDatabaseFull) && path != "" && volumeFree(filepath.Dir(path)) < diskFullMargin {
		return forge.ErrDiskFull
	}
	// A full volume also reaches here as a bare SQLITE_IOERR (see
	// volumeFullIOErr): said as the volume being full when it is.
	var se *forge.SQLError
	if errors.As(err, &se) && se.Code == "SQLITE_IOERR" && path != "" && volumeFree(filepath.Dir(path)) < diskFullMargin {
		return forge.ErrDiskFull
	}
	return err
}

// volumeFree is the space an unprivileged writer may still use on the
// volume holding dir; a large number when it cannot be told.
func volumeFree(dir string) uint64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return ^uint64(0)
	}
	return st.Bavail * uint64(st.Bsize)
}

func (e *Engine) markDamaged(name string, err error) {
	msg := err.Error()
	var ce *forge.CorruptError
	if errors.As(err, &ce) {
		msg = ce.Message
	}
	e.dmu.Lock()
	_, known := e.damaged[name]
	if !known {
		e.damaged[name] = forge.Damage{Name: name, Message: msg, Since: time.Now().UTC()}
	}
	e.dmu.Unlock()
	if !known {
		e.corruptions.Add(1)
		e.log.Warn("database file is damaged: its requests answer DATABASE_CORRUPT until it is restored or deleted",
			zap.String("db", name), zap.String("sqlite", msg))
	}
}

// clearDamage forgets a damage mark: the database passed an integrity
// check, or its files were replaced or removed.
func (e *Engine) clearDamage(name string) {
	e.dmu.Lock()
	delete(e.damaged, name)
	e.dmu.Unlock()
}

// Damaged lists the databases found damaged since start (or since their
// last passing integrity check), by name.
func (e *Engine) Damaged() []forge.Damage {
	e.dmu.Lock()
	out := make([]forge.Damage, 0, len(e.damaged))
	for _, d := range e.damaged {
		out = append(out, d)
	}
	e.dmu.Unlock()
	slices.SortFunc(out, func(a, b forge.Damage) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// maxProblems bounds the problems an integrity check reports.
const maxProblems = 100

// IntegrityCheck runs SQLite's integrity_check on database name and
// returns the problems it found (none when the database is sound). A
// database that passes loses its damage mark; one that does not gets one.
// A file SQLite cannot even open as a database is reported as a problem
// too, with err nil; err is for the check failing to run (a deadline, a
// missing database).
func (e *Engine) IntegrityCheck(ctx context.Context, name string) ([]string, error) {
	var problems []string
	err := e.with(ctx, name, false, func(c *conn) error {
		st, err := c.prepare(fmt.Sprintf("PRAGMA integrity_check(%d)", maxProblems))
		if err != nil {
			return err
		}
		defer st.reset()
		c.stepping = true
		defer func() { c.stepping = false }()
		for st.s.Step() {
			problems = append(problems, st.s.ColumnText(0))
		}
		return st.s.Err()
	})
	var ce *forge.CorruptError
	switch {
	case errors.As(err, &ce):
		return []string{ce.Message}, nil
	case err != nil:
		return nil, err
	}
	if len(problems) == 1 && problems[0] == "ok" {
		e.clearDamage(name)
		return nil, nil
	}
	if len(problems) == 0 {
		problems = []string{"integrity_check returned nothing"}
	}
	e.markDamaged(name, &forge.CorruptError{Message: problems[0]})
	return problems, nil
}

// Snapshot writes a transactionally consistent copy of database name to
// dest (SQLite's online backup, from a reader: writers go on meanwhile),
// through a temporary file renamed into place, so dest is either the old
// copy or the whole new one.
func (e *Engine) Snapshot(ctx context.Context, name, dest string) error {
	tmp := dest + ".tmp"
	_ = os.Remove(tmp)
	err := e.with(ctx, name, false, func(c *conn) error {
		return c.db.Backup("main", tmp)
	})
	if err == nil {
		err = syncFile(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, dest)
	}
	if err == nil {
		err = syncFile(filepath.Dir(dest)) // the rename itself
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("snapshot %s: %w", name, err)
	}
	return nil
}

func syncFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}
