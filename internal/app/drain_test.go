package app_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/praetorian/db-forge/internal/contracttest"
)

// answer is one HTTP response as a client saw it.
type answer struct {
	status int
	close  bool
	header http.Header
	body   []byte
	err    error
}

// keptAlive is one client connection held open across requests.
type keptAlive struct {
	c  net.Conn
	br *bufio.Reader
}

func dialKeptAlive(t *testing.T, base string) *keptAlive {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &keptAlive{c: c, br: bufio.NewReader(c)}
}

// do sends one request and reads its answer; a hang of 60s is an error,
// never a slow machine's pass.
func (k *keptAlive) do(method, path, body string, header ...string) answer {
	req := method + " " + path + " HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer " + testAdminKey + "\r\n"
	for i := 0; i+1 < len(header); i += 2 {
		req += header[i] + ": " + header[i+1] + "\r\n"
	}
	if body != "" {
		req += "Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
	}
	if _, err := io.WriteString(k.c, req+"\r\n"+body); err != nil {
		return answer{err: err}
	}
	_ = k.c.SetReadDeadline(time.Now().Add(60 * time.Second))
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, close: resp.Close, header: resp.Header, body: b, err: err}
}

// isClosed reports whether the server has closed the connection.
func (k *keptAlive) isClosed() bool {
	_ = k.c.SetReadDeadline(time.Now().Add(60 * time.Second))
	_, err := k.br.ReadByte()
	return err != nil && !isTimeout(err)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func errorCode(body []byte) (code, detail string) {
	var e struct {
		Detail string
		Error  struct{ Code string }
	}
	_ = json.Unmarshal(body, &e)
	return e.Error.Code, e.Detail
}

// TestShutdownDrain: when Run's context ends (SIGTERM), a request on a
// kept-alive connection gets 503 SHUTTING_DOWN with Connection: close and
// Retry-After, as does GET /health, while a request already in flight
// finishes with its own answer; then Run stops cleanly, without waiting
// out the drain's grace once nobody is connected.
//
// Nothing here depends on timing: the slow request cannot end before its
// own deadline (an endless recursive CTE under X-Query-Timeout), and the
// drain's grace (a minute) outlasts every step while a connection is open.
func TestShutdownDrain(t *testing.T) {
	g := start(t, t.TempDir(), "FORGE_SHUTDOWN_DRAIN=1m", "FORGE_SHUTDOWN_TIMEOUT=2m")
	// Every other request of this test on a connection of its own, closed
	// after it: no idle keep-alive connection is left behind.
	oneShot := contracttest.Client{Base: g.url, APIKey: g.adminKey,
		HTTP: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}
	contracttest.Expect(t, oneShot.Do(t, "POST", "/admin/databases/spawn/slow", nil), 201, "")

	idle := dialKeptAlive(t, g.url)
	if a := idle.do("GET", "/", ""); a.err != nil || a.status != 200 || a.close {
		t.Fatalf("before shutdown: %+v", a)
	}

	busy := dialKeptAlive(t, g.url)
	slow := make(chan answer, 1)
	go func() {
		slow <- busy.do("POST", "/api/db/slow/query",
			`{"sql": "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) SELECT count(*) AS n FROM c"}`,
			"X-Query-Timeout", "3s")
	}()
	// The slow request is in flight once the gauge counts it beside the
	// scrape itself.
	for inFlight := 0; inFlight < 2; {
		r := oneShot.Do(t, "GET", "/metrics", nil)
		for _, line := range strings.Split(string(r.Raw), "\n") {
			if v, ok := strings.CutPrefix(line, "forge_http_requests_in_flight "); ok {
				inFlight, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		time.Sleep(5 * time.Millisecond)
	}

	stopped := make(chan error, 1)
	go func() { stopped <- g.stop() }() // cancels Run's context
	for !strings.Contains(g.logs.String(), "shutting down: draining") {
		time.Sleep(5 * time.Millisecond)
	}

	// A load balancer's probe, on a new connection: the listener is still
	// open during the drain.
	r := contracttest.Client{Base: g.url, HTTP: oneShot.HTTP}.Do(t, "GET", "/health", nil)
	contracttest.ExpectError(t, r, 503, "Gateway is shutting down.")
	if code, _ := errorCode(r.Raw); code != "SHUTTING_DOWN" {
		t.Errorf("/health during the drain: %s", r.Raw)
	}

	// The kept-alive client hears why its connection ends.
	a := idle.do("POST", "/api/db/slow/query", `{"sql": "SELECT 1"}`)
	if a.err != nil {
		t.Fatalf("request on the kept-alive connection during the drain: %v", a.err)
	}
	if code, detail := errorCode(a.body); a.status != 503 || code != "SHUTTING_DOWN" || detail != "Gateway is shutting down." {
		t.Fatalf("during the drain: %d %s, want 503 SHUTTING_DOWN", a.status, a.body)
	}
	if !a.close || a.header.Get("Retry-After") != "1" {
		t.Fatalf("during the drain: Connection: close %v, Retry-After %q", a.close, a.header.Get("Retry-After"))
	}
	if !idle.isClosed() {
		t.Fatal("the kept-alive connection stayed open after Connection: close")
	}

	// The request in flight gets its own answer: the deadline it asked for.
	a = <-slow
	if a.err != nil {
		t.Fatalf("the request in flight lost its answer: %v", a.err)
	}
	if code, _ := errorCode(a.body); a.status != 504 || code != "QUERY_TIMEOUT" {
		t.Fatalf("the request in flight: %d %s, want its own 504 QUERY_TIMEOUT", a.status, a.body)
	}
	// It was in flight when the drain began unless the machine stalled for
	// its whole deadline; the drain's log line says which.
	switch {
	case !strings.Contains(g.logs.String(), `"in_flight":1`):
		t.Log("the slow request ended before the drain began; its Connection: close is not checked")
	case !a.close:
		t.Error("the answer of a request in flight during the drain keeps its connection open")
	}

	if err := <-stopped; err != nil {
		t.Fatalf("Run: %v\n%s", err, g.logs.String())
	}
	if logs := g.logs.String(); !strings.Contains(logs, "stopped cleanly") {
		t.Fatalf("no clean stop:\n%s", logs)
	}
}

// TestShutdownInterruptsInFlight: a request still running when the
// shutdown's time (FORGE_SHUTDOWN_TIMEOUT) runs out is interrupted and
// answered 503 REQUEST_CANCELED, instead of running on to its own
// deadline after the gateway has given up on it.
func TestShutdownInterruptsInFlight(t *testing.T) {
	g := start(t, t.TempDir(), "FORGE_SHUTDOWN_TIMEOUT=500ms")
	oneShot := contracttest.Client{Base: g.url, APIKey: g.adminKey,
		HTTP: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}
	contracttest.Expect(t, oneShot.Do(t, "POST", "/admin/databases/spawn/endless", nil), 201, "")

	busy := dialKeptAlive(t, g.url)
	slow := make(chan answer, 1)
	sent := time.Now()
	go func() {
		slow <- busy.do("POST", "/api/db/endless/query",
			`{"sql": "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) SELECT count(*) AS n FROM c"}`,
			"X-Query-Timeout", "30s")
	}()
	for inFlight := 0; inFlight < 2; {
		r := oneShot.Do(t, "GET", "/metrics", nil)
		for _, line := range strings.Split(string(r.Raw), "\n") {
			if v, ok := strings.CutPrefix(line, "forge_http_requests_in_flight "); ok {
				inFlight, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	err := g.stop()
	if err == nil || !strings.Contains(err.Error(), "1 requests still in flight") {
		t.Errorf("Run = %v, want the request in flight named", err)
	}
	a := <-slow
	if a.err != nil {
		t.Fatalf("the request in flight lost its answer: %v", a.err)
	}
	if code, _ := errorCode(a.body); a.status != 503 || code != "REQUEST_CANCELED" {
		t.Fatalf("the request in flight: %d %s, want 503 REQUEST_CANCELED", a.status, a.body)
	}
	if took := time.Since(sent); took > 20*time.Second {
		t.Fatalf("answered after %v: it ran on towards its own 30s deadline", took)
	}
}
