package bench

import (
	"context"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// serve answers on a loopback port: 200 on /ok, 503 on /busy, and it
// echoes the method and body length in headers.
func serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/auth" && string(ctx.Request.Header.Peek("Authorization")) != "Bearer k" {
			ctx.SetStatusCode(fasthttp.StatusUnauthorized)
			return
		}
		if string(ctx.Path()) == "/busy" {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			return
		}
		if string(ctx.Method()) == "POST" && len(ctx.PostBody()) == 0 {
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
			return
		}
		ctx.SetBodyString(`{"ok":true}`)
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

func TestLoad(t *testing.T) {
	t.Parallel()
	addr := serve(t)
	ok := Request{Method: "POST", Path: "/ok", Body: []byte(`{"a":1}`), Want: 200}
	busy := Request{Method: "GET", Path: "/busy", Want: 200}
	authed := Request{Method: "GET", Path: "/auth", Want: 200}
	tests := []struct {
		name     string
		load     Load
		pick     func(r *rand.Rand) *Request
		wantOK   func(int64) bool
		wantErrs map[string]int64
	}{
		{
			name:   "request count",
			load:   Load{Conns: 4, Requests: 200},
			pick:   func(*rand.Rand) *Request { return &ok },
			wantOK: func(n int64) bool { return n == 200 },
		},
		{
			name:     "errors by status",
			load:     Load{Conns: 2, Requests: 100},
			pick:     func(*rand.Rand) *Request { return &busy },
			wantOK:   func(n int64) bool { return n == 0 },
			wantErrs: map[string]int64{"503": 100},
		},
		{
			name:   "bearer token on every request",
			load:   Load{Conns: 2, Requests: 50, Bearer: "k"},
			pick:   func(*rand.Rand) *Request { return &authed },
			wantOK: func(n int64) bool { return n == 50 },
		},
		{
			name:     "no token",
			load:     Load{Conns: 1, Requests: 5},
			pick:     func(*rand.Rand) *Request { return &authed },
			wantOK:   func(n int64) bool { return n == 0 },
			wantErrs: map[string]int64{"401": 5},
		},
		{
			name:   "duration with warm-up",
			load:   Load{Conns: 2, Duration: 100 * time.Millisecond, Warmup: 20 * time.Millisecond},
			pick:   func(*rand.Rand) *Request { return &ok },
			wantOK: func(n int64) bool { return n > 0 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := tt.load
			l.Addr = addr
			l.NewSource = func(int) Source { return tt.pick }
			res, err := l.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !tt.wantOK(res.OK) {
				t.Errorf("OK = %d", res.OK)
			}
			if res.Requests != res.OK+res.ErrorCount() || int64(res.Hist.Count()) != res.OK {
				t.Errorf("requests %d, ok %d, errors %v, histogram %d", res.Requests, res.OK, res.Errors, res.Hist.Count())
			}
			for k, v := range tt.wantErrs {
				if res.Errors[k] != v {
					t.Errorf("errors %v, want %v", res.Errors, tt.wantErrs)
				}
			}
			if res.OK > 0 && (res.Throughput <= 0 || res.Latency.P50 <= 0 || res.Latency.P99 < res.Latency.P50) {
				t.Errorf("throughput %v, latency %+v", res.Throughput, res.Latency)
			}
		})
	}
}

// Latency percentiles are of the successful requests only: a slow error
// (a timeout, say) or a quick refusal must not move them; errors are
// counted apart.
func TestLoadLatencyOfSuccessesOnly(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/slow-error" {
			time.Sleep(50 * time.Millisecond)
			ctx.SetStatusCode(fasthttp.StatusGatewayTimeout)
			return
		}
		ctx.SetBodyString(`{"ok":true}`)
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	fast := Request{Method: "GET", Path: "/ok", Want: 200}
	slow := Request{Method: "GET", Path: "/slow-error", Want: 200}
	res, err := Load{Addr: ln.Addr().String(), Conns: 2, Requests: 60, NewSource: func(int) Source {
		return func(r *rand.Rand) *Request {
			if r.IntN(2) == 0 {
				return &slow
			}
			return &fast
		}
	}}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.OK == 0 || res.Errors["504"] == 0 || res.OK+res.Errors["504"] != res.Requests {
		t.Fatalf("ok %d, errors %v, requests %d", res.OK, res.Errors, res.Requests)
	}
	if int64(res.Hist.Count()) != res.OK {
		t.Errorf("histogram holds %d latencies, want the %d successes", res.Hist.Count(), res.OK)
	}
	// Half the requests are 50 ms errors: counted in, they would put the
	// median near 50 ms.
	if res.Latency.P50 >= 25 {
		t.Errorf("p50 %.1f ms: the 50 ms errors are in the percentiles", res.Latency.P50)
	}
}

func TestLoadTransportErrors(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more
	req := Request{Method: "GET", Path: "/", Want: 200}
	res, err := Load{Addr: addr, Conns: 1, Requests: 3, NewSource: func(int) Source {
		return func(*rand.Rand) *Request { return &req }
	}}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors["transport"] != 3 || res.OK != 0 || !strings.Contains(res.FirstError, "connect") && res.FirstError == "" {
		t.Errorf("result %+v", res)
	}
}

func TestLoadNeedsAStop(t *testing.T) {
	t.Parallel()
	if _, err := (Load{Addr: "x", NewSource: func(int) Source { return nil }}).Run(context.Background()); err == nil {
		t.Error("a load without Duration or Requests ran")
	}
}

func TestResultMerge(t *testing.T) {
	t.Parallel()
	slice := func(ok int64, secs float64, lat time.Duration, errs map[string]int64) Result {
		h := &Histogram{}
		var n int64
		for _, v := range errs {
			n += v
		}
		for range ok + n {
			h.Record(lat)
		}
		return Result{Requests: ok + n, OK: ok, Seconds: secs, Errors: errs, Hist: h}
	}
	tests := []struct {
		name       string
		slices     []Result
		wantOK     int64
		wantTput   float64
		wantErrors map[string]int64
		wantP50    float64
	}{
		{"one slice", []Result{slice(100, 1, time.Millisecond, nil)}, 100, 100, nil, 1},
		{"two slices", []Result{slice(100, 1, time.Millisecond, nil), slice(300, 1, 3*time.Millisecond, map[string]int64{"503": 1})},
			400, 200, map[string]int64{"503": 1}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r Result
			for _, s := range tt.slices {
				r.Merge(s)
			}
			if r.OK != tt.wantOK || r.Throughput != tt.wantTput || len(r.Errors) != len(tt.wantErrors) {
				t.Errorf("merged %+v", r)
			}
			for k, v := range tt.wantErrors {
				if r.Errors[k] != v {
					t.Errorf("errors %v, want %v", r.Errors, tt.wantErrors)
				}
			}
			if d := r.Latency.P50 - tt.wantP50; d < -0.01*tt.wantP50 || d > 0.01*tt.wantP50 {
				t.Errorf("p50 %v ms, want %v", r.Latency.P50, tt.wantP50)
			}
		})
	}
}

// TestLoadPathsAndAuth: every request goes to its own path with its own
// Authorization header. (Header.SetRequestURI alone sent a worker's every
// request to its first path: the client caches the parsed URI.)
func TestLoadPathsAndAuth(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		path, auth := string(ctx.Path()), string(ctx.Request.Header.Peek("Authorization"))
		if auth != "Bearer "+strings.TrimPrefix(path, "/") && !(path == "/c" && auth == "Bearer load") {
			ctx.SetStatusCode(fasthttp.StatusForbidden)
			return
		}
		mu.Lock()
		seen[path]++
		mu.Unlock()
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	reqs := []Request{{Method: "GET", Path: "/a", Auth: "Bearer a", Want: 200}, {Method: "GET", Path: "/b", Auth: "Bearer b", Want: 200},
		{Method: "GET", Path: "/c", Want: 200}} // /c: the Load's own Bearer
	res, err := Load{Addr: ln.Addr().String(), Conns: 1, Requests: 30, Bearer: "load", NewSource: func(int) Source {
		i := 0
		return func(*rand.Rand) *Request { i++; return &reqs[i%len(reqs)] }
	}}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 30 || seen["/a"] != 10 || seen["/b"] != 10 || seen["/c"] != 10 {
		t.Errorf("ok %d, errors %v (%s), paths seen %v", res.OK, res.Errors, res.FirstError, seen)
	}
}
