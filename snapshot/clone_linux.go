package snapshot

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// errNoClone: the volume does not clone files (no reflinks: ext4, tmpfs),
// or not between these two paths.
var errNoClone = errors.New("the file system does not clone files")

// cloneFile makes dst a copy-on-write clone of src (FICLONE): instant
// and sharing every block until one side writes, on file systems that
// have reflinks (XFS, Btrfs, bcachefs, ...). Elsewhere it fails with
// errNoClone and leaves no dst behind.
func cloneFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o660)
	if err != nil {
		return err
	}
	err = unix.IoctlFileClone(int(out.Fd()), int(in.Fd()))
	if err != nil {
		_ = out.Close()
		_ = os.Remove(dst)
		switch {
		case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.ENOTTY), errors.Is(err, unix.EXDEV),
			errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM):
			return fmt.Errorf("%w: %v", errNoClone, err)
		}
		return err
	}
	if err := errors.Join(out.Sync(), out.Close()); err != nil {
		_ = os.Remove(dst)
		return err
	}
	return nil
}
