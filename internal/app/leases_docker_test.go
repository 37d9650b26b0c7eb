package app_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/praetorian/db-forge/internal/contracttest"
	"github.com/praetorian/db-forge/internal/dockertest"
)

// TestLeasesDockerBackend: with Docker, an expired database's worker
// container is removed, and a restore makes a new one that runs.
func TestLeasesDockerBackend(t *testing.T) {
	cli := dockertest.Client(t)
	img := dockertest.WorkerImageBuilt(t)
	dep := dockertest.Deployment(t, cli)
	g := start(t, t.TempDir(), "FORGE_BACKEND=docker", "FORGE_WORKER_IMAGE="+img, "FORGE_DEPLOYMENT="+dep)
	admin := g.client()
	db := strings.TrimPrefix(dep, "test-") + "-lease"

	r := admin.Do(t, "POST", "/admin/databases/spawn/"+db, `{"ttl": 2}`)
	contracttest.Expect(t, r, 201, "")
	id, _ := r.Body.(map[string]any)["container_id"].(string)
	if id == "" {
		t.Fatalf("no container: %s", r.Raw)
	}
	contracttest.Expect(t, admin.Do(t, "POST", "/api/db/"+db+"/query", `{"sql": "CREATE TABLE t (v)"}`), 200, "")
	contracttest.Expect(t, admin.Do(t, "POST", "/api/db/"+db+"/query", `{"sql": "INSERT INTO t VALUES (42)"}`), 200, "")

	waitFor(t, "the database in the trash", func() bool { return slices.Contains(trashNames(t, admin), db) })
	ctx := context.Background()
	dockertest.Eventually(t, 20*time.Second, "the expired database's worker removed", func() bool {
		_, err := cli.ContainerInspect(ctx, id)
		return err != nil
	})
	contracttest.ExpectError(t, admin.Do(t, "POST", "/api/db/"+db+"/query", `{"sql": "SELECT 1"}`), 404, "Database not found.")

	r = admin.Do(t, "POST", "/admin/trash/"+db+"/restore", nil)
	contracttest.Expect(t, r, 200, "")
	newID, _ := r.Body.(map[string]any)["container_id"].(string)
	if newID == "" || newID == id {
		t.Fatalf("restore's container %q (the expired one was %q)", newID, id)
	}
	info, err := cli.ContainerInspect(ctx, newID)
	if err != nil {
		t.Fatal(err)
	}
	if !info.State.Running && info.State.Status != string(container.StateCreated) {
		t.Errorf("restored worker state %s", info.State.Status)
	}
	contracttest.Expect(t, admin.Do(t, "POST", "/api/db/"+db+"/query", `{"sql": "SELECT v FROM t"}`), 200,
		`{"data": [{"v": 42}], "rows_affected": 1}`)
}
