package contracttest

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/praetorian/db-forge/apidoc/apivalidate"
)

// ValidatingHTTP is an HTTP client for the gateway at base that holds
// every exchange against the gateway's own OpenAPI document (GET
// /openapi.json, package apidoc/apivalidate): a request the document
// does not describe that the gateway still answers as a route, or an
// answer (status, content type, body, error code) the document does not
// describe, fails the request, and so the test. The document is fetched
// once, with the validator it makes.
func ValidatingHTTP(t testing.TB, base string) *http.Client {
	t.Helper()
	v := DocumentValidator(t, base)
	return &http.Client{Timeout: 60 * time.Second, Transport: v.Transport(nil)}
}

// DocumentValidator fetches and loads the gateway's OpenAPI document.
func DocumentValidator(t testing.TB, base string) *apivalidate.Validator {
	t.Helper()
	// Its own connection, closed after: an idle one would hold a
	// gateway's drain open (FORGE_SHUTDOWN_DRAIN).
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Get(base + "/openapi.json")
	if err != nil {
		t.Fatalf("GET /openapi.json: %v", err)
	}
	defer resp.Body.Close()
	doc, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d %v %.300s", resp.StatusCode, err, doc)
	}
	v, err := apivalidate.New(doc)
	if err != nil {
		t.Fatalf("GET /openapi.json: %v", err)
	}
	return v
}
