package gateway

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// healthTTL is how long one round of GET /health's checks stands. The
// route is public and outside FORGE_MAX_INFLIGHT (a load balancer must
// get an answer under any load), so it must not let anyone make the
// gateway do I/O at will: whatever the rate of calls, the checks (a
// statfs, the engine, a Docker ping) run at most once per healthTTL, one
// round at a time, and every other call is answered from memory.
const healthTTL = time.Second

// healthCache is the last round of checks, and the round running now.
type healthCache struct {
	ttl time.Duration

	mu      sync.Mutex
	valid   bool
	at      time.Time // when the last round ended
	checks  []byte    // its "checks" object's members; never changed once stored
	healthy bool
	// round, when not nil, is closed when the round running now ends.
	round chan struct{}
}

// result is the checks' answer: a round no older than ttl, or a fresh
// round run by this call. While a round runs, other calls get the last
// result (or, before the first one, wait for it): no call waits for
// Docker once the gateway has an answer to give.
func (s *Server) healthResult() (checks []byte, healthy bool) {
	h := &s.checked
	h.mu.Lock()
	for {
		if h.valid && (h.round != nil || time.Since(h.at) < h.ttl) {
			checks, healthy = h.checks, h.healthy
			h.mu.Unlock()
			return checks, healthy
		}
		if h.round == nil {
			break
		}
		ch := h.round
		h.mu.Unlock()
		<-ch
		h.mu.Lock()
	}
	ch := make(chan struct{})
	h.round = ch
	h.mu.Unlock()
	done := false
	defer func() {
		h.mu.Lock()
		if done {
			h.checks, h.healthy, h.at, h.valid = checks, healthy, time.Now(), true
		}
		h.round = nil
		close(ch)
		h.mu.Unlock()
	}()
	checks, healthy = s.runChecks()
	done = true
	return checks, healthy
}

// runChecks runs every check, each under HealthTimeout, and returns the
// members of the "checks" object.
func (s *Server) runChecks() ([]byte, bool) {
	checks := make([]byte, 0, 128)
	healthy := true
	for i, c := range s.opts.Checks {
		ctx, cancel := context.WithTimeout(s.base, s.opts.HealthTimeout)
		err := c.Run(ctx)
		cancel()
		if i > 0 {
			checks = append(checks, ',')
		}
		checks = appendString(checks, c.Name)
		if err != nil {
			healthy = false
			checks = append(checks, `:{"ok":false,"error":`...)
			checks = appendString(checks, err.Error())
		} else {
			checks = append(checks, `:{"ok":true`...)
		}
		if c.Figures != nil {
			for _, f := range c.Figures() {
				checks = append(checks, ',')
				checks = appendString(checks, f.Name)
				checks = append(checks, ':')
				checks = strconv.AppendInt(checks, f.Value, 10)
			}
		}
		checks = append(checks, '}')
	}
	return checks, healthy
}

// health answers GET /health: the checks (healthResult) and, when
// databases are marked damaged, their count (and names, to the admin).
func (s *Server) health(_ context.Context, rc *fasthttp.RequestCtx, _ noRequest) error {
	checks, healthy := s.healthResult()
	b := make([]byte, 0, 160+len(checks))
	b = append(b, `{"status":`...)
	status := fasthttp.StatusOK
	if healthy {
		b = append(b, `"ok"`...)
	} else {
		status = fasthttp.StatusServiceUnavailable
		b = append(b, `"unavailable","detail":"Service unavailable.","error":{"code":"`+CodeUnavailable+`","message":"Service unavailable.","status":503}`...)
	}
	b = append(b, `,"checks":{`...)
	b = append(b, checks...)
	b = append(b, '}')
	b = s.appendHealthDamage(rc, b)
	if s.opts.Version != "" {
		b = append(b, `,"version":`...)
		b = appendString(b, s.opts.Version)
	}
	b = append(b, `,"uptime_s":`...)
	b = strconv.AppendInt(b, int64(time.Since(s.started)/time.Second), 10)
	b = append(b, '}')
	writeJSON(rc, status, b)
	return nil
}
