package docker

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestBuildSpecGolden(t *testing.T) {
	t.Parallel()
	base := SpecConfig{
		Image:       "db-worker-base:latest",
		HostDataDir: "/srv/db-forge/db-data",
		User:        "65532:65532",
		MemoryBytes: 128 << 20,
		PidsLimit:   32,
		NanoCPUs:    250_000_000,
		Deployment:  "db-forge",
		StopTimeout: 5 * time.Second,
	}
	custom := base
	custom.Image = "registry.local/worker:2"
	custom.HostDataDir = "/data/"
	custom.User = "1000:1000"
	custom.MemoryBytes = 64 << 20
	custom.Deployment = "staging"
	for _, tc := range []struct {
		name, db string
		cfg      SpecConfig
	}{
		{"default", "agent1", base},
		{"dotted name custom config", "my.db-v2", custom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := json.MarshalIndent(BuildSpec(tc.db, tc.cfg), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "spec_"+tc.db+".golden.json")
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if string(want) != string(got)+"\n" {
				t.Fatalf("spec differs from %s:\n%s", golden, got)
			}
		})
	}
}

// The hardening must hold whatever the configuration says.
func TestBuildSpecInvariants(t *testing.T) {
	t.Parallel()
	s := BuildSpec("x", SpecConfig{Image: "i", HostDataDir: "/d", User: "1:1", MemoryBytes: 1 << 20, PidsLimit: 8, Deployment: "d"})
	checks := map[string]bool{
		"name":          s.Name == "db-worker-x",
		"network none":  s.NetworkMode == "none",
		"read-only":     s.ReadonlyRootfs,
		"caps dropped":  reflect.DeepEqual(s.CapDrop, []string{"ALL"}),
		"no new privs":  reflect.DeepEqual(s.SecurityOpt, []string{"no-new-privileges:true"}),
		"no swap":       s.MemorySwap == s.MemoryBytes,
		"restart":       s.RestartPolicy == "unless-stopped",
		"one mount":     len(s.Mounts) == 1 && s.Mounts[0].Source == "/d/databases/x" && s.Mounts[0].Target == "/data",
		"labels":        s.Labels["db-worker"] == "true" && s.Labels["db-name"] == "x" && s.Labels[LabelManagedBy] == "d",
		"log rotation":  s.LogOptions["max-size"] != "" && s.LogOptions["max-file"] != "",
		"health probe":  reflect.DeepEqual(s.Healthcheck.Test, []string{"CMD", "/forge-worker", "health"}),
		"worker env db": s.Env[0] == "FORGE_WORKER_DB=x",
	}
	for name, ok := range checks {
		if !ok {
			t.Errorf("%s: spec %+v", name, s)
		}
	}
}

func TestWorkerUser(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		override   string
		euid, egid int
		want       string
	}{
		{"", 0, 0, "65532:65532"},
		{"", 1000, 100, "1000:100"},
		{"2000:2000", 0, 0, "2000:2000"},
	} {
		if got := WorkerUser(tc.override, tc.euid, tc.egid); got != tc.want {
			t.Errorf("WorkerUser(%q, %d, %d) = %q, want %q", tc.override, tc.euid, tc.egid, got, tc.want)
		}
	}
}
