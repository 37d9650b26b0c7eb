package gateway

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/praetorian/db-forge/auth"
	"github.com/praetorian/db-forge/forge"
)

// fakeDamage is the engine's damage memory: a fixed list, and a check
// that reports problems for the damaged names, ErrDatabaseNotFound for
// "ghost", nothing for the others.
type fakeDamage struct{ list []forge.Damage }

func (f fakeDamage) Damaged() []forge.Damage { return f.list }

func (f fakeDamage) IntegrityCheck(_ context.Context, db string) ([]string, error) {
	if db == "ghost" {
		return nil, fmt.Errorf("%s: %w", db, forge.ErrDatabaseNotFound)
	}
	for _, d := range f.list {
		if d.Name == db {
			return []string{d.Message, "*** in database main ***"}, nil
		}
	}
	return nil, nil
}

// listOrch lists fixed instances.
type listOrch struct {
	fakeOrch
	insts []forge.Instance
}

func (o listOrch) List(context.Context) ([]forge.Instance, error) { return o.insts, nil }

// TestDamageRoutes: the list marks damaged databases (and only them, the
// seed fields unchanged), /health stays 200 and names them to the admin
// key only, and the integrity-check route answers 200 either way.
func TestDamageRoutes(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	created := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	dmg := fakeDamage{list: []forge.Damage{{Name: "bad", Message: "file is not a database", Since: since}}}
	keys := fakeKeys{byToken: map[string]auth.Key{
		"admin": {ID: auth.AdminKeyID, Scope: auth.ScopeAdmin},
		"rw":    {ID: "key_rw", DB: "bad", Scope: auth.ScopeReadWrite},
	}}
	orch := listOrch{insts: []forge.Instance{
		{Name: "bad", Status: "running", CreatedAt: created},
		{Name: "good", Status: "running", CreatedAt: created},
	}}
	s := New(Options{Auth: Auth{Keys: keys}, Damage: dmg}, exclusiveEngine{}, orch, zap.NewNop())
	h := s.Handler()
	call := func(method, uri, token string) (int, string) {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(method)
		ctx.Request.SetRequestURI(uri)
		if token != "" {
			ctx.Request.Header.Set("Authorization", "Bearer "+token)
		}
		h(&ctx)
		checkDocumented(t, &ctx)
		return ctx.Response.StatusCode(), withoutUptime(ctx.Response.Body())
	}
	tests := []struct {
		method, uri, token string
		status             int
		body               string
	}{
		{"GET", "/admin/databases", "admin", 200,
			`[{"name":"bad","container_id":"","status":"running","created_at":"2026-11-29T08:00:00Z",` +
				`"damaged":true,"damage":"file is not a database","damaged_since":"2026-11-30T12:00:00Z"},` +
				`{"name":"good","container_id":"","status":"running","created_at":"2026-11-29T08:00:00Z"}]`},
		{"GET", "/health", "", 200, `{"status":"ok","checks":{},"damaged":{"count":1}}`},
		{"GET", "/health", "rw", 200, `{"status":"ok","checks":{},"damaged":{"count":1}}`},
		{"GET", "/health", "nonsense", 200, `{"status":"ok","checks":{},"damaged":{"count":1}}`},
		{"GET", "/health", "admin", 200, `{"status":"ok","checks":{},"damaged":{"count":1,"databases":[` +
			`{"db_name":"bad","damaged":true,"damage":"file is not a database","damaged_since":"2026-11-30T12:00:00Z"}]}}`},
		{"POST", "/admin/databases/bad/integrity-check", "admin", 200,
			`{"db_name":"bad","ok":false,"problems":["file is not a database","*** in database main ***"]}`},
		{"POST", "/admin/databases/good/integrity-check", "admin", 200, `{"db_name":"good","ok":true,"problems":[]}`},
		{"POST", "/admin/databases/bad/integrity-check", "rw", 403, ""},
		{"POST", "/admin/databases/ghost/integrity-check", "admin", 404, ""},
		{"POST", "/admin/databases/a..b/integrity-check", "admin", 400, ""},
		{"GET", "/admin/databases/bad/integrity-check", "admin", 405, ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.uri+" "+tc.token, func(t *testing.T) {
			status, body := call(tc.method, tc.uri, tc.token)
			if status != tc.status || tc.body != "" && body != tc.body {
				t.Fatalf("got %d %s\nwant %d %s", status, body, tc.status, tc.body)
			}
		})
	}

	// Without damage, /health is as it was.
	s = New(Options{Damage: fakeDamage{}}, exclusiveEngine{}, orch, zap.NewNop())
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/health")
	s.Handler()(&ctx)
	if got := withoutUptime(ctx.Response.Body()); got != `{"status":"ok","checks":{}}` {
		t.Fatalf("/health without damage: %s", got)
	}
}

// withoutUptime is a GET /health body without its uptime_s (health_test.go
// checks it), so that a body can be compared whole.
func withoutUptime(b []byte) string {
	return uptimeField.ReplaceAllString(string(b), "")
}

var uptimeField = regexp.MustCompile(`,"uptime_s":\d+`)
