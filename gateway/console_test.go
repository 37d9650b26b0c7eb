package gateway

import (
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// fakeConsole has every name: a page of its name.
type fakeConsole struct{}

func (fakeConsole) ConsoleFile(name string) (ConsoleFile, bool) {
	if name == "missing.js" {
		return ConsoleFile{}, false
	}
	return ConsoleFile{Body: []byte("plain " + name), Gzip: []byte("gzip " + name), ContentType: "text/plain", ETag: `"t1"`}, true
}

// TestConsoleAnswers: the console's answers carry its security headers
// (errors included), gzip when accepted, 304 for a current copy.
func TestConsoleAnswers(t *testing.T) {
	s := New(Options{Console: fakeConsole{}}, namedEngine{dbs: map[string]bool{}}, fakeOrch{dbs: &fakeDatabases{m: map[string]bool{}}}, zap.NewNop())
	h := s.routes().Handler
	get := func(uri string, headers ...string) *fasthttp.Response {
		var rc fasthttp.RequestCtx
		rc.Request.Header.SetMethod("GET")
		rc.Request.SetRequestURI(uri)
		for i := 0; i+1 < len(headers); i += 2 {
			rc.Request.Header.Set(headers[i], headers[i+1])
		}
		h(&rc)
		var r fasthttp.Response
		rc.Response.CopyTo(&r)
		return &r
	}
	cases := []struct {
		name, uri string
		headers   []string
		status    int
		body, tag string
	}{
		{"page", "/console", nil, 200, "plain ", `"t1"`},
		{"file", "/console/app.js", nil, 200, "plain app.js", `"t1"`},
		{"gzip", "/console/app.js", []string{"Accept-Encoding", "gzip, br"}, 200, "gzip app.js", `"t1-gz"`},
		{"current", "/console/app.js", []string{"If-None-Match", `"t1"`}, 304, "", `"t1"`},
		{"current gzip", "/console/app.js", []string{"If-None-Match", `"t1-gz"`, "Accept-Encoding", "gzip"}, 304, "", `"t1-gz"`},
		{"stale", "/console/app.js", []string{"If-None-Match", `"t0"`}, 200, "plain app.js", `"t1"`},
		{"missing", "/console/missing.js", nil, 404, `"ROUTE_NOT_FOUND"`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := get(c.uri, c.headers...)
			if r.StatusCode() != c.status || !strings.Contains(string(r.Body()), c.body) {
				t.Errorf("%d %q, want %d %q", r.StatusCode(), r.Body(), c.status, c.body)
			}
			if got := string(r.Header.Peek("ETag")); got != c.tag {
				t.Errorf("ETag %s, want %s", got, c.tag)
			}
			for _, h := range consoleHeaders {
				if got := string(r.Header.Peek(h[0])); got != h[1] {
					t.Errorf("%s: %q, want %q", h[0], got, h[1])
				}
			}
		})
	}
}
