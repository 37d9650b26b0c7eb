package volumes

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/praetorian/db-forge/forge"
)

// Space on a full volume. Deleting data needs a little space first (SQLite
// writes the pages a DELETE or DROP TABLE changes to the WAL before it
// frees anything), so on a volume filled to the last block nothing could
// be deleted. The gateway therefore keeps a reserve: a ballast file of
// real blocks in .forge/, given back to the volume the moment a statement
// that deletes meets ENOSPC, and made again once the volume has room.
//
// Its state lives on disk, not in memory: the reserve is held when its
// file is there with all its blocks, so an operator may release it by
// hand (rm .forge/ballast) and any process may re-make it.

const (
	ballastFile = "ballast"
	// FullBelow: a volume with less free space than this is full (a
	// database page and its WAL frame no longer fit with room to spare).
	FullBelow = 1 << 20
	// minRemakeMargin is the least free space left after the reserve is
	// made again, so that a volume is not called full the moment after.
	minRemakeMargin = 4 << 20
)

// Reserve is the ballast file of a data directory.
type Reserve struct {
	root string // the data root: the volume asked about
	path string
	size int64
	mu   sync.Mutex // serializes Maintain (never taken by Release)
}

// Reserve returns the data directory's reserve of size bytes (0 = none).
func (l *Layout) Reserve(size int64) *Reserve {
	return NewReserve(l.root, size)
}

// NewReserve is the reserve of size bytes of the data directory at root,
// for a process that has not opened the directory (a check, a test).
func NewReserve(root string, size int64) *Reserve {
	return &Reserve{root: root, path: filepath.Join(root, systemDir, ballastFile), size: max(size, 0)}
}

// Size is the reserve's size in bytes; 0 when there is none.
func (r *Reserve) Size() int64 { return r.size }

// Path is the ballast file.
func (r *Reserve) Path() string { return r.path }

// Held reports whether the ballast file is there with all its blocks.
func (r *Reserve) Held() bool {
	if r.size == 0 {
		return false
	}
	fi, err := os.Lstat(r.path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < r.size {
		return false
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int64(st.Blocks)*512 < r.size {
		return false // sparse: it would free nothing
	}
	return true
}

// Release gives the reserve back to the volume. It reports whether there
// is room now for a statement to run again: the reserve was freed by this
// call, or the volume has FullBelow free already (another request freed
// it a moment ago).
func (r *Reserve) Release() bool {
	if r.size == 0 {
		return false
	}
	err := os.Remove(r.path)
	_ = os.Remove(r.path + ".tmp") // a re-make in progress gives way
	if err == nil {
		_ = syncDir(filepath.Dir(r.path))
		return true
	}
	free, ferr := r.Free()
	return ferr == nil && free >= FullBelow
}

// Free is the space an unprivileged writer may still use on the volume.
func (r *Reserve) Free() (uint64, error) { return Free(r.root) }

// Free is the space an unprivileged writer may still use on the volume
// holding dir.
func Free(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil // the field types differ by OS
}

// RemakeAt is the free space from which Maintain makes the reserve: its
// size plus a margin (half of it, at least 4 MiB) that stays free after.
func (r *Reserve) RemakeAt() uint64 {
	return uint64(r.size + max(r.size/2, minRemakeMargin))
}

// Maintain makes the reserve when it is not held and the volume has room
// for it (RemakeAt). made reports that it did. Calls are serialized; a
// Release meanwhile wins (the new file is discarded).
func (r *Reserve) Maintain() (made bool, err error) {
	if r.size == 0 {
		return false, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Held() {
		return false, nil
	}
	free, err := r.Free()
	if err != nil {
		return false, err
	}
	// A ballast that lost blocks or has another size counts as free space
	// about to be given back.
	if fi, err := os.Lstat(r.path); err == nil && fi.Mode().IsRegular() {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			free += uint64(st.Blocks) * 512
		}
	}
	if free < r.RemakeAt() {
		return false, nil
	}
	tmp := r.path + ".tmp"
	if err := writeBallast(tmp, r.size); err != nil {
		_ = os.Remove(tmp)
		return false, fmt.Errorf("reserve: %w", diskFull(err))
	}
	// Rename fails if a Release removed tmp meanwhile: it needed the room.
	if err := os.Rename(tmp, r.path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		_ = os.Remove(tmp)
		return false, fmt.Errorf("reserve: %w", err)
	}
	return true, syncDir(filepath.Dir(r.path))
}

// writeBallast writes a file of size bytes backed by real blocks: through
// fallocate where the file system has it, else written out with random
// bytes (zeros could be compressed or deduplicated away).
func writeBallast(p string, size int64) error {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	err = allocate(f, size)
	if errors.Is(err, errNoAllocate) {
		err = fill(f, size)
	}
	return errors.Join(err, f.Sync(), f.Close())
}

// errNoAllocate: the file system cannot allocate blocks without writing.
var errNoAllocate = errors.New("fallocate not supported")

func fill(f *os.File, size int64) error {
	buf := make([]byte, 1<<20)
	rng := rand.NewChaCha8([32]byte{'f', 'o', 'r', 'g', 'e'})
	for size > 0 {
		n := min(int64(len(buf)), size)
		_, _ = rng.Read(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			return err
		}
		size -= n
	}
	return nil
}

// diskFull says a failed file operation met a full volume in the forge
// vocabulary (forge.ErrDiskFull), keeping the system error.
func diskFull(err error) error {
	if err != nil && (errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)) && !errors.Is(err, forge.ErrDiskFull) {
		return fmt.Errorf("%w: %w", forge.ErrDiskFull, err)
	}
	return err
}
