package apivalidate

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const doc = `
openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /things/{id}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: string, pattern: "^[a-z]+$"}}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                type: object
                required: [id]
                properties: {id: {type: string}}
                additionalProperties: false
        "404":
          description: none
          content:
            application/json:
              schema:
                type: object
                properties:
                  error:
                    type: object
                    properties: {code: {enum: [THING_NOT_FOUND]}}
`

// TestValidatorCatchesDrift: each way an answer can leave the document is
// an error of the round trip; what the document describes passes.
func TestValidatorCatchesDrift(t *testing.T) {
	v, err := New([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	// The "gateway": answers are given by the test, per path.
	answers := map[string]struct {
		status int
		body   string
	}{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := answers[r.Method+" "+r.URL.Path]
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	defer srv.Close()
	c := &http.Client{Transport: v.Transport(nil)}
	for _, tc := range []struct {
		name, method, path string
		status             int
		body               string
		fails              string // "" = passes
	}{
		{"documented", "GET", "/things/abc", 200, `{"id":"abc"}`, ""},
		{"undocumented field", "GET", "/things/abc", 200, `{"id":"abc","extra":1}`, "not as documented"},
		{"undocumented status", "GET", "/things/abc", 500, `{}`, "not as documented"},
		{"undocumented error code", "GET", "/things/abc", 404, `{"error":{"code":"OTHER"}}`, "not as documented"},
		{"documented error code", "GET", "/things/abc", 404, `{"error":{"code":"THING_NOT_FOUND"}}`, ""},
		{"invalid request accepted", "GET", "/things/ABC", 200, `{"id":"ABC"}`, "calls the request invalid"},
		{"invalid request refused", "GET", "/things/ABC", 404, `{"error":{"code":"THING_NOT_FOUND"}}`, ""},
		{"route not in the document", "GET", "/other", 200, `{}`, "no route in the document"},
		{"method not in the document", "POST", "/things/abc", 200, `{}`, "no route in the document"},
		{"unknown route refused as such", "GET", "/other", 404, `{"error":{"code":"ROUTE_NOT_FOUND"}}`, ""},
		{"unknown method refused as such", "DELETE", "/things/abc", 405, `{"error":{"code":"METHOD_NOT_ALLOWED"}}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answers[tc.method+" "+tc.path] = struct {
				status int
				body   string
			}{tc.status, tc.body}
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			resp, err := c.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			switch {
			case tc.fails == "" && err != nil:
				t.Errorf("want a pass: %v", err)
			case tc.fails != "" && (err == nil || !strings.Contains(err.Error(), tc.fails)):
				t.Errorf("want an error with %q, got %v", tc.fails, err)
			}
		})
	}
	if n := v.Seen()["GET /things/{id} 200"]; n != 1 {
		t.Errorf("Seen counts %d passing GET /things/{id} 200, want 1", n)
	}
}

const bodiesDoc = `
openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /import:
    post:
      requestBody:
        required: true
        content:
          text/csv: {schema: {type: string}}
          application/json: {schema: {type: object, required: [rows]}}
      responses:
        "200": {description: ok, content: {application/json: {schema: {type: object}}}}
  /json:
    post:
      requestBody:
        required: true
        content:
          application/json: {schema: {type: object, required: [rows]}}
      responses:
        "200": {description: ok, content: {application/json: {schema: {type: object}}}}
`

// TestRequestMediaTypes: a body of a media type its operation declares is
// checked as that type; any other body is checked as the JSON the gateway
// reads it as, whatever its Content-Type says.
func TestRequestMediaTypes(t *testing.T) {
	v, err := New([]byte(bodiesDoc))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	c := &http.Client{Transport: v.Transport(nil)}
	for _, tc := range []struct {
		name, path, contentType, body string
		fails                         string
	}{
		{"declared CSV", "/import", "text/csv; charset=utf-8", "a,b\n1,2\n", ""},
		{"JSON to a route that takes CSV too", "/import", "application/json", `{"rows": []}`, ""},
		{"bad JSON to a route that takes CSV too", "/import", "application/json", `{}`, "calls the request invalid"},
		{"CSV where only JSON is declared", "/json", "text/csv", "a,b\n", "calls the request invalid"},
		{"no Content-Type: read as JSON", "/json", "", `{"rows": []}`, ""},
		{"another Content-Type: read as JSON", "/json", "text/plain", `{"rows": []}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", srv.URL+tc.path, strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			} else {
				req.Header.Del("Content-Type")
			}
			resp, err := c.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			switch {
			case tc.fails == "" && err != nil:
				t.Errorf("want a pass: %v", err)
			case tc.fails != "" && (err == nil || !strings.Contains(err.Error(), tc.fails)):
				t.Errorf("want an error with %q, got %v", tc.fails, err)
			}
		})
	}
}
