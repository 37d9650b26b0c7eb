package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/praetorian/db-forge/auth"
	"github.com/praetorian/db-forge/forge"
)

// fakeKeys is a key table of fixed tokens; its other methods are not
// used by the guard.
type fakeKeys struct {
	Keys
	byToken map[string]auth.Key
	errs    map[string]error
}

func (f fakeKeys) VerifyBytes(tok []byte) (auth.Key, error) {
	if err, ok := f.errs[string(tok)]; ok {
		return auth.Key{}, err
	}
	if k, ok := f.byToken[string(tok)]; ok {
		return k, nil
	}
	return auth.Key{}, auth.ErrUnknownKey
}

// fakeLimiter refuses the ids in deny and records every call.
type fakeLimiter struct {
	deny  map[string]time.Duration
	calls []string
}

func (f *fakeLimiter) Allow(id string) (bool, time.Duration) {
	f.calls = append(f.calls, id)
	if d, ok := f.deny[id]; ok {
		return false, d
	}
	return true, 0
}

func TestGuard(t *testing.T) {
	t.Parallel()
	keys := fakeKeys{
		byToken: map[string]auth.Key{
			"admin": {ID: auth.AdminKeyID, Scope: auth.ScopeAdmin},
			"rw-a":  {ID: "key_rwa", DB: "a", Scope: auth.ScopeReadWrite},
			"ro-a":  {ID: "key_roa", DB: "a", Scope: auth.ScopeReadOnly},
			"rw-b":  {ID: "key_rwb", DB: "b", Scope: auth.ScopeReadWrite},
			"busy":  {ID: "key_busy", DB: "a", Scope: auth.ScopeReadWrite},
		},
		errs: map[string]error{"revoked": auth.ErrRevoked, "expired": auth.ErrExpired},
	}
	tests := []struct {
		name     string
		need     need
		db       string
		token    string // sent as a bearer token; "" = none
		status   int    // 0 = next ran
		code     string
		readOnly bool
		limited  bool // the limiter was asked
	}{
		{"admin route, admin key", needAdmin, "a", "admin", 0, "", false, false},
		{"admin route, database key", needAdmin, "a", "rw-a", 403, CodeForbidden, false, false},
		{"admin route, no key", needAdmin, "a", "", 401, CodeUnauthorized, false, false},
		{"read, own key", needRead, "a", "rw-a", 0, "", false, true},
		{"read, read-only key", needRead, "a", "ro-a", 0, "", true, true},
		{"read, other database", needRead, "a", "rw-b", 403, CodeForbidden, false, false},
		{"read, admin key", needRead, "a", "admin", 0, "", false, false},
		{"write, read-only key", needWrite, "a", "ro-a", 403, CodeReadOnlyKey, false, false},
		{"write, read-write key", needWrite, "a", "rw-a", 0, "", false, true},
		{"revoked", needRead, "a", "revoked", 401, CodeUnauthorized, false, false},
		{"expired", needRead, "a", "expired", 401, CodeUnauthorized, false, false},
		{"unknown", needRead, "a", "nope", 401, CodeUnauthorized, false, false},
		{"rate limited", needRead, "a", "busy", 429, CodeRateLimited, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lim := &fakeLimiter{deny: map[string]time.Duration{"key_busy": 1500 * time.Millisecond}}
			s := &Server{log: zap.NewNop(), auth: Auth{Keys: keys, Limiter: lim}}
			ran := false
			h := s.guard(tc.need, func(ctx *fasthttp.RequestCtx) {
				ran = true
				if got := readOnly(ctx); got != tc.readOnly {
					t.Errorf("readOnly = %v, want %v", got, tc.readOnly)
				}
			})
			var ctx fasthttp.RequestCtx
			ctx.SetUserValue("db_name", tc.db)
			if tc.token != "" {
				ctx.Request.Header.Set("Authorization", "Bearer "+tc.token)
			}
			h(&ctx)
			if ran != (tc.status == 0) {
				t.Fatalf("next ran: %v, want status %d; got %d %s", ran, tc.status, ctx.Response.StatusCode(), ctx.Response.Body())
			}
			if tc.status != 0 {
				var body struct {
					Error struct{ Code string } `json:"error"`
				}
				_ = json.Unmarshal(ctx.Response.Body(), &body)
				if ctx.Response.StatusCode() != tc.status || body.Error.Code != tc.code {
					t.Fatalf("got %d %s, want %d %s", ctx.Response.StatusCode(), body.Error.Code, tc.status, tc.code)
				}
			}
			if (len(lim.calls) > 0) != tc.limited {
				t.Errorf("limiter calls %v, want asked: %v", lim.calls, tc.limited)
			}
			if tc.status == 429 && string(ctx.Response.Header.Peek("Retry-After")) != "2" {
				t.Errorf("Retry-After %q, want 2 (1.5 s rounded up)", ctx.Response.Header.Peek("Retry-After"))
			}
			if id := state(&ctx).keyID; tc.token != "" && keys.byToken[tc.token].ID != id {
				t.Errorf("key id for the log %q, want %q", id, keys.byToken[tc.token].ID)
			}
		})
	}
}

// Without enforcement the guard is the handler itself: no check, no
// user value, credentials ignored.
func TestGuardNotEnforced(t *testing.T) {
	t.Parallel()
	for _, a := range []Auth{{}, {Keys: fakeKeys{}, Disabled: true}} {
		s := &Server{log: zap.NewNop(), auth: a}
		ran := false
		h := s.guard(needAdmin, func(ctx *fasthttp.RequestCtx) { ran = readOnly(ctx) == false })
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.Set("Authorization", "Basic garbage")
		h(&ctx)
		if !ran {
			t.Errorf("Auth %+v: the handler did not run as if open", a)
		}
	}
}

func TestRetrySeconds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		wait time.Duration
		want int
	}{
		{0, 1}, {time.Nanosecond, 1}, {999 * time.Millisecond, 1}, {time.Second, 1},
		{time.Second + time.Nanosecond, 2}, {1500 * time.Millisecond, 2}, {99*time.Second + 1, 100}, {100 * time.Second, 100},
	} {
		if got := retrySeconds(tc.wait); got != tc.want {
			t.Errorf("retrySeconds(%v) = %d, want %d", tc.wait, got, tc.want)
		}
	}
}

func TestAuthErrors(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error { return fmt.Errorf("x: %w", err) }
	tests := []struct {
		name      string
		err       error
		status    int
		code      string
		detail    string
		retry     string
		challenge string
	}{
		{"no key", auth.ErrNoKey, 401, CodeUnauthorized, `Authentication required: send an API key as "Authorization: Bearer <key>" or "X-API-Key: <key>".`, "", `Bearer realm="db-forge"`},
		{"malformed", auth.ErrMalformedKey, 401, CodeUnauthorized, `Malformed credentials: send "Authorization: Bearer <key>" or "X-API-Key: <key>" (the same key if both).`, "", `Bearer realm="db-forge", error="invalid_token"`},
		{"unknown", wrap(auth.ErrUnknownKey), 401, CodeUnauthorized, "Invalid API key.", "", `Bearer realm="db-forge", error="invalid_token"`},
		{"revoked", auth.ErrRevoked, 401, CodeUnauthorized, "API key revoked.", "", `Bearer realm="db-forge", error="invalid_token"`},
		{"expired", auth.ErrExpired, 401, CodeUnauthorized, "API key expired.", "", `Bearer realm="db-forge", error="invalid_token"`},
		{"bare unauthenticated", auth.ErrUnauthenticated, 401, CodeUnauthorized, "Invalid API key.", "", `Bearer realm="db-forge", error="invalid_token"`},
		{"admin only", auth.ErrAdminOnly, 403, CodeForbidden, "This route needs the admin key.", "", ""},
		{"other database", auth.ErrOtherDatabase, 403, CodeForbidden, "This API key is for another database.", "", ""},
		{"read-only route", auth.ErrReadOnly, 403, CodeReadOnlyKey, "This API key is read-only, and this route writes.", "", ""},
		{"read-only statement", wrap(forge.ErrReadOnly), 403, CodeReadOnlyKey, "This API key is read-only, and SQLite does not report the statement read-only.", "", ""},
		{"bare forbidden", auth.ErrForbidden, 403, CodeForbidden, "Forbidden.", "", ""},
		{"rate limited", &rateLimitedError{wait: 2500 * time.Millisecond}, 429, CodeRateLimited, "This API key has used up its request rate; retry later.", "3", ""},
		{"rate limited sentinel", auth.ErrRateLimited, 429, CodeRateLimited, "This API key has used up its request rate; retry later.", "1", ""},
		{"key not found", wrap(auth.ErrKeyNotFound), 404, CodeKeyNotFound, "API key not found.", "", ""},
		{"invalid scope", wrap(auth.ErrInvalidScope), 422, CodeInvalidScope, `Field "scope" must be "read-only" or "read-write".`, "", ""},
		{"invalid expiry", wrap(auth.ErrInvalidExpiry), 422, CodeInvalidExpiry, `Field "expires_in" must be a whole number of seconds from 1 to 3153600000 (100 years), or null for a key that never expires.`, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &Server{log: zap.NewNop()}
			var ctx fasthttp.RequestCtx
			s.writeError(&ctx, tc.err)
			var body struct {
				Detail string `json:"detail"`
				Error  struct {
					Code    string `json:"code"`
					Message string `json:"message"`
					Status  int    `json:"status"`
				} `json:"error"`
			}
			if err := json.Unmarshal(ctx.Response.Body(), &body); err != nil {
				t.Fatalf("body %s: %v", ctx.Response.Body(), err)
			}
			if ctx.Response.StatusCode() != tc.status || body.Error.Status != tc.status || body.Error.Code != tc.code ||
				body.Detail != tc.detail || body.Error.Message != tc.detail {
				t.Fatalf("got %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
			if got := string(ctx.Response.Header.Peek("Retry-After")); got != tc.retry {
				t.Errorf("Retry-After %q, want %q", got, tc.retry)
			}
			if got := string(ctx.Response.Header.Peek("WWW-Authenticate")); got != tc.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.challenge)
			}
		})
	}
}

func TestDecodeKeyRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body   string
		scope  auth.Scope
		expiry time.Duration
		status int // 0 = accepted
		code   string
	}{
		{`{"scope": "read-only"}`, auth.ScopeReadOnly, 0, 0, ""},
		{`{"scope": "read-write", "expires_in": 60}`, auth.ScopeReadWrite, time.Minute, 0, ""},
		{`{"expires_in": null, "scope": "read-write"}`, auth.ScopeReadWrite, 0, 0, ""},
		{`{"scope": "read-only", "expires_in": 3153600000}`, auth.ScopeReadOnly, 3153600000 * time.Second, 0, ""},
		{`{"scope": "admin"}`, "", 0, 422, CodeInvalidScope},
		{`{"scope": ""}`, "", 0, 422, CodeInvalidScope},
		{`{"scope": "Read-Only"}`, "", 0, 422, CodeInvalidScope},
		{`{"scope": "read-only", "expires_in": 0}`, "", 0, 422, CodeInvalidExpiry},
		{`{"scope": "read-only", "expires_in": -1}`, "", 0, 422, CodeInvalidExpiry},
		{`{"scope": "read-only", "expires_in": 1.0}`, "", 0, 422, CodeInvalidExpiry},
		{`{"scope": "read-only", "expires_in": 6e1}`, "", 0, 422, CodeInvalidExpiry},
		{`{"scope": "read-only", "expires_in": 3153600001}`, "", 0, 422, CodeInvalidExpiry},
		{`{"scope": "read-only", "expires_in": 9223372036854775808}`, "", 0, 422, CodeInvalidExpiry},
		{`{"scope": "read-only", "expires_in": "60"}`, "", 0, 422, CodeValidation},
		{`{"scope": "read-only", "expires_in": true}`, "", 0, 422, CodeValidation},
		{`{"scope": ["read-only"]}`, "", 0, 422, CodeValidation},
		{`{"expires_in": 60}`, "", 0, 422, CodeValidation},
		{`{}`, "", 0, 422, CodeValidation},
		{``, "", 0, 422, CodeValidation},
		{`[]`, "", 0, 422, CodeValidation},
		{`{"scope": "read-only", "db": "x"}`, "", 0, 400, CodeUnknownField},
		{`{"scope": "read-only", "Scope": "read-write"}`, "", 0, 400, CodeInvalidJSON},
		{`{"scope": "read-only"`, "", 0, 400, CodeInvalidJSON},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			t.Parallel()
			kr, err := decodeKeyRequest([]byte(tc.body))
			if tc.status == 0 {
				if err != nil || kr.scope != tc.scope || kr.expiresIn != tc.expiry {
					t.Fatalf("= %+v, %v; want %s %v", kr, err, tc.scope, tc.expiry)
				}
				return
			}
			ae := toAPIError(err)
			if err == nil || ae.status != tc.status || ae.code != tc.code {
				t.Fatalf("err %v → %d %s, want %d %s", err, ae.status, ae.code, tc.status, tc.code)
			}
		})
	}
}

func FuzzDecodeKeyRequest(f *testing.F) {
	for _, s := range []string{
		`{"scope":"read-only"}`, `{"scope":"read-write","expires_in":60}`, `{"scope":"admin"}`,
		`{"scope":"read-only","expires_in":-1}`, `{"scope":"read-only","expires_in":1e3}`,
		`{"scope":"read-only","expires_in":null}`, `{"scope":1}`, `{"SCOPE":"read-only","scope":"x"}`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		kr, err := decodeKeyRequest(body)
		if err != nil {
			ae := toAPIError(err)
			if ae.status != fasthttp.StatusBadRequest && ae.status != fasthttp.StatusUnprocessableEntity || ae.code == "" {
				t.Fatalf("%q: %v → %d %s", body, err, ae.status, ae.code)
			}
			return
		}
		if kr.scope != auth.ScopeReadOnly && kr.scope != auth.ScopeReadWrite {
			t.Fatalf("%q: accepted scope %q", body, kr.scope)
		}
		if kr.expiresIn < 0 || kr.expiresIn > maxExpiresIn*time.Second || kr.expiresIn%time.Second != 0 {
			t.Fatalf("%q: accepted expiry %v", body, kr.expiresIn)
		}
	})
}

func TestKeyBodies(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 11, 27, 8, 35, 55, 0, time.UTC)
	k := auth.Key{ID: "key_0123456789ab", Prefix: "dbf_abcdefgh", DB: "agent1", Scope: auth.ScopeReadOnly,
		CreatedAt: created, ExpiresAt: created.Add(time.Hour)}
	tok := mustToken(t)
	got := string(newKeyBody(k, tok))
	want := `{"id":"key_0123456789ab","key":"` + tok.Reveal() + `","prefix":"dbf_abcdefgh","db_name":"agent1","scope":"read-only",` +
		`"created_at":"2026-11-27T08:35:55Z","expires_at":"2026-11-27T09:35:55Z"}`
	if got != want {
		t.Fatalf("newKeyBody =\n %s\nwant\n %s", got, want)
	}
	k.ExpiresAt = time.Time{}
	if got := string(newKeyBody(k, tok)); !strings.HasSuffix(got, `"expires_at":null}`) {
		t.Fatalf("no expiry: %s", got)
	}
	list := keysBody([]auth.Key{k, k})
	var v []map[string]any
	if err := json.Unmarshal(list, &v); err != nil || len(v) != 2 || strings.Contains(string(list), tok.Reveal()) {
		t.Fatalf("keysBody = %s (%v)", list, err)
	}
	if string(keysBody(nil)) != "[]" {
		t.Fatalf("empty list = %s", keysBody(nil))
	}
}

// mustToken mints a real token the way the key table does.
func mustToken(t *testing.T) auth.Secret {
	t.Helper()
	k, err := auth.New(context.Background(), nullStore{}, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := k.Create(context.Background(), "agent1", auth.ScopeReadOnly, 0)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// nullStore is an auth.SQL that keeps nothing.
type nullStore struct{}

func (nullStore) Exec(context.Context, string, ...forge.Value) (int64, error) { return 1, nil }
func (nullStore) Query(context.Context, string, []forge.Value, func(forge.Row) error) error {
	return nil
}

// BenchmarkGuard is what authentication adds to a request, measured alone:
// the guard with the real key table (10,000 keys) and rate limiter around
// a handler that does nothing. auth=off is the same handler unguarded.
func BenchmarkGuard(b *testing.B) {
	keys, err := auth.New(context.Background(), nullStore{}, auth.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var authz string
	for i := range 10_000 {
		_, tok, err := keys.Create(context.Background(), fmt.Sprintf("db%d", i), auth.ScopeReadWrite, 0)
		if err != nil {
			b.Fatal(err)
		}
		if i == 1234 {
			authz = "Bearer " + tok.Reveal()
		}
	}
	for _, bc := range []struct {
		name string
		a    Auth
	}{
		{"auth=off", Auth{}},
		{"auth=on/unlimited", Auth{Keys: keys}},
		{"auth=on/limited", Auth{Keys: keys, Limiter: auth.NewLimiter(auth.LimitConfig{Rate: 1e12, Burst: 1 << 40})}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := &Server{log: zap.NewNop(), auth: bc.a}
			ran := 0
			h := s.guard(needRead, func(*fasthttp.RequestCtx) { ran++ })
			var ctx fasthttp.RequestCtx
			ctx.Request.Header.Set("Authorization", authz)
			b.ReportAllocs()
			for b.Loop() {
				ctx.ResetUserValues()
				ctx.SetUserValue("db_name", "db1234")
				h(&ctx)
			}
			if ran != b.N {
				b.Fatalf("the handler ran %d times of %d: %d %s", ran, b.N, ctx.Response.StatusCode(), ctx.Response.Body())
			}
		})
	}
}

// fakeDatabases is a set of database names, shared by the fake
// orchestrator (which adds and removes them) and the key routes (which ask).
type fakeDatabases struct {
	mu sync.Mutex
	m  map[string]bool
}

func (f *fakeDatabases) Exists(name string) (bool, error) {
	f.mu.Lock()
	ok := f.m[name]
	f.mu.Unlock()
	runtime.Gosched() // widen the window between the check and what follows
	return ok, nil
}

func (f *fakeDatabases) set(name string, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !ok && !f.m[name] {
		return
	}
	f.m[name] = ok
}

type fakeOrch struct{ dbs *fakeDatabases }

func (o fakeOrch) Spawn(_ context.Context, name string) (forge.Instance, bool, error) {
	ok, _ := o.dbs.Exists(name)
	o.dbs.set(name, true)
	return forge.Instance{Name: name}, !ok, nil
}
func (o fakeOrch) Prune(context.Context, string) error            { return nil }
func (o fakeOrch) List(context.Context) ([]forge.Instance, error) { return nil, nil }
func (o fakeOrch) Delete(_ context.Context, name string) error {
	if ok, _ := o.dbs.Exists(name); !ok {
		return forge.ErrDatabaseNotFound
	}
	runtime.Gosched()
	o.dbs.set(name, false)
	return nil
}

// exclusiveEngine is an Engine whose Exclusive just runs fn.
type exclusiveEngine struct{ Engine }

func (exclusiveEngine) Exclusive(_ context.Context, _ string, fn func() error) error { return fn() }

// TestMintRacesDelete: keys minted while their database is being deleted
// never outlive it. After each race, a database that is gone has no keys.
func TestMintRacesDelete(t *testing.T) {
	t.Parallel()
	const admin = "admin-key-for-the-race-test-0123456789"
	keys, err := auth.New(context.Background(), nullStore{}, auth.Options{Admin: mustAdminSecret(t, admin)})
	if err != nil {
		t.Fatal(err)
	}
	dbs := &fakeDatabases{m: map[string]bool{}}
	s := New(Options{Auth: Auth{Keys: keys, Databases: dbs}}, exclusiveEngine{}, fakeOrch{dbs}, zap.NewNop())
	h := s.Handler()
	call := func(method, uri, body string) int {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(method)
		ctx.Request.SetRequestURI(uri)
		ctx.Request.Header.Set("Authorization", "Bearer "+admin)
		ctx.Request.SetBodyString(body)
		h(&ctx)
		return ctx.Response.StatusCode()
	}
	minted := 0
	for i := range 300 {
		if st := call("POST", "/admin/databases/spawn/x", ""); st != 201 {
			t.Fatalf("spawn: %d", st)
		}
		var wg sync.WaitGroup
		var mint int
		wg.Go(func() { mint = call("POST", "/admin/databases/x/keys", `{"scope": "read-only"}`) })
		wg.Go(func() {
			if st := call("DELETE", "/admin/databases/x", ""); st != 200 {
				t.Errorf("delete: %d", st)
			}
		})
		wg.Wait()
		if mint == 201 {
			minted++
		} else if mint != 404 {
			t.Fatalf("round %d: mint answered %d", i, mint)
		}
		if ok, _ := dbs.Exists("x"); ok {
			t.Fatalf("round %d: x survived its delete", i)
		}
		if n := len(keys.List("x")); n != 0 {
			t.Fatalf("round %d: the deleted x kept %d keys (mint answered %d)", i, n, mint)
		}
	}
	t.Logf("%d of 300 mints won the race and were swept", minted)
}

func mustAdminSecret(t *testing.T, key string) auth.Secret {
	t.Helper()
	s, _, err := auth.EnsureAdminKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}
