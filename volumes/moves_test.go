package volumes

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCheckpointsGoWithTheDatabase: Remove takes a database's checkpoints
// with it, and Create clears any a crash left under a new name.
func TestCheckpointsGoWithTheDatabase(t *testing.T) {
	l, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	put := func(name string) string {
		t.Helper()
		dir, err := l.CheckpointDir(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o770); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "c.db"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	if _, err := l.Create("a"); err != nil {
		t.Fatal(err)
	}
	dir := put("a")
	if err := l.Remove("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Fatalf("checkpoints outlived their database: %v", err)
	}
	// Left by a crash between the two renames of a removal.
	dir = put("b")
	if created, err := l.Create("b"); err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Fatalf("a new database inherited checkpoints: %v", err)
	}
	if _, err := l.CheckpointDir("../x"); err == nil {
		t.Errorf("a bad name made a checkpoint dir")
	}
	scratch, err := l.ScratchDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(scratch, "left"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(l.Root()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(scratch, "left")); !os.IsNotExist(err) {
		t.Errorf("scratch not emptied at start: %v", err)
	}
}
