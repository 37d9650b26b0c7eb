package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/praetorian/db-forge/internal/app"
	"github.com/praetorian/db-forge/internal/contracttest"
)

// sharedCache keeps compiled SQLite between test runs (cold compile ~2 s).
var sharedCache = filepath.Join(os.TempDir(), "db-forge-test-wasm-cache")

// testAdminKey is the admin key (FORGE_ADMIN_KEY) of the gateways these
// tests start, unless a test sets its own or empties it to use the file.
const testAdminKey = "test-admin-key-0123456789abcdef-0123456789abcdef"

// gateway is a gateway started by app.Run on a loopback port.
type gateway struct {
	url      string
	adminKey string // "" when authentication is off and no key was given
	logs     *syncBuffer
	stop     func() error
	// http checks every exchange against the gateway's OpenAPI document
	// (contracttest.ValidatingHTTP).
	http *http.Client
}

// client talks to the gateway with its admin key.
func (g *gateway) client() contracttest.Client {
	return contracttest.Client{Base: g.url, APIKey: g.adminKey, HTTP: g.http}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t testing.TB, dataDir string, extraEnv ...string) *gateway {
	t.Helper()
	env := append([]string{
		"FORGE_LISTEN=127.0.0.1:0",
		"FORGE_DATA_DIR=" + dataDir,
		"FORGE_WASM_CACHE_DIR=" + sharedCache,
		"FORGE_LOG_FLUSH=0",      // tests read the log while the gateway runs
		"FORGE_SHUTDOWN_DRAIN=0", // no grace for idle keep-alive clients: stop at once
		"FORGE_BACKEND=local",
		"FORGE_ADMIN_KEY=" + testAdminKey,
		"PATH=/usr/bin", // non-FORGE variables are ignored
	}, extraEnv...)
	adminKey := ""
	for _, kv := range env { // the last one wins, as in config.Load
		if v, ok := strings.CutPrefix(kv, "FORGE_ADMIN_KEY="); ok {
			adminKey = v
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, nil, env, logs, func(a string) { addr <- a }) }()
	select {
	case a := <-addr:
		if adminKey == "" { // the key the gateway made (or found) in its file
			if b, err := os.ReadFile(filepath.Join(dataDir, ".forge", "admin.key")); err == nil {
				adminKey = strings.TrimSpace(string(b))
			}
		}
		g := &gateway{url: "http://" + a, adminKey: adminKey, logs: logs}
		var once sync.Once
		var stopErr error
		g.stop = func() error {
			once.Do(func() {
				cancel()
				select {
				case stopErr = <-done:
				case <-time.After(30 * time.Second):
					t.Error("gateway did not stop within 30s")
				}
			})
			return stopErr
		}
		t.Cleanup(func() { _ = g.stop() })
		g.http = contracttest.ValidatingHTTP(t, g.url)
		return g
	case err := <-done:
		cancel()
		t.Fatalf("gateway did not start: %v\n%s", err, logs.String())
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("gateway did not start in 60s\n%s", logs.String())
	}
	return nil
}

// The seed contract with authentication on, every request carrying the
// admin key, plus the contract's authentication cases.
func TestContractLocalBackend(t *testing.T) {
	// Buffered logging, as deployed: the last lines must reach the log at shutdown.
	g := start(t, t.TempDir(), "FORGE_LOG_FLUSH=10s")
	contracttest.Run(t, contracttest.Config{BaseURL: g.url, Prefix: "ct-", APIKey: g.adminKey})
	if err := g.stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if !strings.Contains(g.logs.String(), "stopped cleanly") {
		t.Errorf("no clean stop in the log:\n%s", g.logs.String())
	}
	if strings.Contains(g.logs.String(), testAdminKey) {
		t.Errorf("the admin key is in the log")
	}
}

// The seed contract as the prototype's clients know it, without any key:
// FORGE_AUTH=disabled, the local-development mode.
func TestContractAuthDisabled(t *testing.T) {
	g := start(t, t.TempDir(), "FORGE_AUTH=disabled")
	contracttest.Run(t, contracttest.Config{BaseURL: g.url, Prefix: "open-"})
}

func TestInstancesSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	g := start(t, dir)
	c := g.client()
	contracttest.Expect(t, c.Do(t, "POST", "/admin/databases/spawn/keep", nil), 201, "")
	contracttest.Expect(t, c.Do(t, "POST", "/admin/databases/spawn/gone", nil), 201, "")
	contracttest.Expect(t, c.Do(t, "POST", "/api/db/keep/query", `{"sql": "CREATE TABLE t (v)"}`), 200, "")
	contracttest.Expect(t, c.Do(t, "POST", "/api/db/keep/query", `{"sql": "INSERT INTO t VALUES (42)"}`), 200, "")
	contracttest.Expect(t, c.Do(t, "POST", "/admin/databases/prune/gone", nil), 200, "")
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}

	g = start(t, dir)
	c = g.client()
	r := c.Do(t, "GET", "/admin/databases", nil)
	contracttest.Expect(t, r, 200, "")
	list := r.Body.([]any)
	if len(list) != 1 || list[0].(map[string]any)["name"] != "keep" {
		t.Fatalf("after restart: %s", r.Raw)
	}
	contracttest.Expect(t, c.Do(t, "POST", "/api/db/keep/query", `{"sql": "SELECT v FROM t"}`), 200,
		`{"data": [{"v": 42}], "rows_affected": 1}`)
	// The pruned database kept its data too.
	contracttest.Expect(t, c.Do(t, "POST", "/api/db/gone/query", `{"sql": "SELECT 1 AS x"}`), 200,
		`{"data": [{"x": 1}], "rows_affected": 1}`)
}

func TestRequestIDAndHealth(t *testing.T) {
	g := start(t, t.TempDir())
	c := g.client()
	r := c.Do(t, "GET", "/health", nil)
	contracttest.Expect(t, r, 200, "")
	// The data directory's check also says its free space and reserve.
	checks := r.Body.(map[string]any)["checks"].(map[string]any)
	dd := checks["data_dir"].(map[string]any)
	if dd["free_bytes"] == nil || dd["reserve_bytes"] == nil {
		t.Fatalf("data_dir check without its figures: %s", r.Raw)
	}
	delete(dd, "free_bytes")
	delete(dd, "reserve_bytes")
	// The build's version and the uptime (whole seconds).
	body := r.Body.(map[string]any)
	if v, _ := body["version"].(string); v == "" {
		t.Errorf("health without a version: %s", r.Raw)
	}
	if up, ok := body["uptime_s"].(json.Number); !ok || up.String() == "" || strings.HasPrefix(up.String(), "-") {
		t.Errorf("health's uptime_s: %s", r.Raw)
	}
	delete(body, "version")
	delete(body, "uptime_s")
	if want := contracttest.J(t, `{"status": "ok", "checks": {"data_dir": {"ok": true}, "engine": {"ok": true}, "backend": {"ok": true}}}`); !reflect.DeepEqual(r.Body, want) {
		t.Fatalf("health: %s", r.Raw)
	}
	if r.Header.Get("X-Request-Id") == "" {
		t.Fatal("no generated X-Request-Id")
	}

	req, _ := http.NewRequest("GET", g.url+"/", nil)
	req.Header.Set("X-Request-Id", "client-id-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != "client-id-123" {
		t.Fatalf("X-Request-Id %q, want the client's", got)
	}
	req.Header.Set("X-Request-Id", "bad id\twith spaces")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got == "" || strings.ContainsAny(got, " \t") {
		t.Fatalf("unsafe client id must be replaced, got %q", got)
	}

	// One access-log line per request, with the route pattern, not the path.
	c.Do(t, "POST", "/api/db/nosuchdb/query", `{"sql": "SELECT 1"}`)
	logs := g.logs.String()
	if !strings.Contains(logs, `"route":"/api/db/{db_name}/query"`) || !strings.Contains(logs, `"db":"nosuchdb"`) ||
		!strings.Contains(logs, `"status":404`) || !strings.Contains(logs, `"request_id":"client-id-123"`) ||
		!strings.Contains(logs, `"key_id":"admin"`) {
		t.Fatalf("access log lacks route pattern, db, status, request id or key id:\n%s", logs)
	}
}

func TestHealthFailsWhenDataDirIsNotWritable(t *testing.T) {
	{
		// Permission bits do not stop root; replace the state directory
		// with a file instead, which stops everyone.
		dir := t.TempDir()
		g := start(t, dir)
		if err := os.RemoveAll(filepath.Join(dir, ".forge")); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ".forge"), []byte("not a dir"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := contracttest.Client{Base: g.url, HTTP: g.http}.Do(t, "GET", "/health", nil)
		contracttest.ExpectError(t, r, 503, "Service unavailable.")
		checks := r.Body.(map[string]any)["checks"].(map[string]any)
		if checks["data_dir"].(map[string]any)["ok"] != false || checks["engine"].(map[string]any)["ok"] != true {
			t.Fatalf("checks: %s", r.Raw)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"unknown variable", []string{"FORGE_LISTN=:1"}, nil, "FORGE_LISTN"},
		{"bad backend", []string{"FORGE_BACKEND=k8s"}, nil, "FORGE_BACKEND"},
		{"bad duration", []string{"FORGE_QUERY_TIMEOUT=soon"}, nil, "FORGE_QUERY_TIMEOUT"},
		{"unknown flag", nil, []string{"-listn", ":1"}, "listn"},
		{"bad flag value", nil, []string{"-max-open-dbs", "0"}, "max-open-dbs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := app.Run(context.Background(), tc.args, tc.env, &out, nil)
			if err == nil || !strings.Contains(err.Error()+out.String(), tc.want) {
				t.Fatalf("err %v (output %q), want mention of %s", err, out.String(), tc.want)
			}
		})
	}
}

// TestRunClosesTheEngineWhenListenFails: a gateway that cannot listen
// returns its error and leaves no file of the data directory open (issue
// 17, bug 2: meta.db stayed open, with the engine's janitor running).
func TestRunClosesTheEngineWhenListenFails(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	env := []string{"FORGE_LISTEN=" + busy.Addr().String(), "FORGE_DATA_DIR=" + dir,
		"FORGE_WASM_CACHE_DIR=" + sharedCache, "FORGE_BACKEND=local", "FORGE_ADMIN_KEY=" + testAdminKey}
	err = app.Run(context.Background(), nil, env, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("Run = %v, want a listen error", err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir) {
			t.Errorf("fd %s still open on %s", fd.Name(), target)
		}
	}
}
