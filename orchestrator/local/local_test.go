package local_test

import (
	"testing"

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
