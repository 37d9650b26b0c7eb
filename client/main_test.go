package client_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/praetorian/db-forge/client"
	"github.com/praetorian/db-forge/internal/app"
	"github.com/praetorian/db-forge/internal/contracttest"
)

// The gateway every test and example of the package talks to: started by
// app.Run on a loopback port in TestMain, as cmd/forge-gateway runs it.
var (
	gatewayURL string
	adminKey   = "client-test-admin-key-0123456789abcdef-0123456789"
)

func TestMain(m *testing.M) {
	os.Exit(runWithGateway(m))
}

func runWithGateway(m *testing.M) int {
	dir, err := os.MkdirTemp("", "forge-client-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	stop, url, err := startGateway(dir, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		return 1
	}
	defer stop()
	gatewayURL = url
	return m.Run()
}

// startGateway runs a gateway on a loopback port with its data in dir
// and returns its URL and how to stop it.
func startGateway(dir string, logs io.Writer) (stop func(), url string, err error) {
	env := []string{
		"FORGE_LISTEN=127.0.0.1:0",
		"FORGE_DATA_DIR=" + filepath.Join(dir, "data"),
		"FORGE_WASM_CACHE_DIR=" + filepath.Join(os.TempDir(), "db-forge-test-wasm-cache"),
		"FORGE_LOG_LEVEL=error",
		"FORGE_SHUTDOWN_DRAIN=0",
		"FORGE_BACKEND=local",
		"FORGE_ADMIN_KEY=" + adminKey,
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, nil, env, logs, func(a string) { addr <- a }) }()
	select {
	case a := <-addr:
		return func() {
			cancel()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
			}
		}, "http://" + a, nil
	case err := <-done:
		cancel()
		return nil, "", err
	case <-time.After(60 * time.Second):
		cancel()
		return nil, "", fmt.Errorf("did not start in 60s")
	}
}

// admin is a client with the admin key whose every exchange is checked
// against the gateway's OpenAPI document.
func admin(t testing.TB) *client.Client {
	return client.New(gatewayURL, client.WithKey(adminKey), client.WithHTTPClient(contracttest.ValidatingHTTP(t, gatewayURL)))
}

// keyed is a client with a database key, validating as admin's.
func keyed(t testing.TB, key string) *client.Client {
	return client.New(gatewayURL, client.WithKey(key), client.WithHTTPClient(contracttest.ValidatingHTTP(t, gatewayURL)))
}

// spawn makes a fresh database and returns its read-write key; it is
// deleted when the test ends.
func spawn(t *testing.T, name string) string {
	t.Helper()
	ctx := context.Background()
	s, err := admin(t).Spawn(ctx, name, nil)
	if err != nil {
		t.Fatalf("spawn %s: %v", name, err)
	}
	if !s.Created || s.APIKey == "" {
		t.Fatalf("spawn %s: %+v, want a new database with a key", name, s)
	}
	t.Cleanup(func() { _, _ = admin(t).Delete(context.Background(), name) })
	return s.APIKey
}
