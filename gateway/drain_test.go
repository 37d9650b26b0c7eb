package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/praetorian/db-forge/forge"
)

// heldEngine answers a query once release is closed, and says on started
// when a query is in.
type heldEngine struct {
	Engine
	started chan struct{}
	release chan struct{}
}

func (e heldEngine) Query(_ context.Context, _ string, _ forge.Statement, w forge.RowWriter) (forge.Result, error) {
	e.started <- struct{}{}
	<-e.release
	return forge.Result{RowsAffected: 7}, nil
}

// rawConn is one client connection, for asserting what happens to it.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (r *rawConn) send(method, path, body string) {
	r.t.Helper()
	req := method + " " + path + " HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
	if body != "" {
		req += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n"
	}
	if _, err := io.WriteString(r.c, req+"\r\n"+body); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawConn) read() (*http.Response, []byte) {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(30 * time.Second)) // a hang fails, never a slow machine
	resp, err := http.ReadResponse(r.br, nil)
	if err != nil {
		r.t.Fatalf("read response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	return resp, b
}

// closed asserts that the server closed the connection.
func (r *rawConn) closed() {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if b, err := r.br.ReadByte(); err == nil {
		r.t.Fatalf("connection still open: read %q", b)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		r.t.Fatal("connection still open after 30s")
	}
}

func wantShuttingDown(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	var e struct {
		Detail string
		Error  struct{ Code string }
	}
	_ = json.Unmarshal(body, &e)
	if resp.StatusCode != 503 || e.Error.Code != CodeShuttingDown || e.Detail != "Gateway is shutting down." {
		t.Fatalf("got %d %s, want 503 SHUTTING_DOWN", resp.StatusCode, body)
	}
	if !resp.Close || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("Connection: close %v, Retry-After %q; want close and 1", resp.Close, resp.Header.Get("Retry-After"))
	}
}

// TestDrain: once the drain begins, a request on a kept-alive connection,
// and one on a new connection (GET /health), get 503 SHUTTING_DOWN with
// Connection: close; the request in flight gets its own answer, also
// closing its connection; the drain ends when that request is done and
// no connection is left, long before its grace.
func TestDrain(t *testing.T) {
	t.Parallel()
	eng := heldEngine{started: make(chan struct{}), release: make(chan struct{})}
	s := New(Options{}, eng, nil, zap.NewNop())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	addr := ln.Addr().String()

	idle := dialRaw(t, addr)
	idle.send("GET", "/", "")
	if resp, body := idle.read(); resp.StatusCode != 200 || resp.Close {
		t.Fatalf("before the drain: %d close=%v %s", resp.StatusCode, resp.Close, body)
	}

	busy := dialRaw(t, addr)
	busy.send("POST", "/api/db/x/query", `{"sql":"UPDATE t SET v = 1"}`)
	<-eng.started

	drained := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	go func() { drained <- s.Drain(ctx, time.Hour) }()
	for !s.draining.Load() {
		time.Sleep(time.Millisecond)
	}

	// A kept-alive connection hears why it ends.
	idle.send("POST", "/api/db/x/query", `{"sql":"SELECT 1"}`)
	resp, body := idle.read()
	wantShuttingDown(t, resp, body)
	idle.closed()

	// So does a new one; GET /health fails, for load balancers.
	probe := dialRaw(t, addr)
	probe.send("GET", "/health", "")
	resp, body = probe.read()
	wantShuttingDown(t, resp, body)
	probe.closed()

	select {
	case err := <-drained:
		t.Fatalf("the drain ended (%v) with a request in flight", err)
	default:
	}

	close(eng.release)
	resp, body = busy.read()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"rows_affected":7`) {
		t.Fatalf("the request in flight got %d %s, want its own answer", resp.StatusCode, body)
	}
	if !resp.Close {
		t.Error("the answer of a request in flight during the drain does not close its connection")
	}
	busy.closed()

	if err := <-drained; err != nil {
		t.Fatalf("drain: %v", err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// TestDrainDeadline: a drain whose context ends with a request in flight
// says so.
func TestDrainDeadline(t *testing.T) {
	t.Parallel()
	eng := heldEngine{started: make(chan struct{}), release: make(chan struct{})}
	s := New(Options{}, eng, nil, zap.NewNop())
	h := s.Handler()
	done := make(chan struct{})
	go func() {
		defer close(done)
		var rc fasthttp.RequestCtx
		rc.Request.Header.SetMethod("POST")
		rc.Request.SetRequestURI("/api/db/x/query")
		rc.Request.SetBodyString(`{"sql":"SELECT 1"}`)
		h(&rc)
	}()
	<-eng.started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Drain(ctx, 0)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "1 requests still in flight") {
		t.Fatalf("drain = %v, want the request in flight named", err)
	}
	close(eng.release)
	<-done
}

// TestDrainIdleWithoutTime: with nothing in flight and no connection, a
// drain whose time is already up (FORGE_SHUTDOWN_TIMEOUT=0) is clean.
func TestDrainIdleWithoutTime(t *testing.T) {
	t.Parallel()
	s := New(Options{}, nil, nil, zap.NewNop())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 100 { // the old select picked either ready case at random
		if err := s.Drain(ctx, time.Hour); err != nil {
			t.Fatalf("drain = %v", err)
		}
	}
}

// ctxEngine runs a query until its context ends, as the engine does with a
// statement that never finishes, and answers as the engine would.
type ctxEngine struct {
	Engine
	started chan struct{}
}

func (e ctxEngine) Query(ctx context.Context, _ string, _ forge.Statement, _ forge.RowWriter) (forge.Result, error) {
	e.started <- struct{}{}
	<-ctx.Done()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return forge.Result{}, forge.ErrTimeout
	}
	return forge.Result{}, forge.ErrCanceled
}

// TestDrainInterruptsInFlight: when the drain's time runs out, the
// requests still in flight are interrupted and answered (503
// REQUEST_CANCELED) instead of running on to their own deadlines — a
// data request with a long X-Query-Timeout, one without (whose context
// used to be context.Background()), and an admin request.
func TestDrainInterruptsInFlight(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 3)
	s := New(Options{MaxQueryTimeout: time.Hour, AdminTimeout: time.Hour}, ctxEngine{started: started},
		slowOrch{started: started}, zap.NewNop())
	h := s.Handler()
	type answer struct {
		status int
		body   string
	}
	answers := make(chan answer, 3)
	send := func(method, uri, body, timeout string) {
		var rc fasthttp.RequestCtx
		rc.Request.Header.SetMethod(method)
		rc.Request.SetRequestURI(uri)
		if timeout != "" {
			rc.Request.Header.Set(headerQueryTimeout, timeout)
		}
		rc.Request.SetBodyString(body)
		h(&rc)
		answers <- answer{rc.Response.StatusCode(), string(rc.Response.Body())}
	}
	go send("POST", "/api/db/x/query", `{"sql":"SELECT 1"}`, "1h")
	go send("POST", "/api/db/x/query", `{"sql":"SELECT 1"}`, "")
	go send("GET", "/admin/databases", "", "")
	for range 3 {
		<-started
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Drain(ctx, 0)
	if err == nil || !strings.Contains(err.Error(), "3 requests still in flight") {
		t.Fatalf("drain = %v, want the 3 requests in flight named", err)
	}
	for range 3 {
		a := <-answers
		if code, _ := errorCodeOf([]byte(a.body)); a.status != 503 || code != CodeCanceled {
			t.Errorf("a request in flight when the drain ran out: %d %s, want 503 %s", a.status, a.body, CodeCanceled)
		}
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("the interrupted requests took %v to answer", took)
	}
	if n := s.InFlight(); n != 0 {
		t.Fatalf("%d requests in flight after the drain", n)
	}
}

// slowOrch lists instances until its context ends.
type slowOrch struct {
	Orchestrator
	started chan struct{}
}

func (o slowOrch) List(ctx context.Context) ([]forge.Instance, error) {
	o.started <- struct{}{}
	<-ctx.Done()
	return nil, fmt.Errorf("list: %w", forge.ErrCanceled)
}
