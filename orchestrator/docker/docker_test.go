package docker_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"go.uber.org/zap/zaptest"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/internal/dockertest"
	"github.com/praetorian/db-forge/orchestrator/docker"
	"github.com/praetorian/db-forge/orchestrator/orchestratortest"
	"github.com/praetorian/db-forge/volumes"
)

type fixture struct {
	b    *docker.Backend
	vol  *volumes.Layout
	cli  *client.Client
	spec docker.SpecConfig
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	cli := dockertest.Client(t)
	img := dockertest.WorkerImageBuilt(t)
	vol, err := volumes.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	spec := docker.SpecConfig{
		Image:       img,
		HostDataDir: vol.Root(),
		User:        docker.WorkerUser("", os.Geteuid(), os.Getegid()),
		MemoryBytes: 64 << 20,
		PidsLimit:   16,
		NanoCPUs:    200_000_000,
		Deployment:  dockertest.Deployment(t, cli),
		StopTimeout: 2 * time.Second,
	}
	b := docker.New(cli, vol, docker.Config{Spec: spec, WorkerGID: 65532, ShareAsRoot: os.Geteuid() == 0, ResyncEvery: time.Second},
		zaptest.NewLogger(t))
	return fixture{b: b, vol: vol, cli: cli, spec: spec}
}

// prefix keeps container names unique to this test run.
func prefix(spec docker.SpecConfig) string { return strings.TrimPrefix(spec.Deployment, "test-") + "-" }

func TestBackendContract(t *testing.T) {
	f := newFixture(t)
	orchestratortest.Run(t, orchestratortest.Harness{
		Backend:      f.b,
		HasData:      func(name string) bool { ok, _ := f.vol.Exists(name); return ok },
		ContainerIDs: true,
		Prefix:       prefix(f.spec),
	})
}

// After spawn, the real container carries every field of the spec.
func TestContainerMatchesSpec(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	name := prefix(f.spec) + "spec"
	inst, created, err := f.b.Spawn(ctx, name)
	if err != nil || !created {
		t.Fatalf("spawn: %v %v", created, err)
	}
	c, err := f.cli.ContainerInspect(ctx, inst.ContainerID)
	if err != nil {
		t.Fatal(err)
	}
	want := docker.BuildSpec(name, f.spec)
	h := c.HostConfig
	checks := []struct {
		field    string
		got, exp any
	}{
		{"name", c.Name, "/" + want.Name},
		{"image", c.Config.Image, want.Image},
		{"user", c.Config.User, want.User},
		{"labels", pick(c.Config.Labels, docker.LabelWorker, docker.LabelName, docker.LabelManagedBy), want.Labels},
		{"env", hasAll(c.Config.Env, want.Env), true},
		{"healthcheck test", []string(c.Config.Healthcheck.Test), want.Healthcheck.Test},
		{"healthcheck interval", c.Config.Healthcheck.Interval, want.Healthcheck.Interval},
		{"healthcheck timeout", c.Config.Healthcheck.Timeout, want.Healthcheck.Timeout},
		{"healthcheck retries", c.Config.Healthcheck.Retries, want.Healthcheck.Retries},
		{"stop signal", c.Config.StopSignal, want.StopSignal},
		{"stop timeout", *c.Config.StopTimeout, want.StopTimeout},
		{"network mode", string(h.NetworkMode), "none"},
		{"read-only rootfs", h.ReadonlyRootfs, true},
		{"cap drop", []string(h.CapDrop), []string{"ALL"}},
		{"cap add", len(h.CapAdd), 0},
		{"privileged", h.Privileged, false},
		{"security opt", h.SecurityOpt, []string{"no-new-privileges:true"}},
		{"pids limit", *h.PidsLimit, want.PidsLimit},
		{"memory", h.Memory, want.MemoryBytes},
		{"memory swap", h.MemorySwap, want.MemorySwap},
		{"nano cpus", h.NanoCPUs, want.NanoCPUs},
		{"restart policy", string(h.RestartPolicy.Name), "unless-stopped"},
		{"log driver", h.LogConfig.Type, "json-file"},
		{"log options", h.LogConfig.Config, want.LogOptions},
		{"tmpfs", h.Tmpfs, want.Tmpfs},
		{"init", h.Init != nil && *h.Init, want.Init},
		{"mount count", len(c.Mounts), 1},
		{"mount source", c.Mounts[0].Source, filepath.Join(f.vol.Root(), "databases", name)},
		{"mount target", c.Mounts[0].Destination, "/data"},
		{"mount writable", c.Mounts[0].RW, true},
		{"running", c.State.Running, true},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.exp) {
			t.Errorf("%s: got %#v, want %#v", ck.field, ck.got, ck.exp)
		}
	}
	if strings.HasPrefix(c.Config.User, "0:") || c.Config.User == "" || c.Config.User == "root" {
		t.Errorf("worker runs as root: %q", c.Config.User)
	}

	// The worker's own tools work on the mounted database, as its user.
	run := func(args ...string) string {
		out, err := exec.Command("docker", append([]string{"exec", want.Name, "/forge-worker"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker exec %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := run("health"); strings.TrimSpace(out) != "ok" {
		t.Fatalf("health: %q", out)
	}
	run("sql", "-c", "CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('written by the worker');")
	if out := run("sql", "-c", "SELECT v FROM t"); !strings.Contains(out, "written by the worker") {
		t.Fatalf("sql read back: %q", out)
	}
	if out := run("health"); strings.TrimSpace(out) != "ok" {
		t.Fatalf("health after writes: %q", out)
	}

	// SIGTERM: the worker exits cleanly within a second.
	start := time.Now()
	timeout := 10
	if err := f.cli.ContainerStop(ctx, inst.ContainerID, container.StopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	c, err = f.cli.ContainerInspect(ctx, inst.ContainerID)
	if err != nil {
		t.Fatal(err)
	}
	if c.State.ExitCode != 0 || took > 3*time.Second {
		t.Fatalf("stop took %v with exit code %d; want a clean exit within a second of SIGTERM", took, c.State.ExitCode)
	}
	t.Logf("worker stopped in %v after SIGTERM", took)
}

func pick(m map[string]string, keys ...string) map[string]string {
	out := map[string]string{}
	for _, k := range keys {
		out[k] = m[k]
	}
	return out
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// Workers that vanish, die or are stopped come back; pruned ones do not.
func TestReconcileRestoresWorkers(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.b.Watch(ctx)
	name := prefix(f.spec) + "heal"
	inst, _, err := f.b.Spawn(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	running := func() (string, bool) {
		c, err := f.cli.ContainerInspect(ctx, docker.ContainerName(name))
		if err != nil {
			return "", false
		}
		return c.ID, c.State.Running
	}

	if err := f.cli.ContainerRemove(ctx, inst.ContainerID, container.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	dockertest.Eventually(t, 20*time.Second, "removed worker recreated", func() bool {
		id, ok := running()
		return ok && id != inst.ContainerID
	})
	id, _ := running()

	if err := f.cli.ContainerKill(ctx, id, "SIGKILL"); err != nil {
		t.Fatal(err)
	}
	dockertest.Eventually(t, 20*time.Second, "killed worker running again", func() bool {
		_, ok := running()
		return ok
	})

	timeout := 1
	if err := f.cli.ContainerStop(ctx, id, container.StopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	dockertest.Eventually(t, 20*time.Second, "stopped worker started again", func() bool {
		_, ok := running()
		return ok
	})

	list, err := f.b.List(ctx)
	if err != nil || len(list) != 1 || list[0].Status != forge.StatusRunning {
		t.Fatalf("list after healing: %+v %v", list, err)
	}

	if err := f.b.Prune(ctx, name); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // past the event debounce and a resync
	if _, err := f.cli.ContainerInspect(ctx, docker.ContainerName(name)); err == nil {
		t.Fatal("pruned worker came back")
	}
}

// The list reports a worker's real state.
func TestListStatuses(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	name := prefix(f.spec) + "status"
	inst, _, err := f.b.Spawn(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	status := func() string {
		list, err := f.b.List(ctx)
		if err != nil || len(list) != 1 {
			t.Fatalf("list %+v %v", list, err)
		}
		return list[0].Status
	}
	if s := status(); s != forge.StatusRunning {
		t.Fatalf("status %s", s)
	}
	timeout := 1
	if err := f.cli.ContainerStop(ctx, inst.ContainerID, container.StopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	if s := status(); s != forge.StatusExited {
		t.Fatalf("after stop: %s", s)
	}
	if err := f.cli.ContainerRemove(ctx, inst.ContainerID, container.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if s := status(); s != forge.StatusMissing {
		t.Fatalf("after rm: %s", s)
	}
	// Spawn is idempotent and brings the worker back: 200, not 201.
	again, created, err := f.b.Spawn(ctx, name)
	if err != nil || created || again.Status != forge.StatusRunning || again.ContainerID == inst.ContainerID {
		t.Fatalf("spawn over a missing worker: %+v created=%v err=%v", again, created, err)
	}
}

// With the engine unreachable every admin operation fails with
// ErrBackendUnavailable and changes nothing on disk.
func TestDockerDown(t *testing.T) {
	dead, err := client.NewClientWithOpts(client.WithHost("unix://"+filepath.Join(t.TempDir(), "no-docker.sock")), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	vol, err := volumes.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := docker.New(dead, vol, docker.Config{Spec: docker.SpecConfig{Image: "x", Deployment: "down", HostDataDir: vol.Root()}}, zaptest.NewLogger(t))
	ctx := context.Background()
	if _, _, err := b.Spawn(ctx, "db"); !errors.Is(err, forge.ErrBackendUnavailable) {
		t.Errorf("spawn: %v", err)
	}
	if ok, _ := vol.Exists("db"); ok {
		t.Error("spawn with Docker down created the database")
	}
	if _, err := vol.Create("db"); err != nil {
		t.Fatal(err)
	}
	for name, op := range map[string]func() error{
		"prune":  func() error { return b.Prune(ctx, "db") },
		"delete": func() error { return b.Delete(ctx, "db") },
		"list":   func() error { _, err := b.List(ctx); return err },
		"check":  func() error { return b.Check(ctx) },
	} {
		if err := op(); !errors.Is(err, forge.ErrBackendUnavailable) {
			t.Errorf("%s: %v, want ErrBackendUnavailable", name, err)
		}
	}
	if ok, _ := vol.Exists("db"); !ok {
		t.Error("delete with Docker down removed the data")
	}
}

// A missing worker image is an operator's error with a clear message.
func TestMissingImage(t *testing.T) {
	f := newFixture(t)
	spec := f.spec
	spec.Image = "db-forge-no-such-image:never"
	b := docker.New(f.cli, f.vol, docker.Config{Spec: spec}, zaptest.NewLogger(t))
	_, _, err := b.Spawn(context.Background(), prefix(spec)+"noimg")
	var be *forge.BackendError
	if !errors.As(err, &be) || !strings.Contains(be.Message, "make images") {
		t.Fatalf("spawn without image: %v", err)
	}
	if err := b.CheckImage(context.Background()); !errors.As(err, &be) {
		t.Fatalf("CheckImage: %v", err)
	}
}
