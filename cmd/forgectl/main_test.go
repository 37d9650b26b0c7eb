package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	forgeapp "github.com/praetorian/db-forge/internal/app"
)

// The tests run the built forgectl binary against a real gateway (app.Run
// on a loopback port), as a script or a person would.
var (
	bin        string // the forgectl binary
	gatewayURL string
	adminKey   = "forgectl-test-admin-key-0123456789abcdef-01234567"
	homeDir    string
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "forgectl-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = filepath.Join(dir, "forgectl")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building forgectl:", err)
		return 1
	}
	homeDir = filepath.Join(dir, "home")
	_ = os.Mkdir(homeDir, 0o700)
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
	go func() { done <- forgeapp.Run(ctx, nil, env, os.Stderr, func(a string) { addr <- a }) }()
	select {
	case a := <-addr:
		gatewayURL = "http://" + a
	case err := <-done:
		cancel()
		fmt.Fprintln(os.Stderr, "gateway:", err)
		return 1
	case <-time.After(60 * time.Second):
		cancel()
		fmt.Fprintln(os.Stderr, "gateway did not start in 60s")
		return 1
	}
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
		}
	}()
	return m.Run()
}

// result is what a run of forgectl gave.
type result struct {
	out, err string
	code     int
}

// forgectl runs the binary with the admin key (FORGE_KEY), stdin, and
// extra environment "K=V" first in args when they contain "=" and start
// with FORGE (FORGE_KEY=… overrides).
func forgectl(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	env := []string{"FORGE_URL=" + gatewayURL, "FORGE_KEY=" + adminKey, "HOME=" + homeDir, "PATH=" + os.Getenv("PATH")}
	for len(args) > 0 && strings.HasPrefix(args[0], "FORGE") && strings.Contains(args[0], "=") {
		env = append(env, args[0])
		args = args[1:]
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("forgectl %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

// ok runs forgectl and fails the test unless it exits 0.
func ok(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := forgectl(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("forgectl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.out, r.err)
	}
	return r.out
}

// fields splits a table's output into lines of fields.
func fields(out string) [][]string {
	var lines [][]string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		lines = append(lines, strings.Fields(l))
	}
	return lines
}

// mustContain fails unless s contains each of subs.
func mustContain(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Fatalf("output lacks %q:\n%s", sub, s)
		}
	}
}

var _ = io.Discard
