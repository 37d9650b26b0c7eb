package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"
)

// Graceful shutdown has two phases: Drain, then Shutdown.
//
// Drain stops new work without closing anything. Every request that
// arrives — on a kept-alive connection, on a new one (the listener stays
// open), GET /health included so that a load balancer stops sending — is
// answered 503 SHUTTING_DOWN with Retry-After and Connection: close; the
// requests in flight finish with their own answers, also with Connection:
// close. A keep-alive client thus hears why its connection ends, instead
// of finding it closed under its next request.
//
// Shutdown (fasthttp's) then closes the listener and the idle connections
// and waits for the connections still answering.
//
// Every request's context derives from the server's (Server.base). When
// the drain's context ends with requests still in flight, the server's
// context ends too: their work is interrupted (the engine answers 503
// REQUEST_CANCELED, or 504 if their own deadline came first) instead of
// running on to its own deadline after the gateway has stopped waiting,
// and the drain gives them up to drainInterruptWait to send that answer.

// drainInterruptWait bounds how long Drain waits, past its context, for
// the requests it interrupted to answer.
const drainInterruptWait = time.Second

// drainPoll is how often Drain looks whether any connection is still open
// while it waits out its grace.
const drainPoll = 20 * time.Millisecond

// Drain begins graceful shutdown and returns when the drain is over: no
// request is in flight and either grace has passed since the call or no
// connection is open (nobody is left to tell). It returns ctx's error,
// naming the requests still in flight, if ctx ends first. Every request
// from the call on is answered 503 SHUTTING_DOWN; there is no way back.
func (s *Server) Drain(ctx context.Context, grace time.Duration) error {
	start := time.Now()
	s.BeginDrain()
	idle := s.load.idle()
	select {
	case <-idle: // nothing in flight: done even if ctx already ended
	default:
		select {
		case <-idle:
		case <-ctx.Done():
			err := fmt.Errorf("drain: %d requests still in flight: %w", s.load.inFlight(), ctx.Err())
			s.interrupt(idle)
			return err
		}
	}
	left := grace - time.Since(start)
	if left <= 0 {
		return nil
	}
	over := time.NewTimer(left)
	defer over.Stop()
	poll := time.NewTicker(drainPoll)
	defer poll.Stop()
	for s.srv.GetOpenConnectionsCount() > 0 {
		select {
		case <-over.C:
			return nil
		case <-ctx.Done():
			return nil // nothing in flight: the grace was a courtesy
		case <-poll.C:
		}
	}
	return nil
}

// BeginDrain starts the drain and returns: from now on every request is
// answered 503 SHUTTING_DOWN. Drain calls it; call it first to know what
// was in flight when the drain began (InFlight).
func (s *Server) BeginDrain() { s.draining.Store(true) }

// interrupt ends the server's context, which every request's context
// derives from, and waits up to drainInterruptWait for the requests in
// flight to answer (idle is closed when none is left).
func (s *Server) interrupt(idle <-chan struct{}) {
	s.stop()
	t := time.NewTimer(drainInterruptWait)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	}
}

// refuseDraining answers a request that arrived during the drain.
func (s *Server) refuseDraining(rc *fasthttp.RequestCtx) {
	rc.SetConnectionClose()
	s.writeError(rc, errShuttingDown)
}
