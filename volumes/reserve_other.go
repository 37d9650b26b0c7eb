//go:build !linux

package volumes

import "os"

// allocate: without fallocate(2), the ballast is written out.
func allocate(*os.File, int64) error { return errNoAllocate }
