package volumes

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrLocked: another process (a gateway, a restore) holds the data
// directory.
var ErrLocked = errors.New("the data directory is in use by another process")

// lockFile is the data directory's lock, in the gateway's state directory.
const lockFile = "lock"

// Lock takes the lock of the data directory at root (made if needed): one
// process at a time may own it, a gateway or a restore. Take it before
// Open, which tidies the directory. The lock is the kernel's (flock), so a
// process that dies leaves none behind; unlock releases it.
func Lock(root string) (unlock func(), err error) {
	dir := filepath.Join(root, systemDir)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("data dir: %w", diskFull(err))
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("data dir lock: %w", err)
	}
	if err := lockExclusive(f); err != nil {
		_ = f.Close()
		if errors.Is(err, ErrLocked) {
			return nil, fmt.Errorf("%s: %w", root, err)
		}
		return nil, fmt.Errorf("data dir lock: %w", err)
	}
	return func() { _ = f.Close() }, nil
}
