package docker

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/praetorian/db-forge/internal/dockertest"
	"github.com/praetorian/db-forge/volumes"
)

// A worker stopped right after its spawn exits on a SIGTERM, not on the
// stop timeout's SIGKILL (exit code 137). Its first SIGTERM can be lost
// while its init starts (the kernel drops a signal to a PID 1 without a
// handler); stopWorker sends another after a short grace. Before the init
// and the second signal, prunes right after spawn took the whole timeout.
func TestStopRightAfterSpawn(t *testing.T) {
	cli := dockertest.Client(t)
	vol, err := volumes.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	spec := SpecConfig{
		Image:       dockertest.WorkerImageBuilt(t),
		HostDataDir: vol.Root(),
		User:        WorkerUser("", os.Geteuid(), os.Getegid()),
		MemoryBytes: 64 << 20,
		PidsLimit:   16,
		NanoCPUs:    200_000_000,
		Deployment:  dockertest.Deployment(t, cli),
		StopTimeout: 30 * time.Second, // a lost signal would show as a 30 s kill
	}
	b := New(cli, vol, Config{Spec: spec, WorkerGID: 65532, ShareAsRoot: os.Geteuid() == 0}, zaptest.NewLogger(t))
	ctx := context.Background()
	for i := range 10 {
		name := strings.TrimPrefix(spec.Deployment, "test-") + "-quick" + strings.Repeat("x", i)
		inst, _, err := b.Spawn(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.stopWorker(ctx, inst.ContainerID); err != nil {
			t.Fatal(err)
		}
		c, err := cli.ContainerInspect(ctx, inst.ContainerID)
		if err != nil {
			t.Fatal(err)
		}
		if code := c.State.ExitCode; code == 137 || c.State.OOMKilled || c.State.Running {
			t.Fatalf("worker %d: exit %d, running %v: it was killed, not stopped by a SIGTERM", i, code, c.State.Running)
		}
	}
}
