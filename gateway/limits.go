package gateway

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// inflight counts the requests in flight, overall and per database, and
// turns one past either cap away at once: the client gets 503 or 429 with
// Retry-After instead of a place in an unbounded queue. (Inside the cap a
// request may still wait for a connection of its database, bounded by its
// deadline.)
type inflight struct {
	max, perDB int

	mu    sync.Mutex
	total int
	byDB  map[string]int
	// zero, when not nil, is closed when total next falls to 0 (idle).
	zero chan struct{}
}

func newInflight(max, perDB int) *inflight {
	return &inflight{max: max, perDB: perDB, byDB: make(map[string]int)}
}

// enter takes a place overall.
func (l *inflight) enter() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= l.max {
		return false
	}
	l.total++
	return true
}

func (l *inflight) leave() {
	l.mu.Lock()
	l.total--
	if l.total == 0 && l.zero != nil {
		close(l.zero)
		l.zero = nil
	}
	l.mu.Unlock()
}

// idle is a channel closed once no request is in flight (at once if none
// is).
func (l *inflight) idle() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total == 0 {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	if l.zero == nil {
		l.zero = make(chan struct{})
	}
	return l.zero
}

func (l *inflight) inFlight() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// enterDB takes a place on database name.
func (l *inflight) enterDB(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.byDB[name]
	if n >= l.perDB {
		return false
	}
	l.byDB[name] = n + 1
	return true
}

func (l *inflight) leaveDB(name string) {
	l.mu.Lock()
	if n := l.byDB[name] - 1; n > 0 {
		l.byDB[name] = n
	} else {
		delete(l.byDB, name)
	}
	l.mu.Unlock()
}

// limited turns every request away while the gateway drains for shutdown
// (drain.go), and applies the overall cap to every request but GET
// /health, which must answer whatever the load.
func (s *Server) limited(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if s.draining.Load() {
			s.refuseDraining(ctx)
			return
		}
		if string(ctx.Path()) == "/health" {
			next(ctx)
			return
		}
		if !s.load.enter() {
			s.writeError(ctx, errServerBusy)
			return
		}
		defer s.load.leave()
		next(ctx)
		if s.draining.Load() {
			// Admitted before the drain: its answer stands, and it is
			// the connection's last.
			ctx.SetConnectionClose()
		}
	}
}

// perDB applies the per-database cap to a data-plane route.
func (s *Server) perDB(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		// A copy: fasthttp reuses the request's bytes after the handler.
		name, _ := ctx.UserValue("db_name").(string)
		name = string([]byte(name))
		if !s.load.enterDB(name) {
			s.writeError(ctx, errTooManyForDB)
			return
		}
		defer s.load.leaveDB(name)
		next(ctx)
	}
}

// headerQueryTimeout lets a request set its own deadline, up to
// MaxQueryTimeout: milliseconds ("1500") or a Go duration ("1.5s").
const headerQueryTimeout = "X-Query-Timeout"

// requestContext is the context of a data-plane request: its own deadline
// if it sent X-Query-Timeout, else none (the engine applies
// FORGE_QUERY_TIMEOUT).
func (s *Server) requestContext(ctx *fasthttp.RequestCtx) (context.Context, context.CancelFunc, error) {
	v := ctx.Request.Header.Peek(headerQueryTimeout)
	if len(v) == 0 {
		return context.Background(), func() {}, nil
	}
	d, err := parseQueryTimeout(string(v), s.opts.MaxQueryTimeout)
	if err != nil {
		return nil, nil, err
	}
	c, cancel := context.WithTimeout(context.Background(), d)
	return c, cancel, nil
}

// parseQueryTimeout reads an X-Query-Timeout value: a positive number of
// milliseconds, or a positive Go duration, at most maxTimeout.
func parseQueryTimeout(v string, maxTimeout time.Duration) (time.Duration, error) {
	bad := func() error {
		return invalidTimeout("X-Query-Timeout must be a positive number of milliseconds or a duration like 1.5s, at most " +
			maxTimeout.String() + ".")
	}
	if len(v) == 0 || len(v) > 32 {
		return 0, bad()
	}
	var d time.Duration
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		if ms <= 0 || ms > int64(maxTimeout/time.Millisecond) {
			return 0, bad()
		}
		d = time.Duration(ms) * time.Millisecond
	} else {
		d, err = time.ParseDuration(v)
		if err != nil {
			return 0, bad()
		}
	}
	if d <= 0 || d > maxTimeout {
		return 0, bad()
	}
	return d, nil
}
