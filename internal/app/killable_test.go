package app_test

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// killable is the gateway's binary run as a process of its own, to be
// killed (SIGKILL) and started again on the same data directory and
// address: the crash tests' gateway (TestIdempotencyAcrossKill,
// TestAuditAcrossKill).
type killable struct {
	t    *testing.T
	base string // http://127.0.0.1:port
	bin  string
	env  []string
	logf *os.File
	cmd  *exec.Cmd
}

// newKillable builds the binary and picks the address; start runs it.
func newKillable(t *testing.T) *killable {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and kills the gateway binary")
	}
	dir := t.TempDir()
	k := &killable{t: t, bin: filepath.Join(dir, "forge-gateway")}
	build := exec.Command("go", "build", "-o", k.bin, "./cmd/forge-gateway")
	build.Dir = "../.."
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	k.base = "http://" + addr
	k.env = []string{
		"FORGE_LISTEN=" + addr, "FORGE_DATA_DIR=" + filepath.Join(dir, "data"),
		"FORGE_WASM_CACHE_DIR=" + sharedCache, "FORGE_BACKEND=local", "FORGE_ADMIN_KEY=" + testAdminKey,
		"FORGE_LOG_LEVEL=warn", "FORGE_RATE_LIMIT=off",
	}
	if k.logf, err = os.Create(filepath.Join(dir, "gateway.log")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if k.cmd != nil {
			_ = k.cmd.Process.Kill()
			_ = k.cmd.Wait()
		}
		_ = k.logf.Close()
	})
	return k
}

// start runs the gateway and waits until /health answers 200.
func (k *killable) start() {
	k.t.Helper()
	k.cmd = exec.Command(k.bin)
	k.cmd.Env = k.env
	k.cmd.Stdout, k.cmd.Stderr = k.logf, k.logf
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := k.cmd.Start(); err != nil {
		k.t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(k.base + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(k.logf.Name())
			k.t.Fatalf("gateway not ready in 60s\n%s", b)
		}
	}
}

// kill ends the gateway with SIGKILL: no shutdown, no flush.
func (k *killable) kill() {
	_ = k.cmd.Process.Signal(syscall.SIGKILL)
	_ = k.cmd.Wait()
	k.cmd = nil
}
