package volumes

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
)

func TestRetainAndUnretain(t *testing.T) {
	root := t.TempDir()
	l, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Create("a"); err != nil {
		t.Fatal(err)
	}
	_ = l.Complete("a")
	p, _ := l.Path("a")
	if err := os.WriteFile(p, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := l.WriteSidecar("a", "lease", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	cps, _ := l.CheckpointDir("a")
	if err := os.MkdirAll(cps, 0o700); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(cps, "c1.db"), []byte("cp"), 0o600)

	expired := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	if err := l.Retain("a", expired); err != nil {
		t.Fatal(err)
	}
	if ok, _ := l.Exists("a"); ok {
		t.Error("a retained database still exists")
	}
	if _, err := os.Stat(cps); !os.IsNotExist(err) {
		t.Errorf("its checkpoints stayed: %v", err)
	}
	list, err := l.Retained()
	if err != nil || len(list) != 1 || list[0].Name != "a" || !list[0].ExpiredAt.Equal(expired) || list[0].SizeBytes < 6 {
		t.Fatalf("Retained = %+v, %v", list, err)
	}
	// Survives a reopening.
	if l, err = Open(root); err != nil {
		t.Fatal(err)
	}
	if list, _ := l.Retained(); len(list) != 1 {
		t.Fatalf("after reopening: %+v", list)
	}
	// A database of the name blocks the way back.
	if _, err := l.Create("a"); err != nil {
		t.Fatal(err)
	}
	if err := l.Unretain("a", "lease"); !errors.Is(err, forge.ErrNameInUse) {
		t.Errorf("Unretain over a live database: %v", err)
	}
	if err := l.Remove("a"); err != nil {
		t.Fatal(err)
	}
	if err := l.Unretain("a", "lease"); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "data" {
		t.Errorf("restored file: %q %v", b, err)
	}
	if _, err := l.ReadSidecar("a", "lease"); !os.IsNotExist(err) {
		t.Errorf("the dropped sidecar came back: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cps, "c1.db")); err != nil {
		t.Errorf("checkpoint not restored: %v", err)
	}
	if err := l.Unretain("a"); !errors.Is(err, forge.ErrNotInTrash) {
		t.Errorf("second Unretain: %v", err)
	}
	if list, _ := l.Retained(); len(list) != 0 {
		t.Errorf("trash after restore: %+v", list)
	}
}

func TestPurgeRetained(t *testing.T) {
	l, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"old", "new"} {
		if _, err := l.Create(n); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Retain("old", time.Now()); err != nil {
		t.Fatal(err)
	}
	cutoff := time.Now()
	time.Sleep(10 * time.Millisecond)
	if err := l.Retain("new", time.Now()); err != nil {
		t.Fatal(err)
	}
	purged, err := l.PurgeRetained(cutoff.Add(time.Millisecond))
	if err != nil || len(purged) != 1 || purged[0] != "old" {
		t.Fatalf("purged %v, %v", purged, err)
	}
	if list, _ := l.Retained(); len(list) != 1 || list[0].Name != "new" {
		t.Errorf("left %+v", list)
	}
	if err := l.Unretain("old"); !errors.Is(err, forge.ErrNotInTrash) {
		t.Errorf("restore of a purged database: %v", err)
	}
}

// TestRecoverRetained: an entry a crash left without its database (only
// the checkpoints moved) gives them back to the live database at start.
func TestRecoverRetained(t *testing.T) {
	root := t.TempDir()
	l, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Create("a"); err != nil {
		t.Fatal(err)
	}
	_ = l.Complete("a")
	entry := l.SystemPath(retainedDir, "a")
	if err := os.MkdirAll(filepath.Join(entry, entryCPs), 0o700); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(entry, entryCPs, "c1.db"), []byte("cp"), 0o600)
	if l, err = Open(root); err != nil {
		t.Fatal(err)
	}
	cps, _ := l.CheckpointDir("a")
	if _, err := os.Stat(filepath.Join(cps, "c1.db")); err != nil {
		t.Errorf("checkpoint not given back: %v", err)
	}
	if _, err := os.Stat(entry); !os.IsNotExist(err) {
		t.Errorf("the broken entry stayed: %v", err)
	}
}
