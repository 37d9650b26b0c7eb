package volumes

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// The trash of expired databases: <root>/.forge/retained/<name>/ holds
// the database's directory (db/), its checkpoints (checkpoints/) and a
// record of when it went (entry.json), until the admin restores it or the
// janitor purges it after the retention. One entry per name: a database
// of that name that expires later replaces it. Unlike .forge/trash (the
// staging of deletions, emptied at every start), this one survives
// restarts. Only expiry puts a database here; a DELETE does not.

const (
	retainedDir = "retained"
	entryFile   = "entry.json"
	entryDB     = "db"
	entryCPs    = "checkpoints"
)

var (
	// ErrNotInTrash: the trash holds no database of that name.
	ErrNotInTrash = forge.ErrNotInTrash
	// ErrNameInUse: a database of that name exists.
	ErrNameInUse = forge.ErrNameInUse
)

// Trashed is one database in the trash.
type Trashed struct {
	Name string
	// ExpiredAt is when its lease ran out; TrashedAt when it was moved.
	ExpiredAt, TrashedAt time.Time
	// SizeBytes is what its files take (checkpoints included).
	SizeBytes int64
}

type entryRecord struct {
	ExpiredAt time.Time `json:"expired_at"`
	TrashedAt time.Time `json:"trashed_at"`
}

func (l *Layout) retainedPath(name string) (string, error) {
	if err := forge.ValidateName(name); err != nil {
		return "", err
	}
	return l.within(l.SystemPath(retainedDir, name))
}

// Retain moves database name (its directory and its checkpoints) into the
// trash, recording expiredAt; an older entry of the name is removed. The
// database disappears at once (renames); nothing is copied. No connection
// may hold it (the caller holds the engine's Exclusive).
func (l *Layout) Retain(name string, expiredAt time.Time) error {
	dir, err := l.Dir(name)
	if err != nil {
		return err
	}
	entry, err := l.retainedPath(name)
	if err != nil {
		return err
	}
	cps, err := l.CheckpointDir(name)
	if err != nil {
		return err
	}
	unlock := l.names.lock(name)
	defer unlock()
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", name, forge.ErrDatabaseNotFound)
	}
	if err := os.MkdirAll(filepath.Dir(entry), dirMode); err != nil {
		return fmt.Errorf("retain %s: %w", name, diskFull(err))
	}
	// An older entry of the name goes to the deletions' trash first.
	if _, err := os.Lstat(entry); err == nil {
		old := l.SystemPath(trashDir, "retained."+name+"."+uniqueSuffix(l))
		if err := os.Rename(entry, old); err != nil {
			return fmt.Errorf("retain %s: %w", name, err)
		}
		defer func() { _ = l.removeAll(old) }()
	}
	if err := os.Mkdir(entry, dirMode); err != nil {
		return fmt.Errorf("retain %s: %w", name, diskFull(err))
	}
	rec, _ := json.Marshal(entryRecord{ExpiredAt: expiredAt.UTC(), TrashedAt: time.Now().UTC()})
	if err := writeAtomic(filepath.Join(entry, entryFile), rec); err != nil {
		_ = os.RemoveAll(entry)
		return fmt.Errorf("retain %s: %w", name, diskFull(err))
	}
	// The checkpoints go first, as in Remove: a crash in between leaves
	// an entry without its database, which the next start returns
	// (recoverRetained).
	if _, err := os.Lstat(cps); err == nil {
		if err := os.Rename(cps, filepath.Join(entry, entryCPs)); err != nil {
			_ = os.RemoveAll(entry)
			return fmt.Errorf("retain %s: %w", name, err)
		}
	}
	if err := os.Rename(dir, filepath.Join(entry, entryDB)); err != nil {
		if _, serr := os.Lstat(filepath.Join(entry, entryCPs)); serr == nil {
			_ = os.Rename(filepath.Join(entry, entryCPs), cps)
		}
		_ = os.RemoveAll(entry)
		return fmt.Errorf("retain %s: %w", name, err)
	}
	_ = syncDir(filepath.Dir(dir))
	_ = syncDir(filepath.Dir(cps))
	_ = syncDir(entry)
	_ = os.Remove(l.SystemPath(pendingDir, name))
	return nil
}

// Unretain moves database name back from the trash, without the sidecars
// drop names (its lease, say). ErrNotInTrash when there is no entry,
// ErrNameInUse when a database of the name (in any case) exists.
func (l *Layout) Unretain(name string, drop ...string) error {
	dir, err := l.Dir(name)
	if err != nil {
		return err
	}
	entry, err := l.retainedPath(name)
	if err != nil {
		return err
	}
	cps, err := l.CheckpointDir(name)
	if err != nil {
		return err
	}
	unlock := l.names.lock(name)
	defer unlock()
	if _, err := os.Lstat(filepath.Join(entry, entryDB)); err != nil {
		return fmt.Errorf("%s: %w", name, ErrNotInTrash)
	}
	if _, err := os.Lstat(dir); err == nil {
		return fmt.Errorf("%s: %w", name, ErrNameInUse)
	}
	if err := l.checkCaseConflict(name); err != nil {
		return err
	}
	for _, key := range drop {
		if err := validKey(key); err != nil {
			return err
		}
		p := filepath.Join(entry, entryDB, key+".json")
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("restore %s: %w", name, err)
		}
	}
	if err := os.Rename(filepath.Join(entry, entryDB), dir); err != nil {
		return fmt.Errorf("restore %s: %w", name, err)
	}
	_ = syncDir(filepath.Dir(dir))
	if _, err := os.Lstat(filepath.Join(entry, entryCPs)); err == nil {
		_ = l.removeAll(cps) // a crash's leftovers: no database had them
		if err := os.MkdirAll(filepath.Dir(cps), dirMode); err == nil {
			_ = os.Rename(filepath.Join(entry, entryCPs), cps)
		}
	}
	return l.removeAll(entry)
}

// Retained lists the trash, by name.
func (l *Layout) Retained() ([]Trashed, error) {
	entries, err := os.ReadDir(l.SystemPath(retainedDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("trash: %w", err)
	}
	out := make([]Trashed, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		if forge.ValidateName(name) != nil || !e.IsDir() {
			continue
		}
		t, ok := l.readEntry(name)
		if !ok {
			continue
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b Trashed) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out, nil
}

// RetainedCount is the number of entries in the trash, without reading
// them (for a gauge).
func (l *Layout) RetainedCount() int {
	entries, _ := os.ReadDir(l.SystemPath(retainedDir))
	return len(entries)
}

func (l *Layout) readEntry(name string) (Trashed, bool) {
	entry := l.SystemPath(retainedDir, name)
	data, err := os.ReadFile(filepath.Join(entry, entryFile))
	if err != nil {
		return Trashed{}, false
	}
	var rec entryRecord
	if json.Unmarshal(data, &rec) != nil {
		return Trashed{}, false
	}
	if _, err := os.Lstat(filepath.Join(entry, entryDB)); err != nil {
		return Trashed{}, false
	}
	t := Trashed{Name: name, ExpiredAt: rec.ExpiredAt, TrashedAt: rec.TrashedAt}
	_ = filepath.WalkDir(entry, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				t.SizeBytes += fi.Size()
			}
		}
		return nil
	})
	return t, true
}

// PurgeRetained removes every entry of the trash moved there before
// cutoff, and returns their names.
func (l *Layout) PurgeRetained(cutoff time.Time) ([]string, error) {
	list, err := l.Retained()
	if err != nil {
		return nil, err
	}
	var purged []string
	var errs []error
	for _, t := range list {
		if !t.TrashedAt.Before(cutoff) {
			continue
		}
		if err := l.purgeEntry(t.Name, t.TrashedAt); err != nil {
			errs = append(errs, err)
			continue
		}
		purged = append(purged, t.Name)
	}
	return purged, errors.Join(errs...)
}

// purgeEntry removes the entry of name if it is still the one moved at
// trashedAt (a restore or a newer expiry may have come in between).
func (l *Layout) purgeEntry(name string, trashedAt time.Time) error {
	unlock := l.names.lock(name)
	t, ok := l.readEntry(name)
	if !ok || !t.TrashedAt.Equal(trashedAt) {
		unlock()
		return nil
	}
	gone := l.SystemPath(trashDir, "retained."+name+"."+uniqueSuffix(l))
	err := os.Rename(l.SystemPath(retainedDir, name), gone)
	unlock()
	if err != nil {
		return fmt.Errorf("purge %s: %w", name, err)
	}
	return l.removeAll(gone)
}

// recoverRetained finishes, at start, what a crash cut off: an entry
// without its database (a Retain that moved only the checkpoints, or an
// Unretain that moved only the database back) returns its checkpoints to
// the live database of the name, if any, and goes.
func (l *Layout) recoverRetained() {
	entries, _ := os.ReadDir(l.SystemPath(retainedDir))
	for _, e := range entries {
		name := e.Name()
		entry := l.SystemPath(retainedDir, name)
		if forge.ValidateName(name) != nil || !e.IsDir() {
			_ = l.removeAll(entry)
			continue
		}
		if _, err := os.Lstat(filepath.Join(entry, entryDB)); err == nil {
			continue
		}
		if ok, _ := l.Exists(name); ok {
			if cps, err := l.CheckpointDir(name); err == nil {
				if _, err := os.Lstat(cps); errors.Is(err, fs.ErrNotExist) {
					_ = os.MkdirAll(filepath.Dir(cps), dirMode)
					_ = os.Rename(filepath.Join(entry, entryCPs), cps)
				}
			}
		}
		_ = l.removeAll(entry)
	}
}

func uniqueSuffix(l *Layout) string {
	return fmt.Sprintf("%x.%x", time.Now().UnixNano(), l.trashSeq.Add(1))
}
