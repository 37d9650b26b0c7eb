package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/auth"
)

// Keys is the API key table (package auth's *Keys): the request path
// verifies tokens against it; the admin routes mint, list and revoke.
type Keys interface {
	// VerifyBytes finds the key of a token: an error wrapping
	// auth.ErrUnauthenticated when it opens nothing.
	VerifyBytes(token []byte) (auth.Key, error)
	Create(ctx context.Context, db string, scope auth.Scope, expiresIn time.Duration) (auth.Key, auth.Secret, error)
	List(db string) []auth.Key
	Revoke(ctx context.Context, db, id string) error
	// DeleteDatabase forgets every key of db.
	DeleteDatabase(ctx context.Context, db string) error
}

// RateLimiter takes one request from a key's budget, or says how long to
// wait (package auth's *Limiter).
type RateLimiter interface {
	Allow(keyID string) (ok bool, retryAfter time.Duration)
}

// Databases says whether a database exists (has its file): the key routes
// mint keys only for databases that do, and the data routes ask before
// they refuse a request's body (Options.Databases).
type Databases interface {
	Exists(name string) (bool, error)
}

// Auth is the gateway's authentication: its ports and its mode.
type Auth struct {
	// Keys is the key table. Nil means no keys at all: every route is
	// open, spawn returns no api_key and the key routes do not exist (a
	// gateway embedded in a test or a benchmark).
	Keys Keys
	// Limiter rate-limits each key but the admin key; nil = no limit.
	Limiter RateLimiter
	// Databases answers the key routes' "does it exist?".
	Databases Databases
	// Disabled (FORGE_AUTH=disabled) opens every route to requests without
	// a key, and ignores the keys they carry. Keys are still minted and
	// managed, so that turning authentication on later needs no new keys.
	Disabled bool
}

// enforced reports whether requests must present a key.
func (a Auth) enforced() bool { return a.Keys != nil && !a.Disabled }

// need is what a route needs of a key; the route decides, before any
// handler runs.
type need uint8

const (
	// needNothing: a public route (GET /, GET /health); credentials are
	// not looked at.
	needNothing need = iota
	// needAdmin: the control plane (spawn, prune, list, delete, keys)
	// and GET /metrics.
	needAdmin
	// needRead: a data route of {db_name} that reads (GET rows), or the
	// query route, whose statement the engine checks once prepared.
	needRead
	// needWrite: a data route of {db_name} that always writes (POST
	// tables, POST rows).
	needWrite
	// needKey: any valid key, of any database or the admin key (POST
	// /mcp, which offers each key the tools of its rights).
	needKey
)

// Headers of authentication.
const (
	headerAuthorization = "Authorization"
	headerAPIKey        = "X-API-Key"
)

// guard authenticates and authorizes a request for a route that needs n,
// after routing and before the handler: the token from Authorization:
// Bearer or X-API-Key, the key it belongs to (one hash and one map
// look-up), the policy (auth.Authorize), then the key's rate limit. The
// admin key is never rate limited: it is the operator's way in when
// something else is flooding the gateway.
func (s *Server) guard(n need, next fasthttp.RequestHandler) fasthttp.RequestHandler {
	if !s.auth.enforced() || n == needNothing {
		return next
	}
	return func(rc *fasthttp.RequestCtx) {
		tok, err := auth.Credential(peekHeader(rc, keyAuthorization), peekHeader(rc, keyAPIKey))
		if err != nil {
			s.writeError(rc, err)
			return
		}
		key, err := s.auth.Keys.VerifyBytes(tok)
		if err != nil {
			s.writeError(rc, err)
			return
		}
		st := state(rc)
		st.keyID = key.ID // the id, never the token
		st.scope, st.db = key.Scope, key.DB
		db, _ := rc.UserValue("db_name").(string)
		if n != needKey {
			if err := auth.Authorize(key, auth.Access{Admin: n == needAdmin, DB: db, Write: n == needWrite}); err != nil {
				s.writeError(rc, err)
				return
			}
		}
		if key.Scope != auth.ScopeAdmin && s.auth.Limiter != nil {
			if ok, wait := s.auth.Limiter.Allow(key.ID); !ok {
				s.writeError(rc, &rateLimitedError{wait: wait})
				return
			}
		}
		if !auth.CanWrite(key) {
			st.readOnly = true
		}
		next(rc)
	}
}

// readOnly reports whether the request's key may only read.
func readOnly(rc *fasthttp.RequestCtx) bool {
	return state(rc).readOnly
}

// readOnlyRun reports whether a query or a batch runs read-only: its key
// may only read, or it asks to with X-Read-Only: true (whatever its key).
func readOnlyRun(rc *fasthttp.RequestCtx) bool {
	return state(rc).readOnly || string(peekHeader(rc, keyReadOnly)) == "true"
}

// headerReadOnly: X-Read-Only: true runs a query or a batch as a
// read-only key's (POST /mcp's query tool sends it).
const headerReadOnly = "X-Read-Only"

var keyReadOnly = canonicalHeader(headerReadOnly)

// checkReadOnlyHeader refuses an X-Read-Only that is neither true nor
// false.
func checkReadOnlyHeader(rc *fasthttp.RequestCtx) error {
	switch v := string(peekHeader(rc, keyReadOnly)); v {
	case "", "true", "false":
		return nil
	}
	return invalidValue("X-Read-Only must be true or false.")
}

// rateLimitedError: the key used up its rate; wait is how long until the
// next request would be allowed.
type rateLimitedError struct{ wait time.Duration }

func (e *rateLimitedError) Error() string        { return fmt.Sprintf("rate limited for %v", e.wait) }
func (e *rateLimitedError) Is(target error) bool { return target == auth.ErrRateLimited }

// retrySeconds is Retry-After for a wait: whole seconds, rounded up, at
// least 1 (a client that retries at once would only be refused again).
func retrySeconds(wait time.Duration) int {
	s := int((wait + time.Second - 1) / time.Second)
	return max(s, 1)
}
