// Package dockertest gives tests the real Docker engine: a client, the
// project's images built from source (no registry needed), unique
// deployment labels, and cleanup of every container a test made, even when
// it fails. Without an engine a test is skipped — except when CI=true,
// where a missing engine fails the run.
package dockertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
)

// Test image tags. Tests build them from the working tree; they are left in
// place (they are small and rebuilt by every run) so that test packages
// running in parallel never remove an image another one uses.
const (
	WorkerImage  = "db-worker-base:test"
	GatewayImage = "db-forge-gateway:test"
)

// Client returns a Docker client whose engine answers, or skips the test
// (fails it when CI=true).
func Client(t testing.TB) *client.Client {
	t.Helper()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = cli.Ping(ctx)
		cancel()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and the Docker engine does not answer: %v", err)
		}
		t.Skipf("no Docker engine (%v); CI runs this test", err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// Deployment returns a unique managed-by label value for one test and
// registers the removal of every container carrying it.
func Deployment(t testing.TB, cli *client.Client) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	dep := "test-" + hex.EncodeToString(b[:])
	t.Cleanup(func() { RemoveDeployment(t, cli, dep) })
	return dep
}

// RemoveDeployment force-removes every container labelled with dep.
func RemoveDeployment(t testing.TB, cli *client.Client, dep string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	list, err := cli.ContainerList(ctx, container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", "org.db-forge.managed-by="+dep))})
	if err != nil {
		t.Logf("cleanup %s: %v", dep, err)
		return
	}
	for _, c := range list {
		if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil {
			t.Logf("cleanup %s: remove %s: %v", dep, c.ID[:12], err)
		}
	}
}

var builds struct {
	sync.Mutex
	done map[string]error
}

// RepoRoot is the module's root directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Image builds (once per test process) the static binary cmd/<binary> and
// the image deploy/<dir>/Dockerfile around it, tagged tag.
func Image(t testing.TB, binary, dir, tag string) {
	t.Helper()
	builds.Lock()
	defer builds.Unlock()
	if builds.done == nil {
		builds.done = map[string]error{}
	}
	err, ok := builds.done[tag]
	if !ok {
		err = buildImage(binary, dir, tag)
		builds.done[tag] = err
	}
	if err != nil {
		t.Fatalf("build image %s: %v", tag, err)
	}
}

func buildImage(binary, dir, tag string) error {
	root := RepoRoot()
	ctxDir, err := os.MkdirTemp("", "db-forge-image-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(ctxDir)
	out := filepath.Join(ctxDir, "bin", binary)
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, "./cmd/"+binary)
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, b)
	}
	// The image runs it as a non-root user; the test process's umask (the
	// gateway sets 007) must not make it unexecutable.
	if err := os.Chmod(out, 0o755); err != nil {
		return err
	}
	docker := exec.Command("docker", "build", "-q", "-f", filepath.Join(root, "deploy", dir, "Dockerfile"), "-t", tag, ctxDir)
	if b, err := docker.CombinedOutput(); err != nil {
		return fmt.Errorf("docker build: %v\n%s", err, b)
	}
	return nil
}

// WorkerImageBuilt builds the worker test image.
func WorkerImageBuilt(t testing.TB) string {
	Image(t, "forge-worker", "worker", WorkerImage)
	return WorkerImage
}

// GatewayImageBuilt builds the gateway test image.
func GatewayImageBuilt(t testing.TB) string {
	Image(t, "forge-gateway", "gateway", GatewayImage)
	return GatewayImage
}

// Eventually polls cond every 100ms until it holds or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
