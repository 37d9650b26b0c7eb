package volumes

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// A database's files are deleted with no lock held: while the removal of a
// large database is under way (its delete held here), spawns of other
// names, and of the same name again, go through.
func TestRemoveDoesNotBlockCreate(t *testing.T) {
	t.Parallel()
	l := open(t)
	mustCreate := func(name string) {
		t.Helper()
		if _, err := l.Create(name); err != nil {
			t.Fatal(err)
		}
		if err := l.Complete(name); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate("big")
	mustCreate("neighbour")

	deleting := make(chan string)
	release := make(chan struct{})
	l.removeAll = func(p string) error {
		if strings.HasPrefix(filepath.Base(p), "big.") {
			deleting <- p
			<-release
		}
		return os.RemoveAll(p)
	}
	removed := make(chan error, 1)
	go func() { removed <- l.Remove("big") }()
	trash := <-deleting // big is in the trash; its files are being deleted

	if ok, _ := l.Exists("big"); ok {
		t.Fatal("big still exists while its files are deleted")
	}
	done := make(chan error, 1)
	go func() {
		for _, name := range []string{"other", "big", "BIG"} {
			_, err := l.Create(name)
			if name == "BIG" {
				if !errors.Is(err, forge.ErrNameConflict) {
					done <- errors.New("BIG beside the new big: " + errString(err))
					return
				}
				continue
			}
			if err != nil {
				done <- err
				return
			}
		}
		done <- l.Share("neighbour", os.Getegid())
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second): // a safety net only: without the fix this deadlocks
		t.Fatal("Create waited for another database's files to be deleted")
	}
	if _, err := os.Lstat(trash); err != nil {
		t.Fatalf("the old big's files went before their delete was let go: %v", err)
	}
	close(release)
	if err := <-removed; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(trash); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("trash entry left: %v", err)
	}
	for _, name := range []string{"big", "other", "neighbour"} {
		if ok, err := l.Exists(name); !ok || err != nil {
			t.Fatalf("%s: %v %v", name, ok, err)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// Two removals of one name in a row get distinct trash entries, though
// the first may still be deleting its files.
func TestTrashEntriesAreUnique(t *testing.T) {
	t.Parallel()
	l := open(t)
	var mu sync.Mutex
	seen := map[string]bool{}
	l.removeAll = func(p string) error {
		mu.Lock()
		defer mu.Unlock()
		if seen[p] {
			t.Errorf("trash entry %s used twice", p)
		}
		seen[p] = true
		return os.RemoveAll(p)
	}
	for range 20 {
		if _, err := l.Create("a"); err != nil {
			t.Fatal(err)
		}
		if err := l.Remove("a"); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 20 {
		t.Fatalf("%d trash entries, want 20", len(seen))
	}
}

// Creates of one name in different cases, at once: exactly one wins, the
// others see the conflict (the name's lock makes check-and-create atomic).
func TestCaseConflictConcurrent(t *testing.T) {
	t.Parallel()
	l := open(t)
	names := []string{"Mixed", "mixed", "MIXED", "mIxEd"}
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { _, errs[i] = l.Create(name) })
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, forge.ErrNameConflict):
			t.Fatalf("Create(%s): %v", names[i], err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of the case variants were created, want 1: %v", won, errs)
	}
}
