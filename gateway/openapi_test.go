package gateway

import (
	"net/http"
	"os"
	"sync"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/apidoc/apivalidate"
)

// The handler tests hold their exchanges against the OpenAPI document too.
// Package apidoc builds it from this package's route table, so it cannot
// be imported here (a cycle); its test keeps the built document in
// apidoc/testdata/openapi.json (go test ./apidoc -update rewrites it),
// and that file is what these tests read.

var documentValidator = sync.OnceValues(func() (*apivalidate.Validator, error) {
	b, err := os.ReadFile("../apidoc/testdata/openapi.json")
	if err != nil {
		return nil, err
	}
	return apivalidate.New(b)
})

// checkDocumented holds the exchange of rc (served, its body read whole:
// call it after Response.Body) against the document: the route, the
// status, the content type, the body, the error code.
func checkDocumented(t testing.TB, rc *fasthttp.RequestCtx) {
	t.Helper()
	v, err := documentValidator()
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(string(rc.Method()), "http://gateway"+string(rc.RequestURI()), nil)
	if err != nil {
		t.Fatal(err)
	}
	rc.Request.Header.VisitAll(func(k, v []byte) { req.Header.Add(string(k), string(v)) })
	hdr := http.Header{}
	rc.Response.Header.VisitAll(func(k, v []byte) { hdr.Add(string(k), string(v)) })
	if ct := rc.Response.Header.ContentType(); len(ct) > 0 {
		hdr.Set("Content-Type", string(ct))
	}
	if err := v.Check(req, rc.Request.Body(), rc.Response.StatusCode(), hdr, rc.Response.Body()); err != nil {
		t.Errorf("OpenAPI: %s %s → %d: %v\nanswer: %.400s", rc.Method(), rc.RequestURI(), rc.Response.StatusCode(), err, rc.Response.Body())
	}
}
