package gateway

import (
	"sync"

	"github.com/valyala/fasthttp"
)

// reqState is what the middleware, the route's guard and the handler share
// about one request. It lives in one user value as a pointer from a pool,
// so that recording the route, the key id and the key's rights costs no
// allocation (a string or bool stored in a user value would be boxed).
type reqState struct {
	route    string // the matched route pattern, for the access log
	keyID    string // the verified key's id (never its token)
	readOnly bool   // the key may only read
}

const userState = "forge.state"

var statePool = sync.Pool{New: func() any { return new(reqState) }}

// state is the request's shared state. The middleware puts it in place;
// a handler called without the middleware (a unit test) gets a fresh one.
func state(ctx *fasthttp.RequestCtx) *reqState {
	st, _ := ctx.UserValue(userState).(*reqState)
	if st == nil {
		st = new(reqState)
		ctx.SetUserValue(userState, st)
	}
	return st
}

// labelled records the route pattern of the handler it wraps; the pattern
// is a constant of the route table, so nothing is copied per request.
func labelled(pattern string, next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		state(ctx).route = pattern
		next(ctx)
	}
}
