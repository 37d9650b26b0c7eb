//go:build !linux

package snapshot

import "errors"

var errNoClone = errors.New("the file system does not clone files")

// cloneFile: file clones are only tried on Linux (FICLONE).
func cloneFile(src, dst string) error { return errNoClone }
