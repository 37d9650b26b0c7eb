package gateway

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

func getHealth(t testing.TB, h fasthttp.RequestHandler) (int, string) {
	t.Helper()
	var rc fasthttp.RequestCtx
	rc.Request.Header.SetMethod("GET")
	rc.Request.SetRequestURI("/health")
	h(&rc)
	checkDocumented(t, &rc)
	return rc.Response.StatusCode(), string(rc.Response.Body())
}

// TestHealthChecksBounded (bug 4): GET /health is public and outside
// FORGE_MAX_INFLIGHT, so any rate of calls must cost at most one round of
// checks (a Docker ping, a statfs) per healthTTL. Before the fix every
// call ran every check.
func TestHealthChecksBounded(t *testing.T) {
	t.Parallel()
	var rounds atomic.Int64
	s := New(Options{Checks: []Check{{Name: "backend", Run: func(context.Context) error {
		rounds.Add(1)
		return nil
	}}}}, nil, nil, zap.NewNop())
	h := s.Handler()
	start := time.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if st, body := getHealth(t, h); st != 200 || !strings.Contains(body, `"backend":{"ok":true}`) {
					t.Errorf("GET /health: %d %s", st, body)
					return
				}
			}
		})
	}
	wg.Wait()
	allowed := 1 + int64(time.Since(start)/healthTTL)
	if n := rounds.Load(); n > allowed {
		t.Fatalf("800 calls in %v ran %d rounds of checks, want at most %d", time.Since(start), n, allowed)
	}
}

// TestHealthAnswersDuringARound: while a round of checks is slow (Docker
// not answering), calls are answered at once from the last round, and a
// failing round is reported once it ends.
func TestHealthAnswersDuringARound(t *testing.T) {
	t.Parallel()
	var fail atomic.Bool
	entered, release := make(chan struct{}, 1), make(chan struct{})
	var rounds atomic.Int64
	s := New(Options{Checks: []Check{{Name: "backend", Run: func(context.Context) error {
		if rounds.Add(1) > 1 {
			entered <- struct{}{}
			<-release
		}
		if fail.Load() {
			return errBackendDown
		}
		return nil
	}}}}, nil, nil, zap.NewNop())
	s.checked.ttl = 0 // every call wants a fresh round
	h := s.Handler()
	if st, _ := getHealth(t, h); st != 200 {
		t.Fatalf("first call: %d", st)
	}
	fail.Store(true)
	slow := make(chan int, 1)
	go func() { st, _ := getHealth(t, h); slow <- st }()
	<-entered
	for range 50 {
		if st, body := getHealth(t, h); st != 200 {
			t.Fatalf("during a slow round: %d %s, want the last round's 200", st, body)
		}
	}
	if n := rounds.Load(); n != 2 {
		t.Fatalf("%d rounds, want 2: calls during a round must not start another", n)
	}
	close(release)
	if st := <-slow; st != 503 {
		t.Fatalf("the slow round's own call: %d, want 503", st)
	}
	if st, body := getHealth(t, h); st != 503 || !strings.Contains(body, `"error":"backend down"`) {
		t.Fatalf("after the failing round: %d %s", st, body)
	}
}

type healthError string

func (e healthError) Error() string { return string(e) }

const errBackendDown = healthError("backend down")
