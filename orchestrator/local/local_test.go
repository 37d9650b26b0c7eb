package local_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/internal/smallfs"

	"github.com/praetorian/db-forge/orchestrator/local"
	"github.com/praetorian/db-forge/orchestrator/orchestratortest"
	"github.com/praetorian/db-forge/volumes"
)

func TestBackendContract(t *testing.T) {
	vol, err := volumes.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	orchestratortest.Run(t, orchestratortest.Harness{
		Backend: local.New(vol),
		HasData: func(name string) bool { ok, _ := vol.Exists(name); return ok },
	})
}

// The instance list is derived from disk: a new backend over the same data
// directory (a restart) sees the same instances.
func TestInstancesSurviveANewBackend(t *testing.T) {
	dir := t.TempDir()
	vol, err := volumes.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := local.New(vol)
	for _, n := range []string{"a", "b", "c"} {
		if _, _, err := b.Spawn(t.Context(), n); err != nil {
			t.Fatal(err)
		}
		if err := vol.Complete(n); err != nil { // the gateway does, once the key is out
			t.Fatal(err)
		}
	}
	if err := b.Prune(t.Context(), "b"); err != nil {
		t.Fatal(err)
	}
	vol2, err := volumes.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	list, err := local.New(vol2).List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "a" || list[1].Name != "c" || list[0].CreatedAt.IsZero() {
		t.Fatalf("after restart: %+v", list)
	}
}

// A spawn on a full volume fails with forge.ErrDiskFull and leaves no
// directory, file or marker behind; one cut off by a crash (never
// completed) is gone after a restart.
func TestSpawnOnFullVolumeLeavesNothing(t *testing.T) {
	root := smallfs.Mount(t, 2)
	vol, err := volumes.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	b := local.New(vol)
	filler := filepath.Join(root, "filler")
	smallfs.Fill(t, filler)
	_, _, err = b.Spawn(t.Context(), "full")
	if !errors.Is(err, forge.ErrDiskFull) {
		t.Fatalf("Spawn on a full volume = %v; want forge.ErrDiskFull", err)
	}
	if _, err := os.Lstat(filepath.Join(root, "databases", "full")); err == nil {
		t.Fatal("failed spawn left its directory")
	}
	if vol.Pending("full") {
		t.Fatal("failed spawn left its pending marker")
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if _, created, err := b.Spawn(t.Context(), "cut"); err != nil || !created {
		t.Fatalf("Spawn = %v, %v", created, err)
	}
	// A crash now: the client never got a key. The next start removes it.
	vol2, err := volumes.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	list, err := local.New(vol2).List(t.Context())
	if err != nil || len(list) != 0 {
		t.Fatalf("after restart: %+v, %v; want no instance", list, err)
	}
	if ok, _ := vol2.Exists("cut"); ok {
		t.Fatal("interrupted spawn's database survived the restart")
	}
}
