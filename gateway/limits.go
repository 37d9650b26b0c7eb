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
	// admitted counts the requests ever admitted (Activity).
	admitted uint64
	byDB     map[string]int
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
	l.admitted++
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

func (l *inflight) activity() (int, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total, l.admitted
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
// /health, which must answer whatever the load (its checks run at most
// once per healthTTL whatever the rate of calls: health.go).
func (s *Server) limited(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(rc *fasthttp.RequestCtx) {
		if s.draining.Load() {
			s.refuseDraining(rc)
			return
		}
		if string(rc.Path()) == "/health" {
			next(rc)
			return
		}
		if !s.load.enter() {
			s.writeError(rc, errServerBusy)
			return
		}
		defer s.load.leave()
		next(rc)
		if s.draining.Load() {
			// Admitted before the drain: its answer stands, and it is
			// the connection's last.
			rc.SetConnectionClose()
		}
	}
}

// perDB applies the per-database cap to a data-plane route.
func (s *Server) perDB(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(rc *fasthttp.RequestCtx) {
		// A copy: fasthttp reuses the request's bytes after the handler.
		name, _ := rc.UserValue("db_name").(string)
		name = string([]byte(name))
		if !s.load.enterDB(name) {
			s.writeError(rc, errTooManyForDB)
			return
		}
		defer s.load.leaveDB(name)
		next(rc)
	}
}

// headerQueryTimeout lets a request set its own deadline, up to
// MaxQueryTimeout: milliseconds ("1500") or a Go duration ("1.5s").
const headerQueryTimeout = "X-Query-Timeout"

// newContext makes a request's context: ctx, and the function that
// releases it (nil: nothing to release), or the error that refuses the
// request.
type newContext func(rc *fasthttp.RequestCtx) (ctx context.Context, cancel context.CancelFunc, err error)

// contextFor is how the requests of a route that needs n get their
// context. Every request's context is derived from the server's, which
// ends when the shutdown's drain runs out of time (drain.go): work still
// in flight then is interrupted instead of outliving the server.
//   - a public route: the server's context;
//   - an admin route: AdminTimeout;
//   - a data route: its X-Query-Timeout if it sent one, else the server's
//     context itself (the engine applies FORGE_QUERY_TIMEOUT without a
//     timer: wasm/deadline.go), so a point query costs nothing here.
func (s *Server) contextFor(n need) newContext {
	switch n {
	case needAdmin:
		return func(*fasthttp.RequestCtx) (context.Context, context.CancelFunc, error) {
			ctx, cancel := context.WithTimeout(s.base, s.opts.AdminTimeout)
			return ctx, cancel, nil
		}
	case needRead, needWrite:
		return s.requestContext
	}
	return func(*fasthttp.RequestCtx) (context.Context, context.CancelFunc, error) {
		return s.base, nil, nil
	}
}

// requestContext is the context of a data-plane request: its own deadline
// if it sent X-Query-Timeout, else the server's context (the engine
// applies FORGE_QUERY_TIMEOUT).
func (s *Server) requestContext(rc *fasthttp.RequestCtx) (context.Context, context.CancelFunc, error) {
	v := peekHeader(rc, keyQueryTimeout)
	if len(v) == 0 {
		return s.base, nil, nil
	}
	d, err := parseQueryTimeout(string(v), s.opts.MaxQueryTimeout)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(s.base, d)
	return ctx, cancel, nil
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
