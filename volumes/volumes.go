// Package volumes owns the data directory: where each database's files live
// and every operation that creates, finds or removes them. Nothing else in
// DB-Forge builds a path under the data root.
//
// Layout:
//
//	<root>/databases/<name>/<name>.db   the SQLite file (+ -wal, -shm)
//	<root>/databases/<name>/<key>.json  small sidecar records (e.g. the
//	                                    local backend's instance record)
//	<root>/.forge/                      the gateway's own state (wasm
//	                                    compilation cache, keys, trash,
//	                                    the space reserve, pending spawns)
//
// One directory per database lets the Docker backend bind-mount exactly
// that database's files into its worker and nothing else. Database names
// start with a letter or digit, so no name can reach ".forge".
package volumes

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/praetorian/db-forge/forge"
)

const (
	databasesDir = "databases"
	systemDir    = ".forge"
	trashDir     = "trash"
	pendingDir   = "pending"
	dirMode      = 0o770 // with the gateway's umask 007: no access for others
	fileMode     = 0o660
)

// ErrOutsideRoot: a built path would leave the data root. Names are
// validated before paths are built, so this is a second line of defence.
var ErrOutsideRoot = errors.New("path escapes the data root")

// Layout is a data directory.
//
// Create, Remove and Share of one name (case-folded) are serialized by that
// name's lock, which covers only a few file-system calls on that name: a
// check and a create, or a rename into the trash. No lock is held while a
// removed database's files are deleted, and operations on different names
// never wait for one another.
type Layout struct {
	root      string // absolute and clean
	names     nameLocks
	abandoned []string // spawns a crash interrupted, removed by Open
	// removeAll deletes a tree (os.RemoveAll); a test slows it down.
	removeAll func(path string) error
	trashSeq  atomic.Uint64 // makes trash entries unique within the process
}

// Open makes (if needed) and returns the data directory at root.
func Open(root string) (*Layout, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("data dir %s: %w", root, err)
	}
	l := &Layout{root: filepath.Clean(abs), removeAll: os.RemoveAll}
	for _, d := range []string{filepath.Join(l.root, databasesDir), filepath.Join(l.root, systemDir, trashDir),
		filepath.Join(l.root, systemDir, pendingDir)} {
		if err := os.MkdirAll(d, dirMode); err != nil {
			return nil, fmt.Errorf("data dir: %w", diskFull(err))
		}
	}
	l.emptyTrash()
	l.emptyScratch()
	if err := l.removePending(); err != nil {
		return nil, err
	}
	return l, nil
}

// Abandoned lists the databases Open removed because their spawn never
// completed (a crash between making the file and handing out its key).
func (l *Layout) Abandoned() []string { return slices.Clone(l.abandoned) }

// Root is the absolute data directory.
func (l *Layout) Root() string { return l.root }

// SystemPath is a path under the gateway's own state directory. elem are
// fixed names chosen by the program, never client input.
func (l *Layout) SystemPath(elem ...string) string {
	return filepath.Join(append([]string{l.root, systemDir}, elem...)...)
}

// Dir is the directory of database name.
func (l *Layout) Dir(name string) (string, error) {
	if err := forge.ValidateName(name); err != nil {
		return "", err
	}
	return l.within(filepath.Join(l.root, databasesDir, name))
}

// FileName is the base name of a database's SQLite file inside its Dir.
func FileName(name string) string { return name + ".db" }

// Path is the SQLite file of database name, whether or not it exists.
func (l *Layout) Path(name string) (string, error) {
	dir, err := l.Dir(name)
	if err != nil {
		return "", err
	}
	return l.within(filepath.Join(dir, FileName(name)))
}

// within verifies that p stays under the data root.
func (l *Layout) within(p string) (string, error) {
	rel, err := filepath.Rel(l.root, p)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("%s: %w", p, ErrOutsideRoot)
	}
	return p, nil
}

// Resolve returns the file of an existing database, or an error wrapping
// forge.ErrDatabaseNotFound. A symbolic link or anything other than a
// regular file is not a database.
func (l *Layout) Resolve(name string) (string, error) {
	p, err := l.Path(name)
	if err != nil {
		return "", err
	}
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s: %w", name, forge.ErrDatabaseNotFound)
	}
	return p, nil
}

// Exists reports whether database name has its file.
func (l *Layout) Exists(name string) (bool, error) {
	_, err := l.Resolve(name)
	if errors.Is(err, forge.ErrDatabaseNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Create makes database name's directory and an empty SQLite file (an
// empty file is a valid empty database). created is false when the file was
// already there. A name that differs from an existing one only by case is
// refused: it would be the same database on a case-insensitive file system.
//
// A database Create makes is pending until Complete: a marker in
// .forge/pending/ is written before the file and removed by Complete, and
// Open removes every database still marked (its spawn was cut off before
// the client got its key). A failed Create leaves nothing behind; one that
// met a full volume wraps forge.ErrDiskFull.
func (l *Layout) Create(name string) (created bool, err error) {
	dir, err := l.Dir(name)
	if err != nil {
		return false, err
	}
	p, err := l.Path(name)
	if err != nil {
		return false, err
	}
	// The name's lock makes the check and the create one step: a Create
	// of the same name in another case waits, and sees this one's
	// directory. Creates of other names do not wait.
	unlock := l.names.lock(name)
	defer unlock()
	if err := l.checkCaseConflict(name); err != nil {
		return false, err
	}
	if _, err := os.Lstat(p); err == nil {
		if _, err := l.Resolve(name); err != nil {
			return false, fmt.Errorf("create %s: not a regular file: %w", name, err)
		}
		return false, nil
	}
	// Checkpoints a crash left under this name belong to no database.
	if stale, err := l.trashCheckpoints(name); err != nil {
		return false, fmt.Errorf("create %s: %w", name, err)
	} else if stale != "" {
		_ = l.removeAll(stale)
	}
	marker := l.SystemPath(pendingDir, name)
	if err := touch(marker); err != nil {
		return false, fmt.Errorf("create %s: %w", name, diskFull(err))
	}
	madeDir := false
	undo := func(err error) (bool, error) {
		_ = os.Remove(p)
		if madeDir {
			_ = os.Remove(dir)
		}
		_ = os.Remove(marker)
		return false, fmt.Errorf("create %s: %w", name, diskFull(err))
	}
	if err := os.Mkdir(dir, dirMode); err == nil {
		madeDir = true
	} else if !errors.Is(err, fs.ErrExist) {
		return undo(err)
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return undo(err)
	}
	if err := errors.Join(f.Sync(), f.Close(), syncDir(dir), syncDir(filepath.Dir(dir))); err != nil {
		return undo(err)
	}
	return true, nil
}

// Complete ends database name's spawn: it is kept from now on, crash or
// not. Removing the marker needs no space.
func (l *Layout) Complete(name string) error {
	if err := forge.ValidateName(name); err != nil {
		return err
	}
	marker := l.SystemPath(pendingDir, name)
	if err := os.Remove(marker); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("complete %s: %w", name, err)
	}
	return syncDir(filepath.Dir(marker))
}

// Pending reports whether database name was made by a spawn that has not
// completed.
func (l *Layout) Pending(name string) bool {
	if forge.ValidateName(name) != nil {
		return false
	}
	_, err := os.Lstat(l.SystemPath(pendingDir, name))
	return err == nil
}

// removePending removes, at start, every database whose spawn a crash
// interrupted: nobody has a key to it, and it may be half made.
func (l *Layout) removePending() error {
	entries, err := os.ReadDir(l.SystemPath(pendingDir))
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if forge.ValidateName(name) != nil {
			_ = os.Remove(l.SystemPath(pendingDir, name))
			continue
		}
		if err := l.Remove(name); err != nil && !errors.Is(err, forge.ErrDatabaseNotFound) {
			return fmt.Errorf("remove interrupted spawn: %w", err)
		}
		_ = os.Remove(l.SystemPath(pendingDir, name))
		l.abandoned = append(l.abandoned, name)
	}
	return nil
}

// touch makes an empty file (which needs no data block) and makes its
// directory entry durable.
func touch(p string) error {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, fileMode)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close(), syncDir(filepath.Dir(p)))
}

func (l *Layout) checkCaseConflict(name string) error {
	entries, err := os.ReadDir(filepath.Join(l.root, databasesDir))
	if err != nil {
		return fmt.Errorf("list databases: %w", err)
	}
	for _, e := range entries {
		if e.Name() != name && strings.EqualFold(e.Name(), name) {
			return fmt.Errorf("%s vs %s: %w", name, e.Name(), forge.ErrNameConflict)
		}
	}
	return nil
}

// Remove deletes database name and everything in its directory. The
// directory is first renamed into the trash, so the database disappears at
// once and a crash half-way leaves no half-deleted database behind. It
// needs no free space: a rename and unlinks (a full volume is when it
// matters most). Only the rename waits for other operations on the name;
// the files are deleted after, holding no lock, so a spawn of any name,
// this one included, goes ahead meanwhile.
func (l *Layout) Remove(name string) error {
	dir, err := l.Dir(name)
	if err != nil {
		return err
	}
	trash, cps, err := l.toTrash(name, dir)
	if err != nil {
		return err
	}
	if cps != "" {
		if err := l.removeAll(cps); err != nil {
			return fmt.Errorf("remove checkpoints of %s: %w", name, err)
		}
	}
	// The trash entry's name is unique and nothing else looks at it: its
	// files are deleted without the name's lock, so a spawn of this name
	// (or of any other) need not wait for a large database to go.
	if err := l.removeAll(trash); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// toTrash moves database name's directory dir into the trash under the
// name's lock, and drops its pending marker: a Create of the same name
// waits for both, so it never finds the old directory half gone, and its
// own marker is never the one removed.
func (l *Layout) toTrash(name, dir string) (trash, checkpoints string, err error) {
	unlock := l.names.lock(name)
	defer unlock()
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		_ = os.Remove(l.SystemPath(pendingDir, name))
		return "", "", fmt.Errorf("%s: %w", name, forge.ErrDatabaseNotFound)
	}
	if checkpoints, err = l.trashCheckpoints(name); err != nil {
		return "", "", err
	}
	// Unique even for two removals of one name in the same clock tick: the
	// first may still be deleting its entry.
	trash = l.SystemPath(trashDir, name+"."+strconv.FormatInt(time.Now().UnixNano(), 36)+"."+strconv.FormatUint(l.trashSeq.Add(1), 36))
	if err := os.Rename(dir, trash); err != nil {
		return "", checkpoints, fmt.Errorf("remove %s: %w", name, err)
	}
	_ = syncDir(filepath.Dir(dir))
	_ = os.Remove(l.SystemPath(pendingDir, name))
	return trash, checkpoints, nil
}

// emptyTrash finishes removals a crash interrupted.
func (l *Layout) emptyTrash() {
	entries, _ := os.ReadDir(l.SystemPath(trashDir))
	for _, e := range entries {
		_ = l.removeAll(l.SystemPath(trashDir, e.Name()))
	}
}

// List returns the names of every database that has its file, sorted.
func (l *Layout) List() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(l.root, databasesDir))
	if err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if !e.IsDir() || forge.ValidateName(e.Name()) != nil {
			continue
		}
		if ok, _ := l.Exists(e.Name()); ok {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// validKey keeps sidecar keys to fixed lower-case words.
func validKey(key string) error {
	if key == "" || len(key) > 32 || strings.Trim(key, "abcdefghijklmnopqrstuvwxyz-") != "" {
		return fmt.Errorf("sidecar key %q: want lower-case letters", key)
	}
	return nil
}

func (l *Layout) sidecar(name, key string) (string, error) {
	if err := validKey(key); err != nil {
		return "", err
	}
	dir, err := l.Dir(name)
	if err != nil {
		return "", err
	}
	return l.within(filepath.Join(dir, key+".json"))
}

// ReadSidecar returns the record key of database name; an error wrapping
// fs.ErrNotExist when there is none.
func (l *Layout) ReadSidecar(name, key string) ([]byte, error) {
	p, err := l.sidecar(name, key)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// WriteSidecar atomically replaces the record key of database name.
func (l *Layout) WriteSidecar(name, key string, data []byte) error {
	p, err := l.sidecar(name, key)
	if err != nil {
		return err
	}
	return diskFull(writeAtomic(p, data))
}

// DeleteSidecar removes the record key of database name, if any.
func (l *Layout) DeleteSidecar(name, key string) error {
	p, err := l.sidecar(name, key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return syncDir(filepath.Dir(p))
}

// Share opens database name's directory to a worker's group gid: the
// group of the directory and its files, the set-group-id bit on the
// directory so that files SQLite creates later (-wal, -shm) inherit the
// group, and group read-write on everything. The owner stays the gateway.
// It needs no capability when the gateway is a member of gid (the compose
// stack adds it), only CAP_CHOWN otherwise. The gateway calls it when it
// runs as root and its workers run as an unprivileged user.
func (l *Layout) Share(name string, gid int) error {
	dir, err := l.Dir(name)
	if err != nil {
		return err
	}
	unlock := l.names.lock(name)
	defer unlock()
	if err := os.Lchown(dir, -1, gid); err != nil {
		return fmt.Errorf("share %s: %w", name, err)
	}
	if err := os.Chmod(dir, dirMode|os.ModeSetgid); err != nil {
		return fmt.Errorf("share %s: %w", name, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("share %s: %w", name, err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue // never follow a link planted in the directory
		}
		p := filepath.Join(dir, e.Name())
		if err := os.Lchown(p, -1, gid); err != nil {
			return fmt.Errorf("share %s: %w", name, err)
		}
		if err := os.Chmod(p, fileMode); err != nil {
			return fmt.Errorf("share %s: %w", name, err)
		}
	}
	return nil
}

// Space is the state of the volume holding the data directory.
type Space struct {
	Dir         string // the data directory
	Free        uint64 // bytes an unprivileged writer may still use
	ReserveSize int64  // the reserve's size; 0 = no reserve
	ReserveHeld bool   // the reserve is there to be released
}

// Full reports a volume with less than FullBelow free, or whose reserve
// was released (some delete needed it; it is made again once there is
// room).
func (s Space) Full() bool {
	return s.Free < FullBelow || s.ReserveSize > 0 && !s.ReserveHeld
}

// Space reports the volume of the data directory and its reserve r (nil
// = none). It writes nothing.
func (l *Layout) Space(r *Reserve) (Space, error) {
	free, err := Free(l.root)
	if err != nil {
		return Space{Dir: l.root}, err
	}
	s := Space{Dir: l.root, Free: free}
	if r != nil {
		s.ReserveSize, s.ReserveHeld = r.Size(), r.Held()
	}
	return s, nil
}

// Check is the data directory's health: writable (without writing:
// access(2), which also says a read-only mount) and not full. A full
// volume is an error wrapping forge.ErrDiskFull that names it.
func (l *Layout) Check(r *Reserve) error {
	fi, err := os.Stat(l.SystemPath())
	if err == nil && !fi.IsDir() {
		err = errors.New(l.SystemPath() + " is not a directory")
	}
	if err == nil {
		err = syscall.Access(l.SystemPath(), 2|1 /* W_OK|X_OK */)
	}
	if err != nil {
		return fmt.Errorf("data dir %s not writable: %w", l.root, err)
	}
	s, err := l.Space(r)
	if err != nil {
		return err
	}
	if !s.Full() {
		return nil
	}
	msg := fmt.Sprintf("volume full: data dir %s has %s free", s.Dir, mib(int64(s.Free)))
	if s.ReserveSize > 0 && !s.ReserveHeld {
		msg += fmt.Sprintf("; its reserve of %s is released (made again from %s free)", mib(s.ReserveSize), mib(int64(r.RemakeAt())))
	}
	return fmt.Errorf("%s: %w", msg, forge.ErrDiskFull)
}

func mib(n int64) string {
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
}

func writeAtomic(p string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	if err := errors.Join(werr, tmp.Sync(), tmp.Close()); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), fileMode); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return syncDir(filepath.Dir(p))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
