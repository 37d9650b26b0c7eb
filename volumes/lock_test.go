package volumes_test

import (
	"errors"
	"testing"

	"github.com/praetorian/db-forge/volumes"
)

func TestLockOneOwner(t *testing.T) {
	root := t.TempDir()
	unlock, err := volumes.Lock(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := volumes.Lock(root); !errors.Is(err, volumes.ErrLocked) {
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	unlock()
	again, err := volumes.Lock(root)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	again()
}
