// Package auth is DB-Forge's authentication and authorization: API keys
// (the admin key and per-database keys with a scope and an optional
// expiry), how they are minted, stored and checked, the policy that says
// what a key may do, and per-key rate limits.
//
// A key is 32 random bytes shown once, at creation, as a token
// ("dbf_" + base64url). Only the SHA-256 of the token is kept: in a
// metadata database reached through the small SQL interface this package
// declares, and in memory, where the whole key table lives so that checking
// a request costs one hash and one map look-up, never SQL.
//
// Nothing here knows HTTP: errors are sentinels the gateway maps to 401,
// 403, 404 or 429 in its one error mapping. See DESIGN.md for the reasons.
package auth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// Sentinel errors. Every error of a request that presents no valid key
// wraps ErrUnauthenticated (401); every refusal of a valid key wraps
// ErrForbidden (403). The finer ones say why, for tests and logs.
var (
	// ErrUnauthenticated: the request presents no usable key.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrNoKey: neither an Authorization nor an X-API-Key header.
	ErrNoKey = fmt.Errorf("%w: no API key", ErrUnauthenticated)
	// ErrMalformedKey: an Authorization header that is not "Bearer <key>",
	// or two headers naming different keys.
	ErrMalformedKey = fmt.Errorf("%w: malformed credentials", ErrUnauthenticated)
	// ErrUnknownKey: no key has that token.
	ErrUnknownKey = fmt.Errorf("%w: unknown API key", ErrUnauthenticated)
	// ErrRevoked: the key was revoked.
	ErrRevoked = fmt.Errorf("%w: API key revoked", ErrUnauthenticated)
	// ErrExpired: the key is past its expiry.
	ErrExpired = fmt.Errorf("%w: API key expired", ErrUnauthenticated)

	// ErrForbidden: a valid key asked for something outside its rights.
	ErrForbidden = errors.New("forbidden")
	// ErrAdminOnly: the route needs the admin key.
	ErrAdminOnly = fmt.Errorf("%w: admin key required", ErrForbidden)
	// ErrOtherDatabase: the key belongs to another database.
	ErrOtherDatabase = fmt.Errorf("%w: API key is for another database", ErrForbidden)
	// ErrReadOnly: a read-only key asked to write.
	ErrReadOnly = fmt.Errorf("%w: API key is read-only", ErrForbidden)

	// ErrKeyNotFound: no key of that id on that database (revoke).
	ErrKeyNotFound = errors.New("API key not found")
	// ErrInvalidScope: a scope other than read-only, read-write or admin,
	// or one that does not fit the database (admin is for "" only).
	ErrInvalidScope = errors.New("invalid scope")
	// ErrInvalidExpiry: a negative or absurdly long expires_in.
	ErrInvalidExpiry = errors.New("invalid expiry")
	// ErrWeakAdminKey: FORGE_ADMIN_KEY (or the admin key file) is too
	// short, too long or holds characters a header cannot carry.
	ErrWeakAdminKey = errors.New("unusable admin key")
	// ErrRateLimited: the key used up its rate; retry after a while. The
	// limiter reports how long.
	ErrRateLimited = errors.New("rate limited")
)

// Scope is what a key may do on its database.
type Scope string

const (
	// ScopeReadOnly runs only statements SQLite reports read-only.
	ScopeReadOnly Scope = "read-only"
	// ScopeReadWrite runs any statement the SQL sandbox allows.
	ScopeReadWrite Scope = "read-write"
	// ScopeAdmin is everything on every database, the control plane
	// included. Only keys of database "" have it.
	ScopeAdmin Scope = "admin"
)

// ParseScope checks a scope given by a client or read from the store.
func ParseScope(s string) (Scope, error) {
	switch Scope(s) {
	case ScopeReadOnly, ScopeReadWrite, ScopeAdmin:
		return Scope(s), nil
	}
	return "", fmt.Errorf("scope %q: %w", s, ErrInvalidScope)
}

// AdminKeyID is the id of the admin key given by FORGE_ADMIN_KEY or the
// admin key file. That key is never stored, listed or revocable.
const AdminKeyID = "admin"

// Key is an API key as it may be shown: it holds no secret, not even the
// token's hash, so it can be listed, logged and encoded freely.
type Key struct {
	ID        string    // "key_" + 12 hex digits; AdminKeyID for the admin key
	Prefix    string    // the token's first characters ("dbf_" + 8), to recognise it
	DB        string    // the database it opens; "" = every database (admin)
	Scope     Scope     // what it may do there
	CreatedAt time.Time // UTC, millisecond precision
	ExpiresAt time.Time // zero = never
	RevokedAt time.Time // zero = in force
}

// Revoked reports whether the key was revoked.
func (k Key) Revoked() bool { return !k.RevokedAt.IsZero() }

// Expired reports whether the key is past its expiry at now.
func (k Key) Expired(now time.Time) bool {
	return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt)
}

// String is a one-line description for logs.
func (k Key) String() string {
	where := "on every database"
	if k.DB != "" {
		where = "on " + strconv.Quote(k.DB)
	}
	s := k.ID + " (" + string(k.Scope) + " " + where
	if k.Prefix != "" {
		s += ", " + k.Prefix + "…"
	}
	if k.Revoked() {
		s += ", revoked"
	}
	return s + ")"
}

// GoString lists the fields one by one, so that %#v stays free of secrets
// whatever fields Key gains later.
func (k Key) GoString() string {
	return fmt.Sprintf("auth.Key{ID:%q, Prefix:%q, DB:%q, Scope:%q, CreatedAt:%q, ExpiresAt:%q, RevokedAt:%q}",
		k.ID, k.Prefix, k.DB, string(k.Scope), jsonTime(k.CreatedAt), jsonTime(k.ExpiresAt), jsonTime(k.RevokedAt))
}

// MarshalJSON writes the key as the keys routes list it: id, prefix,
// db_name, scope, created_at, expires_at (null = never), revoked and
// revoked_at (null when in force). Times are UTC RFC 3339.
func (k Key) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 192)
	b = append(b, `{"id":`...)
	b = strconv.AppendQuote(b, k.ID)
	b = append(b, `,"prefix":`...)
	b = strconv.AppendQuote(b, k.Prefix)
	b = append(b, `,"db_name":`...)
	b = strconv.AppendQuote(b, k.DB)
	b = append(b, `,"scope":`...)
	b = strconv.AppendQuote(b, string(k.Scope))
	b = append(b, `,"created_at":`...)
	b = appendJSONTime(b, k.CreatedAt)
	b = append(b, `,"expires_at":`...)
	b = appendJSONTime(b, k.ExpiresAt)
	b = append(b, `,"revoked":`...)
	b = strconv.AppendBool(b, k.Revoked())
	b = append(b, `,"revoked_at":`...)
	b = appendJSONTime(b, k.RevokedAt)
	return append(b, '}'), nil
}

func jsonTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func appendJSONTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339)
	return append(b, '"')
}

// Secret is a key's token: the one value that opens a database. It is
// handed out once, when the key is made (or the admin key file is first
// written), and every way of printing it — fmt with any verb, also %p and
// as an unexported field of another struct, JSON, zap (through String) and
// slog — shows "[redacted]" or a pointer. Only Reveal gives the value, for
// the one response or file that must carry it.
//
// It is a struct holding a pointer rather than a string type: fmt prints a
// string type's raw value for a bad verb (%p) and for an unexported field,
// bypassing its methods, while a pointer in a struct prints as an address.
type Secret struct{ p *string }

func newSecret(s string) Secret { return Secret{p: &s} }

const redacted = "[redacted]"

// Reveal returns the token itself. Call it only to hand the token to its
// owner: the response that creates the key, the admin key file.
func (s Secret) Reveal() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

// IsZero reports whether s holds no token.
func (s Secret) IsZero() bool { return s.Reveal() == "" }

func (s Secret) String() string   { return redacted }
func (s Secret) GoString() string { return "auth.Secret{" + redacted + "}" }

// Format keeps every fmt verb away from the value.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, s.GoString())
		return
	}
	_, _ = io.WriteString(f, redacted)
}

// MarshalJSON writes "[redacted]": a Secret never reaches JSON by accident.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText is "[redacted]", for encoders that use text forms.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue is "[redacted]" for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// Access is what a request needs, as the gateway classifies its route.
type Access struct {
	// Admin: the route is the control plane (spawn, prune, list, delete,
	// keys): only the admin key may use it.
	Admin bool
	// DB is the database a data route names.
	DB string
	// Write: the route always writes (create a table, insert rows). The
	// query route leaves it false: whether its statement writes is known
	// only once SQLite has prepared it, so the engine checks that later
	// with CanWrite's answer.
	Write bool
}

// Authorize is the policy: may key k do what a says? It assumes k was
// verified (known, in force, not expired) and answers nil or an error
// wrapping ErrForbidden:
//   - the admin key may do everything, on every database;
//   - any other key may use only data routes of its own database;
//   - a read-only key may not use a route that always writes.
func Authorize(k Key, a Access) error {
	switch k.Scope {
	case ScopeAdmin:
		if k.DB == "" {
			return nil
		}
		return ErrForbidden // no such key is ever made
	case ScopeReadOnly, ScopeReadWrite:
	default:
		return ErrForbidden
	}
	if a.Admin {
		return ErrAdminOnly
	}
	if a.DB == "" || k.DB != a.DB {
		return ErrOtherDatabase
	}
	if a.Write && !CanWrite(k) {
		return ErrReadOnly
	}
	return nil
}

// CanWrite reports whether k may run statements that write. A request
// made with a key that cannot must run only statements SQLite reports
// read-only once prepared (sqlite3_stmt_readonly), never judged by text.
func CanWrite(k Key) bool {
	return k.Scope == ScopeReadWrite || k.Scope == ScopeAdmin
}

// Credential returns the token a request presents, from the values of its
// Authorization header ("Bearer <token>", scheme in any case) and its
// X-API-Key header (nil or empty when absent). Either header will do; when
// both carry a token they must carry the same one. An Authorization header
// of another scheme (a proxy's Basic credentials) is left alone when
// X-API-Key is there. The result aliases the arguments.
func Credential(authorization, apiKey []byte) ([]byte, error) {
	authorization = bytes.TrimSpace(authorization)
	apiKey = bytes.TrimSpace(apiKey)
	var bearer []byte
	if len(authorization) > 0 {
		tok, ok := bearerToken(authorization)
		switch {
		case ok:
			bearer = tok
		case len(apiKey) == 0:
			return nil, ErrMalformedKey
		}
	}
	if len(apiKey) > 0 && !plainToken(apiKey) {
		return nil, ErrMalformedKey
	}
	switch {
	case bearer != nil && len(apiKey) > 0:
		if !bytes.Equal(bearer, apiKey) {
			return nil, ErrMalformedKey
		}
		return bearer, nil
	case bearer != nil:
		return bearer, nil
	case len(apiKey) > 0:
		return apiKey, nil
	}
	return nil, ErrNoKey
}

// bearerToken parses "Bearer <token>" (RFC 6750): the scheme in any case,
// then spaces, then one token without spaces.
func bearerToken(h []byte) ([]byte, bool) {
	const scheme = "bearer"
	if len(h) <= len(scheme) || !bytes.EqualFold(h[:len(scheme)], []byte(scheme)) {
		return nil, false
	}
	rest := h[len(scheme):]
	if rest[0] != ' ' && rest[0] != '\t' {
		return nil, false
	}
	tok := bytes.TrimLeft(rest, " \t")
	if !plainToken(tok) {
		return nil, false
	}
	return tok, true
}

// plainToken: non-empty visible ASCII, no spaces.
func plainToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// validDB checks the database of a key: "" for the admin scope, a valid
// database name for the others.
func validDB(db string, scope Scope) error {
	if scope == ScopeAdmin {
		if db != "" {
			return fmt.Errorf("scope admin is for every database, not %q: %w", db, ErrInvalidScope)
		}
		return nil
	}
	if db == "" {
		return fmt.Errorf("scope %s needs a database: %w", scope, ErrInvalidScope)
	}
	if err := forge.ValidateName(db); err != nil {
		return fmt.Errorf("%q: %w", db, err)
	}
	return nil
}
