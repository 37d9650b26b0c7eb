package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// proc is a child process of the bench: the gateway or a ceiling server.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string // its stderr (and stdout, for the gateway)
	done chan struct{}
	err  error // how it exited, once done is closed
	addr string
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// startProc starts bin with args and env (nil: the bench's environment),
// its output going to logPath. With wantListening it reads the child's
// first stdout line, "listening <addr>", and returns once it came.
func startProc(ctx context.Context, name, bin string, args, env []string, logPath string, wantListening bool) (*proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stderr = logf
	// The child dies with the bench, whatever way the bench goes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var lines *bufio.Scanner
	if wantListening {
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		lines = bufio.NewScanner(out)
	} else {
		cmd.Stdout = logf
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	listening := make(chan string, 1)
	go func() {
		if lines != nil {
			if lines.Scan() {
				listening <- lines.Text()
			}
			for lines.Scan() { // keep draining so the child never blocks
			}
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	if !wantListening {
		return p, nil
	}
	select {
	case line := <-listening:
		addr, ok := strings.CutPrefix(line, "listening ")
		if !ok {
			p.stop()
			return nil, fmt.Errorf("%s: unexpected first line %q", name, line)
		}
		p.addr = addr
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited before listening: %v\n%s", name, p.err, tail(logPath))
	case <-time.After(2 * time.Minute):
		p.stop()
		return nil, fmt.Errorf("%s: not listening after 2 minutes\n%s", name, tail(logPath))
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
}

// stop sends SIGTERM and waits for a graceful exit, then kills.
func (p *proc) stop() {
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// tail is the end of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// freeAddr finds a free port on the loopback.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// gatewayEnv is the bench's environment without any FORGE_* variable (make
// exports those of .env), plus the given settings.
func gatewayEnv(settings map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FORGE_") {
			env = append(env, kv)
		}
	}
	for k, v := range settings {
		env = append(env, k+"="+v)
	}
	return env
}

// gatewayExtra are the -env settings of the short and full suites: every
// gateway they start gets them.
var gatewayExtra = map[string]string{}

type gatewayOpts struct {
	bin      string
	dataDir  string
	cacheDir string // FORGE_WASM_CACHE_DIR
	logLevel string
	logPath  string
	env      map[string]string // more FORGE_* settings (they win)
}

// startGateway starts bin/forge-gateway on a free loopback port and waits
// for its first 200 on GET /health; it returns the time from the process
// start to that answer.
func startGateway(ctx context.Context, o gatewayOpts) (*proc, time.Duration, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, 0, err
	}
	if err := os.MkdirAll(o.dataDir, 0o755); err != nil {
		return nil, 0, err
	}
	settings := map[string]string{
		"FORGE_ADMIN_KEY":      adminKey,
		"FORGE_LISTEN":         addr,
		"FORGE_DATA_DIR":       o.dataDir,
		"FORGE_BACKEND":        "local",
		"FORGE_LOG":            "json",
		"FORGE_LOG_LEVEL":      o.logLevel,
		"FORGE_WASM_CACHE_DIR": o.cacheDir,
	}
	maps.Copy(settings, gatewayExtra)
	maps.Copy(settings, o.env)
	env := gatewayEnv(settings)
	start := time.Now()
	p, err := startProc(ctx, "forge-gateway", o.bin, nil, env, o.logPath, false)
	if err != nil {
		return nil, 0, err
	}
	p.addr = addr
	if err := waitHealthy(ctx, p, 3*time.Minute); err != nil {
		p.stop()
		return nil, 0, err
	}
	return p, time.Since(start), nil
}

// waitHealthy polls GET /health every millisecond until it answers 200.
func waitHealthy(ctx context.Context, p *proc, limit time.Duration) error {
	c := &fasthttp.HostClient{Addr: p.addr, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
		MaxIdleConnDuration: time.Second}
	defer c.CloseIdleConnections()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetRequestURI("/health")
	req.Header.SetHost(p.addr)
	setBearer(req)
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if err := c.Do(req, resp); err == nil && resp.StatusCode() == fasthttp.StatusOK {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before answering /health: %v\n%s", p.name, p.err, tail(p.log))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return errors.New(p.name + ": /health not 200 in time\n" + tail(p.log))
}

// adminKey is this session's FORGE_ADMIN_KEY: every gateway the bench
// starts gets it, and every request carries it as a bearer token, so that
// the gateway is measured with authentication on once it enforces it.
var adminKey = func() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return "forge-bench-" + hex.EncodeToString(b[:])
}()

func setBearer(req *fasthttp.Request) { req.Header.Set("Authorization", "Bearer "+adminKey) }

// binPath is the binary named name in dir, checked to exist.
func binPath(dir, name string) (string, error) {
	p, err := filepath.Abs(filepath.Join(dir, name))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s: %w (run make bench, which builds it)", p, err)
	}
	return p, nil
}
