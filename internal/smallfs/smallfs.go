// Package smallfs gives tests a real, small file system to fill: a tmpfs
// mounted for the test and unmounted after it. Mounting needs root (CI runs
// as root); elsewhere the test is skipped with the reason, except under
// CI=true, where a test that cannot run fails.
package smallfs

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// Mount mounts a tmpfs of mib MiB on a new directory and returns it; it
// is unmounted when the test ends.
func Mount(t testing.TB, mib int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.Itoa(mib)+"m,mode=0700")
	if err != nil {
		reason := "cannot mount a tmpfs (needs root): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(reason)
		}
		t.Skip(reason)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// Fill writes path until the volume has no space left and returns how
// many bytes it took. Removing path gives them back.
func Fill(t testing.TB, path string) int64 {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatalf("fill: %v", err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for i := range buf {
		buf[i] = byte(i*7 + 1)
	}
	var n int64
	for _, size := range []int{4096, 512, 1} {
		for {
			w, err := f.Write(buf[:size])
			n += int64(w)
			if err != nil {
				break
			}
		}
	}
	return n
}
