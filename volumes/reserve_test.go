package volumes_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/internal/smallfs"
	"github.com/praetorian/db-forge/volumes"
)

// The reserve on a real 20 MiB file system: made with real blocks, given
// back by Release when the volume is full, made again by Maintain only
// once the volume has room for it and a margin.
func TestReserveOnSmallVolume(t *testing.T) {
	root := smallfs.Mount(t, 20)
	l, err := volumes.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	r := l.Reserve(4 << 20)
	before, _ := r.Free()
	if made, err := r.Maintain(); err != nil || !made {
		t.Fatalf("Maintain on an empty volume = %v, %v; want made", made, err)
	}
	after, _ := r.Free()
	if !r.Held() || before-after < 4<<20 {
		t.Fatalf("reserve held=%v, took %d bytes; want 4 MiB of real blocks", r.Held(), before-after)
	}
	if made, err := r.Maintain(); err != nil || made {
		t.Fatalf("Maintain with the reserve held = %v, %v; want nothing done", made, err)
	}
	if err := l.Check(r); err != nil {
		t.Fatalf("health with room: %v", err)
	}

	filler := filepath.Join(root, "filler")
	smallfs.Fill(t, filler)
	err = l.Check(r)
	if !errors.Is(err, forge.ErrDiskFull) || !strings.Contains(err.Error(), root) {
		t.Fatalf("health on a full volume = %v; want volume full naming %s", err, root)
	}
	if free, _ := r.Free(); free != 0 {
		t.Fatalf("filled volume has %d bytes free", free)
	}

	if !r.Release() {
		t.Fatal("Release on a full volume freed nothing")
	}
	if free, _ := r.Free(); free < 4<<20 {
		t.Fatalf("after Release %d bytes free; want the reserve's 4 MiB", free)
	}
	if r.Held() {
		t.Fatal("reserve still held after Release")
	}
	if !r.Release() {
		t.Fatal("a second Release (room still there) said no room")
	}
	err = l.Check(r)
	if !errors.Is(err, forge.ErrDiskFull) || !strings.Contains(err.Error(), "reserve") {
		t.Fatalf("health with the reserve released = %v; want volume full, reserve released", err)
	}

	// Not enough room to make it again with its margin: nothing is made.
	smallfs.Fill(t, filler)
	if made, err := r.Maintain(); err != nil || made {
		t.Fatalf("Maintain on a full volume = %v, %v; want nothing done", made, err)
	}
	if _, err := os.Lstat(r.Path() + ".tmp"); err == nil {
		t.Fatal("Maintain left its temporary file")
	}
	if r.Release() {
		t.Fatal("Release with nothing to release and no room said there was room")
	}

	// Space returns: the reserve is made again.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if made, err := r.Maintain(); err != nil || !made || !r.Held() {
		t.Fatalf("Maintain once space returned = %v, %v (held %v); want made", made, err, r.Held())
	}
	if err := l.Check(r); err != nil {
		t.Fatalf("health once space returned: %v", err)
	}
	s, err := l.Space(r)
	if err != nil || !s.ReserveHeld || s.ReserveSize != 4<<20 || s.Free < 4<<20 || s.Dir != l.Root() {
		t.Fatalf("Space = %+v, %v", s, err)
	}
}

// A reserve of size 0 is off: nothing made, nothing released, and the
// volume is full only below volumes.FullBelow.
func TestReserveOff(t *testing.T) {
	l, err := volumes.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := l.Reserve(0)
	if made, err := r.Maintain(); made || err != nil {
		t.Fatalf("Maintain = %v, %v", made, err)
	}
	if r.Release() || r.Held() {
		t.Fatal("a reserve of 0 bytes released or held something")
	}
	if err := l.Check(r); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(r.Path()); err == nil {
		t.Fatal("ballast file made for a reserve of 0")
	}
}

// A spawn cut off before Complete is removed at the next Open; a completed
// one, and a database that existed before, stay.
func TestPendingSpawnRemovedAtOpen(t *testing.T) {
	root := t.TempDir()
	l, err := volumes.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"done", "cut"} {
		if created, err := l.Create(n); err != nil || !created {
			t.Fatalf("Create(%s) = %v, %v", n, created, err)
		}
		if !l.Pending(n) {
			t.Fatalf("%s not pending after Create", n)
		}
	}
	if err := l.Complete("done"); err != nil {
		t.Fatal(err)
	}
	if l.Pending("done") {
		t.Fatal("done still pending after Complete")
	}
	// Re-creating an existing database marks nothing.
	if created, err := l.Create("done"); err != nil || created || l.Pending("done") {
		t.Fatalf("Create of an existing database = %v, %v, pending %v", created, err, l.Pending("done"))
	}

	l2, err := volumes.Open(root) // the next start
	if err != nil {
		t.Fatal(err)
	}
	if got := l2.Abandoned(); len(got) != 1 || got[0] != "cut" {
		t.Fatalf("Abandoned = %v; want [cut]", got)
	}
	names, _ := l2.List()
	if len(names) != 1 || names[0] != "done" {
		t.Fatalf("databases after restart = %v; want [done]", names)
	}
	if _, err := os.Lstat(filepath.Join(root, "databases", "cut")); err == nil {
		t.Fatal("directory of the interrupted spawn left behind")
	}
	if l2.Pending("cut") {
		t.Fatal("marker of the interrupted spawn left behind")
	}
}

// Create on a full volume fails with forge.ErrDiskFull or succeeds; it
// never leaves a marker or a directory without its file. Remove of a
// pending database takes its marker too.
func TestCreateOnFullVolumeLeavesNothing(t *testing.T) {
	root := smallfs.Mount(t, 2)
	l, err := volumes.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	smallfs.Fill(t, filepath.Join(root, "filler"))
	created, err := l.Create("db")
	if err != nil {
		if !errors.Is(err, forge.ErrDiskFull) {
			t.Fatalf("Create on a full volume = %v; want forge.ErrDiskFull", err)
		}
		if _, serr := os.Lstat(filepath.Join(root, "databases", "db")); serr == nil {
			t.Fatal("failed Create left its directory")
		}
		if l.Pending("db") {
			t.Fatal("failed Create left its marker")
		}
	} else if !created {
		t.Fatal("Create of a new database said not created")
	}
	// An instance record needs a data block: a full volume says so.
	if created {
		err := l.WriteSidecar("db", "instance", []byte(`{"x":1}`))
		if !errors.Is(err, forge.ErrDiskFull) {
			t.Fatalf("WriteSidecar on a full volume = %v; want forge.ErrDiskFull", err)
		}
		if err := l.Remove("db"); err != nil {
			t.Fatalf("Remove on a full volume: %v", err)
		}
		if l.Pending("db") {
			t.Fatal("Remove left the marker")
		}
		if ok, _ := l.Exists("db"); ok {
			t.Fatal("Remove left the database")
		}
	}
}
