package snapshot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// Checkpoints: <checkpoints dir of db>/<name>.db, a whole database file
// (a rollback-journal file, or a clone of the WAL database's file after
// its log was folded in), and <name>.json, its record, written after the
// file: a checkpoint exists when both do.

// maxCheckpointName bounds a checkpoint's name.
const maxCheckpointName = 64

// ValidateCheckpointName: 1 to 64 characters of letters, digits, "_", "-"
// and ".", starting with a letter or digit, without "..".
func ValidateCheckpointName(name string) error {
	ok := name != "" && len(name) <= maxCheckpointName && !strings.Contains(name, "..")
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		ok = alnum || i > 0 && (c == '_' || c == '-' || c == '.')
	}
	if !ok {
		return forge.Inputf(forge.CodeInvalidCheckpoint,
			"Invalid checkpoint name: 1 to %d letters, digits, '_', '-' or '.', starting with a letter or digit, without '..'.", maxCheckpointName)
	}
	return nil
}

// record is a checkpoint's .json file.
type record struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	SizeBytes int64     `json:"size_bytes"`
	Auto      bool      `json:"auto,omitempty"`
}

func (r record) checkpoint() forge.Checkpoint {
	return forge.Checkpoint{Name: r.Name, CreatedAt: r.CreatedAt, SizeBytes: r.SizeBytes, Auto: r.Auto}
}

// autoName names the checkpoint a restore takes of the state it replaces.
func autoName(now time.Time) string {
	return "before-restore-" + now.UTC().Format("20060102T150405.000000000Z")
}

// defaultName names a checkpoint asked for without a name.
func defaultName(now time.Time) string {
	return "checkpoint-" + now.UTC().Format("20060102T150405.000000000Z")
}

// checkpointDir is database db's checkpoint directory, for a database
// that exists.
func (s *Service) checkpointDir(db string) (string, error) {
	ok, err := s.f.Exists(db)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%s: %w", db, forge.ErrDatabaseNotFound)
	}
	return s.f.CheckpointDir(db)
}

// list reads the checkpoints of dir, oldest first.
func list(dir string) ([]record, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []record
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || ValidateCheckpointName(name) != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		var r record
		if json.Unmarshal(b, &r) != nil || r.Name != name {
			continue
		}
		if fi, err := os.Lstat(filepath.Join(dir, name+".db")); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b record) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// Checkpoints lists database db's checkpoints, oldest first.
func (s *Service) Checkpoints(ctx context.Context, db string) ([]forge.Checkpoint, error) {
	dir, err := s.checkpointDir(db)
	if err != nil {
		return nil, err
	}
	recs, err := list(dir)
	if err != nil {
		return nil, err
	}
	out := make([]forge.Checkpoint, len(recs))
	for i, r := range recs {
		out[i] = r.checkpoint()
	}
	return out, nil
}

// CreateCheckpoint copies database db into a new checkpoint (name "":
// one named after the time). Writers go on meanwhile: the copy is SQLite's
// online backup from a reader, or, where the volume clones files
// (FICLONE), a clone taken while writes wait a moment.
func (s *Service) CreateCheckpoint(ctx context.Context, db, name string) (forge.Checkpoint, error) {
	now := time.Now()
	if name == "" {
		name = defaultName(now)
	}
	if err := ValidateCheckpointName(name); err != nil {
		return forge.Checkpoint{}, err
	}
	dir, err := s.checkpointDir(db)
	if err != nil {
		return forge.Checkpoint{}, err
	}
	unlock, err := s.locks.Lock(ctx, db)
	if err != nil {
		return forge.Checkpoint{}, err
	}
	defer unlock()
	recs, err := list(dir)
	if err != nil {
		return forge.Checkpoint{}, err
	}
	if err := s.room(recs, name, 0); err != nil {
		return forge.Checkpoint{}, err
	}
	if err := os.MkdirAll(dir, 0o770); err != nil {
		return forge.Checkpoint{}, err
	}
	tmp := filepath.Join(dir, ".new-"+name+".db")
	removeAll(tmp) // a crash's
	defer removeAll(tmp)
	if err := s.copyLive(ctx, db, tmp); err != nil {
		return forge.Checkpoint{}, err
	}
	r, err := s.keep(dir, tmp, record{Name: name, CreatedAt: now.UTC()}, recs)
	return r.checkpoint(), err
}

// room checks that one more checkpoint (named name, of size bytes if
// known) fits the limits.
func (s *Service) room(recs []record, name string, size int64) error {
	var total int64
	for _, r := range recs {
		if r.Name == name {
			return fmt.Errorf("checkpoint %s: %w", name, forge.ErrCheckpointExists)
		}
		total += r.SizeBytes
	}
	if len(recs) >= s.cfg.MaxCheckpoints {
		return fmt.Errorf("%d checkpoints: %w", len(recs), forge.ErrCheckpointLimit)
	}
	if total+size > s.cfg.MaxCheckpointBytes {
		return fmt.Errorf("%d bytes of checkpoints: %w", total+size, forge.ErrCheckpointLimit)
	}
	return nil
}

// keep makes the copy tmp checkpoint r: size, limits, durable file, record.
func (s *Service) keep(dir, tmp string, r record, recs []record) (record, error) {
	fi, err := os.Stat(tmp)
	if err != nil {
		return record{}, err
	}
	r.SizeBytes = fi.Size()
	if err := s.room(recs, r.Name, r.SizeBytes); err != nil {
		return record{}, err
	}
	if err := syncPath(tmp); err != nil {
		return record{}, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, r.Name+".db")); err != nil {
		return record{}, err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return record{}, err
	}
	if err := writeFile(filepath.Join(dir, r.Name+".json"), b); err != nil {
		_ = os.Remove(filepath.Join(dir, r.Name+".db"))
		return record{}, err
	}
	return r, syncDir(dir)
}

// copyLive copies the live database db to dest: a clone of its file
// while it is frozen where the volume clones files, else the backup API.
func (s *Service) copyLive(ctx context.Context, db, dest string) error {
	if s.reflink.Load() != 2 {
		var cloneErr error
		err := s.e.Frozen(ctx, db, func(path string) error {
			cloneErr = cloneFile(path, dest)
			return cloneErr
		})
		switch {
		case err == nil:
			s.reflink.Store(1)
			return nil
		case errors.Is(cloneErr, errNoClone):
			s.reflink.Store(2)
		case errors.Is(err, forge.ErrDatabaseNotFound):
			return err
		}
		// Not settled now, or no clone here: the backup API.
		removeAll(dest)
	}
	return s.e.CopyTo(ctx, db, dest, false)
}

// Reflinks reports whether checkpoints are file clones: true or false
// once the first checkpoint found out, false before.
func (s *Service) Reflinks() bool { return s.reflink.Load() == 1 }

// RestoreCheckpoint puts database db back to checkpoint name, atomically:
// under Exclusive, requests in flight on db finish first and new ones
// wait; the current state becomes an automatic checkpoint (returned, so
// the restore can itself be undone), then the checkpoint's copy takes the
// file's place. To make room for the automatic checkpoint, the oldest
// automatic one goes if the count limit requires it.
func (s *Service) RestoreCheckpoint(ctx context.Context, db, name string) (undo forge.Checkpoint, err error) {
	if err := ValidateCheckpointName(name); err != nil {
		return forge.Checkpoint{}, err
	}
	dir, err := s.checkpointDir(db)
	if err != nil {
		return forge.Checkpoint{}, err
	}
	path, err := s.f.Path(db)
	if err != nil {
		return forge.Checkpoint{}, err
	}
	unlock, err := s.locks.Lock(ctx, db)
	if err != nil {
		return forge.Checkpoint{}, err
	}
	defer unlock()
	recs, err := list(dir)
	if err != nil {
		return forge.Checkpoint{}, err
	}
	i := slices.IndexFunc(recs, func(r record) bool { return r.Name == name })
	if i < 0 {
		return forge.Checkpoint{}, fmt.Errorf("checkpoint %s: %w", name, forge.ErrCheckpointNotFound)
	}
	if len(recs) >= s.cfg.MaxCheckpoints {
		if j := slices.IndexFunc(recs, func(r record) bool { return r.Auto && r.Name != name }); j >= 0 {
			removeCheckpoint(dir, recs[j].Name)
			recs = slices.Delete(recs, j, j+1)
		}
	}
	now := time.Now()
	auto := record{Name: autoName(now), CreatedAt: now.UTC(), Auto: true}
	if err := s.room(recs, auto.Name, 0); err != nil {
		return forge.Checkpoint{}, err
	}
	saved := filepath.Join(dir, ".new-"+auto.Name+".db")
	incoming := path + ".restore"
	removeAll(saved)
	removeAll(incoming)
	defer removeAll(saved)
	defer removeAll(incoming)
	// The checkpoint's copy is made before the database is closed to
	// requests: only the current state's copy and a rename wait.
	if err := copyFile(filepath.Join(dir, name+".db"), incoming); err != nil {
		return forge.Checkpoint{}, err
	}
	err = s.e.Exclusive(ctx, db, func() error {
		if err := s.cfg.Settle(path); err != nil {
			return err
		}
		if err := copyFile(path, saved); err != nil {
			return err
		}
		if auto, err = s.keep(dir, saved, auto, recs); err != nil {
			return err
		}
		return installFile(incoming, path)
	})
	if err != nil {
		return forge.Checkpoint{}, err
	}
	return auto.checkpoint(), nil
}

// DeleteCheckpoint removes checkpoint name of database db.
func (s *Service) DeleteCheckpoint(ctx context.Context, db, name string) error {
	if err := ValidateCheckpointName(name); err != nil {
		return err
	}
	dir, unlock, err := s.lockCheckpoint(ctx, db, name)
	if err != nil {
		return err
	}
	defer unlock()
	removeCheckpoint(dir, name)
	return syncDir(dir)
}

// lockCheckpoint takes database db's checkpoint lock and finds its
// checkpoint name: the checkpoints' directory, and unlock to call when
// done; forge.ErrCheckpointNotFound (lock released) when there is none.
func (s *Service) lockCheckpoint(ctx context.Context, db, name string) (dir string, unlock func(), err error) {
	if dir, err = s.checkpointDir(db); err != nil {
		return "", nil, err
	}
	if unlock, err = s.locks.Lock(ctx, db); err != nil {
		return "", nil, err
	}
	recs, err := list(dir)
	if err == nil && !slices.ContainsFunc(recs, func(r record) bool { return r.Name == name }) {
		err = fmt.Errorf("checkpoint %s: %w", name, forge.ErrCheckpointNotFound)
	}
	if err != nil {
		unlock()
		return "", nil, err
	}
	return dir, unlock, nil
}

// removeCheckpoint removes a checkpoint's record, then its file.
func removeCheckpoint(dir, name string) {
	_ = os.Remove(filepath.Join(dir, name+".json"))
	_ = os.Remove(filepath.Join(dir, name+".db"))
}

func removeAll(p string) {
	for _, suffix := range []string{"", "-journal", "-wal", "-shm"} {
		_ = os.Remove(p + suffix)
	}
}

// copyFile copies the file src to the new file dst, durably: a clone
// where the volume makes them, else a copy in the kernel
// (copy_file_range, through io.Copy).
func copyFile(src, dst string) error {
	err := cloneFile(src, dst)
	if err == nil || !errors.Is(err, errNoClone) {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o660)
	if err != nil {
		return err
	}
	_, cerr := io.Copy(out, in)
	if err := errors.Join(cerr, out.Sync(), out.Close()); err != nil {
		_ = os.Remove(dst)
		return err
	}
	return nil
}

func syncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// WithCheckpointFile calls fn with the file of checkpoint name of
// database db while no checkpoint operation of db runs: fn opens it (a
// diff reads it), and the open file outlives a later removal. The file
// must not be written.
func (s *Service) WithCheckpointFile(ctx context.Context, db, name string, fn func(path string) error) error {
	if err := ValidateCheckpointName(name); err != nil {
		return err
	}
	dir, unlock, err := s.lockCheckpoint(ctx, db, name)
	if err != nil {
		return err
	}
	defer unlock()
	return fn(filepath.Join(dir, name+".db"))
}
