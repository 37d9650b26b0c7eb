// Package apivalidate checks HTTP exchanges against DB-Forge's OpenAPI
// document with github.com/getkin/kin-openapi (openapi3filter, which
// validates OpenAPI 3.1 documents with JSON Schema 2020-12). Tests put
// its Transport under their HTTP client, so that every request they make
// and every answer they get is held against the document: a route, a
// status, a field or an error code the document does not describe fails
// the request with an error, and so the test.
//
// The rules, for hostile tests too:
//   - a request to a path or method the document does not have must be
//     answered 404 ROUTE_NOT_FOUND or 405 METHOD_NOT_ALLOWED (or be an
//     OPTIONS, answered 204 or 404);
//   - a request the document calls invalid (a bad name, a wrong body)
//     must be refused with a 4xx: the gateway may be stricter than the
//     document, never looser;
//   - every answer of a documented route must be documented: its status
//     (IncludeResponseStatus), its content type and its body's schema,
//     an error's code among the codes the document lists for that status.
//
// Authentication is not judged here (the auth matrix tests it): the
// document's security schemes are accepted as given.
package apivalidate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// Validator holds a loaded document.
type Validator struct {
	doc    *openapi3.T
	router routers.Router

	mu   sync.Mutex
	seen map[string]int // "METHOD pattern STATUS": answers checked
}

var registerDecoders sync.Once

// New loads and validates the document (JSON or YAML).
func New(document []byte) (*Validator, error) {
	registerDecoders.Do(func() {
		// The result formats the query and rows routes answer in: text,
		// checked as strings.
		for _, ct := range []string{"application/x-ndjson", "text/markdown", "text/html", "text/csv", "application/sql", "application/vnd.sqlite3"} {
			openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
		}
	})
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(document)
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is invalid: %w", err)
	}
	r, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &Validator{doc: doc, router: r, seen: map[string]int{}}, nil
}

// Seen is how many answers were checked, by "METHOD pattern STATUS".
func (v *Validator) Seen() map[string]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]int, len(v.seen))
	for k, n := range v.seen {
		out[k] = n
	}
	return out
}

// Transport wraps next (nil: http.DefaultTransport) so that each exchange
// is checked; a mismatch is the round trip's error.
func (v *Validator) Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripper{v: v, next: next}
}

type roundTripper struct {
	v    *Validator
	next http.RoundTripper
}

func (t roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	respBody, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	if err := t.v.Check(req, body, resp.StatusCode, resp.Header, respBody); err != nil {
		return nil, fmt.Errorf("OpenAPI: %s %s → %d: %w\nanswer: %.600s", req.Method, req.URL.RequestURI(), resp.StatusCode, err, respBody)
	}
	return resp, nil
}

// Check holds one exchange against the document.
func (v *Validator) Check(req *http.Request, reqBody []byte, status int, header http.Header, respBody []byte) error {
	// The router matches on a copy with the request's body.
	r := req.Clone(context.Background())
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, pathParams, err := v.router.FindRoute(r)
	if err != nil {
		return unrouted(req, err, status, respBody)
	}
	if len(reqBody) > 0 && !declaresMedia(route, req.Header.Get("Content-Type")) {
		// The gateway reads a body as JSON whatever its Content-Type
		// says (the seed's clients send none, or another), unless the
		// route takes that media type (an import's CSV or SQL, a spawn's
		// file): the document describes the JSON.
		r.Header.Set("Content-Type", "application/json")
	}
	ctx := context.Background()
	opts := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
		MultiError:            false,
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: pathParams, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		if status < 400 || status >= 500 {
			return fmt.Errorf("the document calls the request invalid (%v), and the gateway accepted it", err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: header,
		Body: io.NopCloser(bytes.NewReader(respBody)), Options: opts,
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("the answer is not as documented: %w", err)
	}
	v.mu.Lock()
	v.seen[fmt.Sprintf("%s %s %d", req.Method, route.Path, status)]++
	v.mu.Unlock()
	return nil
}

// declaresMedia tells whether the route's request body declares the media
// type of contentType (its parameters aside), other than JSON.
func declaresMedia(route *routers.Route, contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt == "application/json" || route.Operation == nil || route.Operation.RequestBody == nil ||
		route.Operation.RequestBody.Value == nil {
		return false
	}
	return route.Operation.RequestBody.Value.Content.Get(mt) != nil
}

// unrouted judges the answer to a request the document has no route for.
func unrouted(req *http.Request, err error, status int, body []byte) error {
	if req.Method == http.MethodOptions && (status == http.StatusNoContent || status == http.StatusNotFound) {
		return nil
	}
	// A percent-encoded path (enc%2Fdb) matches no pattern of the
	// document once decoded; the gateway refuses such names.
	if req.URL.RawPath != "" && status >= 400 && status < 500 {
		return nil
	}
	var routeErr *routers.RouteError
	if !errors.As(err, &routeErr) {
		return err
	}
	want := map[int]string{http.StatusNotFound: "ROUTE_NOT_FOUND", http.StatusMethodNotAllowed: "METHOD_NOT_ALLOWED"}
	if code, ok := want[status]; ok && errorCode(body) == code {
		return nil
	}
	// A route the document lacks, answered as a route.
	return fmt.Errorf("no route in the document (%v), yet the gateway answered %d %s", err, status, strings.TrimSpace(errorCode(body)))
}

func errorCode(body []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error.Code
}
