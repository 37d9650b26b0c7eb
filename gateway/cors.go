package gateway

import (
	"strings"

	"github.com/valyala/fasthttp"
)

// Cross-origin access (CORS) for browser clients, set by
// Options.CORSOrigins (FORGE_CORS_ORIGINS): none by default, a list of
// origins, or "*" for any. The API authenticates by headers, never by
// cookies, so the gateway never sends Access-Control-Allow-Credentials:
// a browser page sends its key itself, and "*" cannot leak a session.
//
// OPTIONS is answered for every route, CORS or not (the router's
// GlobalOPTIONS): 204 with Allow listing the route's methods, OPTIONS
// among them, and, for a preflight from an allowed origin, the CORS
// headers. An OPTIONS to a path that is no route is 404 as any method
// is. OPTIONS needs no key: a browser's preflight carries none.

// corsAllowHeaders are the request headers the API reads, for preflights.
const corsAllowHeaders = "Authorization, X-API-Key, Content-Type, Accept, Idempotency-Key, " +
	"X-Transaction-Id, X-Query-Timeout, X-Request-Id, X-Read-Only, Mcp-Protocol-Version, Mcp-Session-Id"

// corsExposeHeaders are the response headers a page may read: every
// header the API answers with beyond the CORS-safelisted ones (the rows
// route's page and count, a CSV or Markdown answer's meta, an export's
// file name among them).
const corsExposeHeaders = "X-Request-Id, Idempotent-Replayed, X-Truncated, Retry-After, " +
	"WWW-Authenticate, Link, X-Next-Cursor, X-Next, X-Total-Count, X-Forge-Meta, Content-Disposition"

// corsMaxAge is how long a browser may keep a preflight's answer (seconds).
const corsMaxAge = "600"

// corsPolicy is the parsed FORGE_CORS_ORIGINS.
type corsPolicy struct {
	any     bool
	origins map[string]struct{}
}

// newCORSPolicy reads the allowed origins: "*" anywhere allows any;
// otherwise each origin exactly as a browser sends it (scheme, host,
// port; no path, no trailing slash). Nil: no cross-origin access.
func newCORSPolicy(origins []string) *corsPolicy {
	p := &corsPolicy{origins: map[string]struct{}{}}
	for _, o := range origins {
		o = strings.TrimSpace(o)
		switch o {
		case "":
			continue
		case "*":
			p.any = true
		default:
			p.origins[strings.TrimRight(o, "/")] = struct{}{}
		}
	}
	if !p.any && len(p.origins) == 0 {
		return nil
	}
	return p
}

// allow is the Access-Control-Allow-Origin value for origin, or "".
func (p *corsPolicy) allow(origin []byte) string {
	if p == nil || len(origin) == 0 {
		return ""
	}
	if p.any {
		return "*"
	}
	if _, ok := p.origins[string(origin)]; ok {
		return string(origin)
	}
	return ""
}

// cors adds the CORS headers to the answer of an allowed origin's
// request, whatever the answer (errors included: a page must be able to
// read a 401's body).
func (s *Server) cors(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	if s.corsPolicy == nil {
		return next
	}
	return func(rc *fasthttp.RequestCtx) {
		next(rc)
		origin := rc.Request.Header.Peek("Origin")
		if len(origin) == 0 {
			return
		}
		h := &rc.Response.Header
		h.Add("Vary", "Origin")
		if allow := s.corsPolicy.allow(origin); allow != "" {
			h.Set("Access-Control-Allow-Origin", allow)
			if !rc.IsOptions() {
				h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
			}
		}
	}
}

// options answers OPTIONS on a route (the router set Allow): 204, and for
// an allowed origin's preflight the methods and headers it may use.
func (s *Server) options(rc *fasthttp.RequestCtx) {
	rc.SetStatusCode(fasthttp.StatusNoContent)
	rc.ResetBody()
	origin := rc.Request.Header.Peek("Origin")
	if s.corsPolicy.allow(origin) == "" || len(rc.Request.Header.Peek("Access-Control-Request-Method")) == 0 {
		return
	}
	h := &rc.Response.Header
	h.Set("Access-Control-Allow-Methods", string(h.Peek("Allow")))
	h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
	h.Set("Access-Control-Max-Age", corsMaxAge)
}
