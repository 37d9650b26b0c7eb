package app_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/praetorian/db-forge/internal/contracttest"
	"github.com/praetorian/db-forge/internal/dockertest"
)

// The seed contract, again, with every instance a real Docker worker.
func TestContractDockerBackend(t *testing.T) {
	cli := dockertest.Client(t)
	img := dockertest.WorkerImageBuilt(t)
	dep := dockertest.Deployment(t, cli)
	g := start(t, t.TempDir(), "FORGE_BACKEND=docker", "FORGE_WORKER_IMAGE="+img, "FORGE_DEPLOYMENT="+dep)
	contracttest.Run(t, contracttest.Config{BaseURL: g.url, ContainerIDs: true, Prefix: strings.TrimPrefix(dep, "test-") + "-", APIKey: g.adminKey})
}

// socketProxy forwards a unix socket to the Docker engine's and can be cut
// and restored, to play "the daemon is down" without touching the daemon.
type socketProxy struct {
	path   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func (p *socketProxy) up(t *testing.T) {
	t.Helper()
	_ = os.Remove(p.path)
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			d, err := net.Dial("unix", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[d] = true, true
			p.mu.Unlock()
			go func() { _, _ = io.Copy(d, c); d.Close() }()
			go func() { _, _ = io.Copy(c, d); c.Close() }()
		}
	}()
}

func (p *socketProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// Docker goes away: the data plane keeps serving, admin routes answer 503
// "Docker not available." with Retry-After, /health shows the backend
// failing; Docker comes back: everything recovers without a restart.
func TestDockerDownAndRecovery(t *testing.T) {
	cli := dockertest.Client(t)
	img := dockertest.WorkerImageBuilt(t)
	dep := dockertest.Deployment(t, cli)
	host := strings.TrimPrefix(cli.DaemonHost(), "unix://")
	if !strings.HasPrefix(cli.DaemonHost(), "unix://") {
		t.Skipf("the proxy needs a unix-socket engine, have %s", cli.DaemonHost())
	}
	p := &socketProxy{path: filepath.Join(t.TempDir(), "docker.sock"), target: host, conns: map[net.Conn]bool{}}
	p.up(t)
	defer p.down()
	t.Setenv("DOCKER_HOST", "unix://"+p.path)

	g := start(t, t.TempDir(), "FORGE_BACKEND=docker", "FORGE_WORKER_IMAGE="+img, "FORGE_DEPLOYMENT="+dep)
	c := g.client()
	db := strings.TrimPrefix(dep, "test-") + "-down"
	contracttest.Expect(t, c.Do(t, "POST", "/admin/databases/spawn/"+db, nil), 201, "")
	contracttest.Expect(t, c.Do(t, "POST", "/api/db/"+db+"/query", `{"sql": "CREATE TABLE t (v)"}`), 200, "")

	p.down()
	for _, tc := range []struct{ method, path string }{
		{"POST", "/admin/databases/spawn/" + db + "-new"},
		{"POST", "/admin/databases/prune/" + db},
		{"GET", "/admin/databases"},
		{"DELETE", "/admin/databases/" + db},
	} {
		r := c.Do(t, tc.method, tc.path, nil)
		contracttest.ExpectError(t, r, 503, "Docker not available.")
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s: no Retry-After", tc.method, tc.path)
		}
	}
	// The data plane does not need Docker.
	contracttest.Expect(t, c.Do(t, "POST", "/api/db/"+db+"/query", `{"sql": "INSERT INTO t VALUES (1)"}`), 200,
		`{"message": "Query executed successfully.", "rows_affected": 1}`)
	contracttest.Expect(t, c.Do(t, "POST", "/api/db/"+db+"/query", `{"sql": "SELECT count(*) AS n FROM t"}`), 200,
		`{"data": [{"n": 1}], "rows_affected": 1}`)
	r := c.Do(t, "GET", "/health", nil)
	contracttest.ExpectError(t, r, 503, "Service unavailable.")
	checks := r.Body.(map[string]any)["checks"].(map[string]any)
	if checks["backend"].(map[string]any)["ok"] != false || checks["engine"].(map[string]any)["ok"] != true {
		t.Fatalf("health while Docker is down: %s", r.Raw)
	}
	// The spawn refused while Docker was down left nothing behind.
	if r := c.Do(t, "POST", "/api/db/"+db+"-new/query", `{"sql": "SELECT 1"}`); r.Status != 404 {
		t.Fatalf("refused spawn created a database: %d %s", r.Status, r.Raw)
	}

	p.up(t)
	dockertest.Eventually(t, 30*time.Second, "health recovers", func() bool {
		return c.Do(t, "GET", "/health", nil).Status == 200
	})
	contracttest.Expect(t, c.Do(t, "GET", "/admin/databases", nil), 200, "")
	contracttest.Expect(t, c.Do(t, "POST", "/admin/databases/spawn/"+db+"-new", nil), 201, "")
	contracttest.Expect(t, c.Do(t, "POST", "/admin/databases/prune/"+db, nil), 200, "")
}

// The whole thing as shipped: both images built from this tree, the gateway
// container with the Docker socket mounted, a spawn over HTTP, and the
// worker it made found on the engine.
func TestEndToEndGatewayContainer(t *testing.T) {
	cli := dockertest.Client(t)
	workerImg := dockertest.WorkerImageBuilt(t)
	gatewayImg := dockertest.GatewayImageBuilt(t)
	dep := dockertest.Deployment(t, cli)
	ctx := context.Background()
	dataDir := t.TempDir()
	if err := os.Chmod(dataDir, 0o777); err != nil { // the gateway container runs as 65532 below
		t.Fatal(err)
	}

	port := nat.Port("8000/tcp")
	resp, err := cli.ContainerCreate(ctx, &container.Config{
		Image: gatewayImg,
		User:  "65532:65532",
		Env: []string{
			"FORGE_DATA_DIR=/data", "FORGE_HOST_DATA_DIR=" + dataDir, "FORGE_BACKEND=docker",
			"FORGE_WORKER_IMAGE=" + workerImg, "FORGE_DEPLOYMENT=" + dep, "FORGE_ADMIN_KEY=" + testAdminKey,
		},
		Labels:       map[string]string{"org.db-forge.managed-by": dep},
		ExposedPorts: nat.PortSet{port: {}},
	}, &container.HostConfig{
		Binds:          []string{"/var/run/docker.sock:/var/run/docker.sock", dataDir + ":/data"},
		GroupAdd:       []string{socketGroup(t)},
		PortBindings:   nat.PortMap{port: {{HostIP: "127.0.0.1", HostPort: ""}}},
		ReadonlyRootfs: true,
		Tmpfs:          map[string]string{"/tmp": ""},
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges:true"},
	}, &network.NetworkingConfig{}, nil, "db-forge-gateway-"+dep)
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.ContainerStart(ctx, resp.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			logs, _ := cli.ContainerLogs(ctx, resp.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
			if logs != nil {
				b, _ := io.ReadAll(logs)
				t.Logf("gateway container logs:\n%s", b)
			}
		}
	}()
	info, err := cli.ContainerInspect(ctx, resp.ID)
	if err != nil {
		t.Fatal(err)
	}
	binding := info.NetworkSettings.Ports[port]
	if len(binding) == 0 {
		t.Fatalf("no published port: %+v", info.NetworkSettings.Ports)
	}
	base := fmt.Sprintf("http://127.0.0.1:%s", binding[0].HostPort)
	c := contracttest.Client{Base: base, HTTP: &http.Client{Timeout: 30 * time.Second}, APIKey: testAdminKey}
	dockertest.Eventually(t, 60*time.Second, "gateway container answers /health", func() bool {
		r, err := http.Get(base + "/health")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	})

	db := strings.TrimPrefix(dep, "test-") + "-e2e"
	r := c.Do(t, "POST", "/admin/databases/spawn/"+db, nil)
	contracttest.Expect(t, r, 201, "")
	id := r.Body.(map[string]any)["container_id"].(string)
	workers, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(
		filters.Arg("label", "db-worker=true"), filters.Arg("label", "db-name="+db), filters.Arg("label", "org.db-forge.managed-by="+dep))})
	if err != nil || len(workers) != 1 || workers[0].ID != id || workers[0].State != "running" {
		t.Fatalf("worker for %s: %+v %v (spawn said %s)", db, workers, err, id)
	}
	contracttest.Expect(t, c.Do(t, "POST", "/api/db/"+db+"/query", `{"sql": "SELECT 40 + 2 AS answer"}`), 200,
		`{"data": [{"answer": 42}], "rows_affected": 1}`)
	contracttest.Expect(t, c.Do(t, "POST", "/admin/databases/prune/"+db, nil), 200, "")
	dockertest.Eventually(t, 20*time.Second, "pruned worker removed", func() bool {
		_, err := cli.ContainerInspect(ctx, id)
		return err != nil
	})
	// The healthcheck baked into the gateway image passes.
	dockertest.Eventually(t, 60*time.Second, "gateway container healthy", func() bool {
		info, err := cli.ContainerInspect(ctx, resp.ID)
		return err == nil && info.State.Health != nil && info.State.Health.Status == "healthy"
	})
}

// socketGroup is the group owning the engine's socket, which the gateway
// container joins to use it as a non-root user.
func socketGroup(t *testing.T) string {
	fi, err := os.Stat("/var/run/docker.sock")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no /var/run/docker.sock to mount: %v", err)
		}
		t.Skipf("no /var/run/docker.sock to mount: %v", err)
	}
	return fmt.Sprint(fi.Sys().(*syscall.Stat_t).Gid)
}
