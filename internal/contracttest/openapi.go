package contracttest

import (
	"crypto/sha256"
	"io"
	"net/http"
	"strings"
	"sync"
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
	sum := sha256.Sum256(doc)
	validators.Lock()
	defer validators.Unlock()
	if v, ok := validators.m[sum]; ok {
		return v
	}
	v, err := apivalidate.New(doc)
	if err != nil {
		t.Fatalf("GET /openapi.json: %v", err)
	}
	validators.m[sum] = v
	return v
}

// validators are the documents loaded so far, by their digest: every
// gateway a test process starts serves the same document, and loading it
// once keeps the process's heap (and so the memory tests' figures) as it
// was.
var validators = struct {
	sync.Mutex
	m map[[32]byte]*apivalidate.Validator
}{m: map[[32]byte]*apivalidate.Validator{}}

// Unexercised lists the routes (as "METHOD pattern") that no exchange
// checked by this process's validators reached with a documented answer.
func Unexercised(routes []string) []string {
	validators.Lock()
	defer validators.Unlock()
	seen := map[string]bool{}
	for _, v := range validators.m {
		for k := range v.Seen() {
			// "METHOD pattern STATUS"
			if i := strings.LastIndexByte(k, ' '); i > 0 {
				seen[k[:i]] = true
			}
		}
	}
	var out []string
	for _, r := range routes {
		if !seen[r] {
			out = append(out, r)
		}
	}
	return out
}
