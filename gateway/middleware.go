package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

const headerRequestID = "X-Request-Id"

// middleware gives every request an id and one access-log line, which
// names the API key by its id (never its token) once the route's guard
// has verified it.
func (s *Server) middleware(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(rc *fasthttp.RequestCtx) {
		start := time.Now()
		var reqID string
		if id := peekHeader(rc, keyRequestID); validRequestID(id) {
			reqID = string(id)
		} else {
			reqID = s.ids.next()
		}
		rc.Response.Header.Set(headerRequestID, reqID)
		st := statePool.Get().(*reqState)
		rc.SetUserValue(userState, st)
		next(rc)
		took := time.Since(start)
		status, size := rc.Response.StatusCode(), 0
		if !rc.Response.IsBodyStream() { // Body would read a stream whole
			size = len(rc.Response.Body())
		}
		method := methodName(rc.Method())
		route := st.route
		if route == "" {
			route = routeUnmatched
		}
		if obs := st.observe; obs != nil {
			obs(status, took, size)
		} else if s.unmatched != nil {
			obs, ok := s.unmatched[method]
			if !ok {
				obs = s.unmatched["OTHER"]
			}
			obs(status, took, size)
		}
		if ce := s.log.Check(zapcore.InfoLevel, "request"); ce != nil {
			db, _ := rc.UserValue("db_name").(string)
			ce.Write(
				zap.String("method", method),
				zap.String("route", route),
				zap.Int("status", status),
				zap.Int64("duration_us", took.Microseconds()),
				zap.String("db", db),
				zap.String("key_id", st.keyID),
				zap.Int("bytes", size),
				zap.String("request_id", reqID),
			)
		}
		rc.SetUserValue(userState, nil)
		*st = reqState{}
		statePool.Put(st)
	}
}

// methodName is the method as a constant string for the usual methods, so
// that logging it does not copy it.
func methodName(m []byte) string {
	switch string(m) {
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	case "DELETE":
		return "DELETE"
	case "PUT":
		return "PUT"
	case "HEAD":
		return "HEAD"
	case "PATCH":
		return "PATCH"
	case "OPTIONS":
		return "OPTIONS"
	}
	return string(m)
}

// requestID is the id the middleware gave the request.
func requestID(rc *fasthttp.RequestCtx) string {
	return string(rc.Response.Header.Peek(headerRequestID))
}

// validRequestID accepts a client's id if it is short and plain enough to
// log and echo safely.
func validRequestID(id []byte) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for _, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

// idGenerator makes unique request ids cheaply: a random per-process
// prefix and a counter.
type idGenerator struct {
	prefix string
	n      *atomic.Uint64
}

func newIDGenerator() idGenerator {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return idGenerator{prefix: hex.EncodeToString(b[:]) + "-", n: new(atomic.Uint64)}
}

func (g idGenerator) next() string {
	var buf [32]byte // 13 bytes of prefix, at most 13 of counter: one allocation
	return string(strconv.AppendUint(append(buf[:0], g.prefix...), g.n.Add(1), 36))
}

func isBodyTooLarge(err error) bool {
	return errors.Is(err, fasthttp.ErrBodyTooLarge) || strings.Contains(err.Error(), "body size exceeds")
}

func formatBytes(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + " KiB"
	}
	return strconv.Itoa(n) + " bytes"
}
