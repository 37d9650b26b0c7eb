package gateway

import (
	"testing"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

func request(t testing.TB, h fasthttp.RequestHandler, method, uri string, hdr ...string) *fasthttp.Response {
	t.Helper()
	var rc fasthttp.RequestCtx
	rc.Request.Header.SetMethod(method)
	rc.Request.SetRequestURI(uri)
	for i := 0; i+1 < len(hdr); i += 2 {
		rc.Request.Header.Set(hdr[i], hdr[i+1])
	}
	h(&rc)
	checkDocumented(t, &rc)
	var r fasthttp.Response
	rc.Response.CopyTo(&r)
	return &r
}

// TestCORS: preflights and actual answers, for no origins (the default), a
// list and "*"; OPTIONS is 204 with Allow whatever the setting.
func TestCORS(t *testing.T) {
	preflight := []string{"Origin", "https://app.example.com", "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "authorization, content-type"}
	for _, tc := range []struct {
		name    string
		origins []string
		// allowed: the Access-Control-Allow-Origin answered to
		// https://app.example.com ("" = none).
		allowed string
	}{
		{"none", nil, ""},
		{"list", []string{"https://app.example.com", "http://localhost:3000"}, "https://app.example.com"},
		{"list, another origin", []string{"http://localhost:3000"}, ""},
		{"any", []string{"*"}, "*"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := New(Options{CORSOrigins: tc.origins}, exclusiveEngine{}, fakeOrch{dbs: &fakeDatabases{m: map[string]bool{}}}, zap.NewNop()).Handler()

			// A preflight: 204, never a 405, no key needed.
			r := request(t, h, "OPTIONS", "/api/db/a/query", preflight...)
			if r.StatusCode() != 204 || len(r.Body()) != 0 {
				t.Fatalf("preflight: %d %s", r.StatusCode(), r.Body())
			}
			if got := string(r.Header.Peek("Allow")); got != "OPTIONS, POST" {
				t.Errorf("Allow %q", got)
			}
			if got := string(r.Header.Peek("Access-Control-Allow-Origin")); got != tc.allowed {
				t.Errorf("preflight Access-Control-Allow-Origin %q, want %q", got, tc.allowed)
			}
			if len(r.Header.Peek("Access-Control-Allow-Credentials")) != 0 {
				t.Error("credentials allowed")
			}
			methods, headers := string(r.Header.Peek("Access-Control-Allow-Methods")), string(r.Header.Peek("Access-Control-Allow-Headers"))
			if tc.allowed == "" {
				if methods != "" || headers != "" {
					t.Errorf("a refused origin's preflight allows %q %q", methods, headers)
				}
			} else {
				if methods != "OPTIONS, POST" {
					t.Errorf("Access-Control-Allow-Methods %q", methods)
				}
				if headers != corsAllowHeaders {
					t.Errorf("Access-Control-Allow-Headers %q", headers)
				}
			}

			// The actual request: the answer (an error here) carries the
			// origin and the headers a page may read.
			r = request(t, h, "GET", "/admin/databases", "Origin", "https://app.example.com")
			if got := string(r.Header.Peek("Access-Control-Allow-Origin")); got != tc.allowed {
				t.Errorf("answer's Access-Control-Allow-Origin %q, want %q", got, tc.allowed)
			}
			expose := string(r.Header.Peek("Access-Control-Expose-Headers"))
			if (tc.allowed != "") != (expose == corsExposeHeaders) {
				t.Errorf("Access-Control-Expose-Headers %q", expose)
			}
			// Without an Origin (not a browser's cross-origin call):
			// nothing of CORS.
			r = request(t, h, "GET", "/")
			if len(r.Header.Peek("Access-Control-Allow-Origin")) != 0 {
				t.Errorf("CORS headers without Origin")
			}
			// OPTIONS on a path that is no route: 404, as any method.
			r = request(t, h, "OPTIONS", "/no/such/route", preflight...)
			if code, _ := errorCodeOf(r.Body()); r.StatusCode() != 404 || code != CodeRouteNotFound {
				t.Errorf("OPTIONS of no route: %d %s", r.StatusCode(), r.Body())
			}
			// A plain OPTIONS (no preflight) is 204 with Allow.
			r = request(t, h, "OPTIONS", "/admin/databases/a")
			if r.StatusCode() != 204 || string(r.Header.Peek("Allow")) != "DELETE, OPTIONS" {
				t.Errorf("OPTIONS: %d Allow %q", r.StatusCode(), r.Header.Peek("Allow"))
			}
		})
	}
}

func TestCORSPolicy(t *testing.T) {
	if newCORSPolicy(nil) != nil || newCORSPolicy([]string{"", " "}) != nil {
		t.Error("no origins must be no policy")
	}
	p := newCORSPolicy([]string{"https://a.example/", "http://b:8080"})
	for origin, want := range map[string]string{
		"https://a.example": "https://a.example", "http://b:8080": "http://b:8080",
		"http://a.example": "", "https://a.example.evil": "", "null": "", "": "",
	} {
		if got := p.allow([]byte(origin)); got != want {
			t.Errorf("%q: %q, want %q", origin, got, want)
		}
	}
}
