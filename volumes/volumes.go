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
//	                                    compilation cache, keys, trash)
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
	"sync"
	"time"

	"github.com/praetorian/db-forge/forge"
)

const (
	databasesDir = "databases"
	systemDir    = ".forge"
	trashDir     = "trash"
	dirMode      = 0o770 // with the gateway's umask 007: no access for others
	fileMode     = 0o660
)

// ErrOutsideRoot: a built path would leave the data root. Names are
// validated before paths are built, so this is a second line of defence.
var ErrOutsideRoot = errors.New("path escapes the data root")

// Layout is a data directory.
type Layout struct {
	root string // absolute and clean
	mu   sync.Mutex
}

// Open makes (if needed) and returns the data directory at root.
func Open(root string) (*Layout, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("data dir %s: %w", root, err)
	}
	l := &Layout{root: filepath.Clean(abs)}
	for _, d := range []string{filepath.Join(l.root, databasesDir), filepath.Join(l.root, systemDir, trashDir)} {
		if err := os.MkdirAll(d, dirMode); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
	}
	l.emptyTrash()
	return l, nil
}

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
func (l *Layout) Create(name string) (created bool, err error) {
	dir, err := l.Dir(name)
	if err != nil {
		return false, err
	}
	p, err := l.Path(name)
	if err != nil {
		return false, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.checkCaseConflict(name); err != nil {
		return false, err
	}
	if err := os.Mkdir(dir, dirMode); err != nil && !errors.Is(err, fs.ErrExist) {
		return false, fmt.Errorf("create %s: %w", name, err)
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
	if errors.Is(err, fs.ErrExist) {
		if _, err := l.Resolve(name); err != nil {
			return false, fmt.Errorf("create %s: not a regular file: %w", name, err)
		}
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create %s: %w", name, err)
	}
	err = errors.Join(f.Sync(), f.Close(), syncDir(dir), syncDir(filepath.Dir(dir)))
	if err != nil {
		return false, fmt.Errorf("create %s: %w", name, err)
	}
	return true, nil
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
// once and a crash half-way leaves no half-deleted database behind.
func (l *Layout) Remove(name string) error {
	dir, err := l.Dir(name)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", name, forge.ErrDatabaseNotFound)
	}
	trash := l.SystemPath(trashDir, name+"."+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err := os.Rename(dir, trash); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	_ = syncDir(filepath.Dir(dir))
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// emptyTrash finishes removals a crash interrupted.
func (l *Layout) emptyTrash() {
	entries, _ := os.ReadDir(l.SystemPath(trashDir))
	for _, e := range entries {
		_ = os.RemoveAll(l.SystemPath(trashDir, e.Name()))
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
	return writeAtomic(p, data)
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
	l.mu.Lock()
	defer l.mu.Unlock()
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

// CheckWritable proves the data directory accepts writes (for /health).
func (l *Layout) CheckWritable() error {
	f, err := os.CreateTemp(l.SystemPath(), ".health-*")
	if err != nil {
		return fmt.Errorf("data dir not writable: %w", err)
	}
	name := f.Name()
	_, werr := f.Write([]byte("ok"))
	err = errors.Join(werr, f.Close(), os.Remove(name))
	if err != nil {
		return fmt.Errorf("data dir not writable: %w", err)
	}
	return nil
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
