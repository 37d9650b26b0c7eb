package gateway

import (
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/auth"
)

// reqState is what the middleware, the route's guard and the handler share
// about one request. It lives in one user value as a pointer from a pool,
// so that recording the route, the key id and the key's rights costs no
// allocation (a string or bool stored in a user value would be boxed).
type reqState struct {
	route    string     // the matched route pattern, for the access log
	observe  observer   // the route's metrics recorder, if any
	keyID    string     // the verified key's id (never its token)
	readOnly bool       // the key may only read
	scope    auth.Scope // the verified key's scope (POST /mcp)
	db       string     // the verified key's database (POST /mcp)
}

const userState = "forge.state"

var statePool = sync.Pool{New: func() any { return new(reqState) }}

// state is the request's shared state. The middleware puts it in place;
// a handler called without the middleware (a unit test) gets a fresh one.
func state(rc *fasthttp.RequestCtx) *reqState {
	st, _ := rc.UserValue(userState).(*reqState)
	if st == nil {
		st = new(reqState)
		rc.SetUserValue(userState, st)
	}
	return st
}

// observer records one answer in the metrics (Metrics.Route).
type observer = func(status int, d time.Duration, bodyBytes int)

// The route labels of answers no route took and of requests fasthttp
// could not read, and the method labels of the former: the usual methods
// and OTHER, so that no client can grow the label set.
const (
	routeUnmatched = "unmatched"
	routeTransport = "transport_error"
)

var metricMethods = []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "OTHER"}

// labelled records the route pattern and the metrics recorder of the
// handler it wraps; both are made once with the route table, so nothing is
// copied per request.
func labelled(pattern string, obs observer, next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(rc *fasthttp.RequestCtx) {
		st := state(rc)
		st.route, st.observe = pattern, obs
		unescapeParams(rc)
		next(rc)
	}
}

// routeParams are the parameters of the route table.
var routeParams = [...]string{"db_name", "table_name", "key_id"}

// unescapeParams percent-decodes the route's parameters in place, before
// the guard or a handler reads them: the router matches the raw path, so
// "tables/my%20table/rows" names the table "my table", as in the
// prototype. A parameter that is not valid percent-encoding stays as
// sent ("100%" is a legal table name; no database name has a '%').
func unescapeParams(rc *fasthttp.RequestCtx) {
	for _, k := range routeParams {
		v, ok := rc.UserValue(k).(string)
		if !ok || strings.IndexByte(v, '%') < 0 {
			continue
		}
		if d, err := url.PathUnescape(v); err == nil {
			rc.SetUserValue(k, d)
		}
	}
}
