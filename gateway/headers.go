package gateway

import "github.com/valyala/fasthttp"

// The request headers read on every data-plane request, in fasthttp's
// canonical form (as the server stores them: it normalizes the names it
// parses), for PeekCanonical. Header.Peek(name) copies the name and
// normalizes it on every call; a /query request reads seven headers, and
// that copying cost more than the look-ups (issue 17's insert regression).
var (
	keyRequestID      = canonicalHeader(headerRequestID)
	keyAuthorization  = canonicalHeader(headerAuthorization)
	keyAPIKey         = canonicalHeader(headerAPIKey) // X-Api-Key
	keyQueryTimeout   = canonicalHeader(headerQueryTimeout)
	keyAccept         = canonicalHeader(fasthttp.HeaderAccept)
	keyIdempotencyKey = canonicalHeader(headerIdempotencyKey)
	keyTransaction    = canonicalHeader(headerTransaction)
)

func canonicalHeader(name string) []byte { return fasthttp.AppendNormalizedHeaderKey(nil, name) }

// peekHeader is the request's header key (canonical, one of the above):
// Header.Peek without normalizing the name again.
func peekHeader(rc *fasthttp.RequestCtx, key []byte) []byte {
	return rc.Request.Header.PeekCanonical(key)
}
