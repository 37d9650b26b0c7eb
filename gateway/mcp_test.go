package gateway

import (
	"testing"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/praetorian/db-forge/auth"
)

// fakeMCP answers with the caller it was told.
type fakeMCP struct{ got *MCPCaller }

func (f fakeMCP) ServeMCP(rc *fasthttp.RequestCtx, c MCPCaller) {
	if f.got != nil {
		*f.got = c
	}
	rc.SetStatusCode(200)
}

// TestMCPCaller: POST /mcp opens to any valid key and tells the MCP port
// its rights; without authentication every caller is the admin.
func TestMCPCaller(t *testing.T) {
	keys := fakeKeys{byToken: map[string]auth.Key{
		"admin": {ID: "admin", Scope: auth.ScopeAdmin},
		"rw-d":  {ID: "k1", DB: "d", Scope: auth.ScopeReadWrite},
		"ro-d":  {ID: "k2", DB: "d", Scope: auth.ScopeReadOnly},
	}}
	cases := []struct {
		name string
		auth Auth
		tok  string
		want MCPCaller
		code int
	}{
		{"admin", Auth{Keys: keys}, "admin", MCPCaller{Admin: true, Write: true}, 200},
		{"read-write", Auth{Keys: keys}, "rw-d", MCPCaller{DB: "d", Write: true}, 200},
		{"read-only", Auth{Keys: keys}, "ro-d", MCPCaller{DB: "d"}, 200},
		{"no key", Auth{Keys: keys}, "", MCPCaller{}, 401},
		{"auth disabled", Auth{Keys: keys, Disabled: true}, "", MCPCaller{Admin: true, Write: true}, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got MCPCaller
			s := New(Options{Auth: c.auth, MCP: fakeMCP{got: &got}}, namedEngine{dbs: map[string]bool{}}, fakeOrch{}, zap.NewNop())
			var rc fasthttp.RequestCtx
			rc.Request.Header.SetMethod("POST")
			rc.Request.SetRequestURI("/mcp")
			if c.tok != "" {
				rc.Request.Header.Set("Authorization", "Bearer "+c.tok)
			}
			s.Handler()(&rc)
			if rc.Response.StatusCode() != c.code || got != c.want {
				t.Errorf("%d %+v, want %d %+v (%s)", rc.Response.StatusCode(), got, c.code, c.want, rc.Response.Body())
			}
		})
	}
}
