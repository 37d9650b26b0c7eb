package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/praetorian/db-forge/forge"
)

// fakeLeases: database "gone" has run out; "kept" expires in an hour.
type fakeLeases struct{}

func (fakeLeases) Expired(name string) bool { return name == "gone" }
func (fakeLeases) ExpiresAt(name string) (time.Time, bool) {
	if name == "kept" {
		return time.Now().Add(time.Hour), true
	}
	return time.Time{}, false
}

type fakeTrash struct{}

func (fakeTrash) Trashed(context.Context) ([]TrashEntry, error) { return nil, nil }

func TestDecodeLease(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		body     string
		required bool
		ttl      time.Duration
		code     string
	}{
		{"seconds", `{"ttl": 30}`, true, 30 * time.Second, ""},
		{"null removes", `{"ttl": null}`, true, 0, ""},
		{"empty restore body", ``, false, 0, ""},
		{"restore with ttl", `{"ttl": 5}`, false, 5 * time.Second, ""},
		{"missing ttl", `{}`, true, 0, CodeValidation},
		{"empty body", ``, true, 0, CodeValidation},
		{"zero", `{"ttl": 0}`, true, 0, CodeInvalidTTL},
		{"exponent", `{"ttl": 1e3}`, true, 0, CodeInvalidTTL},
		{"huge", `{"ttl": 99999999999999999999}`, true, 0, CodeInvalidTTL},
		{"string", `{"ttl": "5"}`, true, 0, CodeValidation},
		{"unknown field", `{"ttl": 5, "x": 1}`, true, 0, CodeUnknownField},
		{"not json", `{ttl}`, true, 0, CodeInvalidJSON},
		{"array", `[5]`, true, 0, CodeValidation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ttl, err := decodeLease([]byte(tc.body), tc.required)
			code := ""
			if err != nil {
				code = toAPIError(err).code
			}
			if code != tc.code || (err == nil && ttl != tc.ttl) {
				t.Errorf("got %v %q, want %v %q", ttl, code, tc.ttl, tc.code)
			}
		})
	}
}

func TestLeaseGated(t *testing.T) {
	t.Parallel()
	for _, r := range Routes() {
		gated, notFound := leaseGated(r.Pattern)
		switch r.Pattern {
		case "/admin/databases/spawn/{db_name}", "/admin/trash/{db_name}/restore", "/admin/trash", "/", "/health":
			if gated {
				t.Errorf("%s %s is gated", r.Method, r.Pattern)
			}
		case "/api/db/{db_name}/query", "/admin/databases/{db_name}", "/admin/databases/{db_name}/lease",
			"/admin/databases/prune/{db_name}", "/admin/databases/{db_name}/keys":
			if !gated || notFound == nil {
				t.Errorf("%s %s is not gated", r.Method, r.Pattern)
			}
		}
	}
}

// FuzzDecodeLease: the lease body decoder (and the spawn body's ttl)
// never panics; what it takes is a ttl in range, what it refuses is a
// client error.
func FuzzDecodeLease(f *testing.F) {
	for _, s := range []string{`{"ttl": 1}`, `{"ttl": null}`, `{"ttl": 0}`, `{"ttl": -5}`, `{"ttl": 1.0}`,
		`{"ttl": 315360000}`, `{"from": "a", "ttl": 3}`, `{"ttl": [1]}`, `{"ttl": 1, "ttl": 2}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, required := range []bool{true, false} {
			ttl, err := decodeLease(body, required)
			if err != nil {
				if st := toAPIError(err).status; st != 400 && st != 422 {
					t.Fatalf("%q: status %d", body, st)
				}
				continue
			}
			if ttl < 0 || ttl > maxTTL*time.Second || ttl%time.Second != 0 {
				t.Fatalf("%q: ttl %v", body, ttl)
			}
		}
		_, _, _, ttl, err := decodeSpawnBody(body)
		if err == nil && (ttl < 0 || ttl > maxTTL*time.Second) {
			t.Fatalf("spawn %q: ttl %v", body, ttl)
		}
		if err != nil {
			if st := toAPIError(err).status; st != 400 && st != 422 {
				t.Fatalf("spawn %q: status %d", body, st)
			}
		}
	})
}

// TestLeaseGate: a database whose lease ran out answers 404 on every
// route of it, as if deleted (INSTANCE_NOT_FOUND on prune), and is not
// listed; the spawn of its name is not refused by the gate; a gateway
// without leases refuses a spawn's ttl instead of ignoring it.
func TestLeaseGate(t *testing.T) {
	t.Parallel()
	dbs := &fakeDatabases{m: map[string]bool{"gone": true, "kept": true}}
	s := New(Options{Auth: Auth{Databases: dbs, Disabled: true}, Details: fakeDetails{},
		Leases: fakeLeases{}, Trash: fakeTrash{}},
		namedEngine{dbs: map[string]bool{"gone": true, "kept": true}}, listingOrch{fakeOrch{dbs: dbs}}, zap.NewNop())
	h := s.Handler()
	for _, tc := range []struct{ method, uri, body, code string }{
		{"POST", "/api/db/gone/query", `{"sql": "SELECT 1"}`, CodeDatabaseNotFound},
		{"POST", "/api/db/gone/query", `{not json`, CodeDatabaseNotFound},
		{"GET", "/api/db/gone/tables/t/rows", "", CodeDatabaseNotFound},
		{"GET", "/admin/databases/gone", "", CodeDatabaseNotFound},
		{"DELETE", "/admin/databases/gone", "", CodeDatabaseNotFound},
		{"POST", "/admin/databases/gone/lease", `{"ttl": 5}`, CodeDatabaseNotFound},
		{"POST", "/admin/databases/prune/gone", "", CodeInstanceNotFound},
	} {
		rc := serveOnce(h, tc.method, tc.uri, tc.body, "")
		if code, _ := errorCodeOf(rc.Response.Body()); rc.Response.StatusCode() != 404 || code != tc.code {
			t.Errorf("%s %s: %d %s, want 404 %s", tc.method, tc.uri, rc.Response.StatusCode(), rc.Response.Body(), tc.code)
		}
	}
	rc := serveOnce(h, "GET", "/admin/databases", "", "")
	if body := string(rc.Response.Body()); strings.Contains(body, `"gone"`) || !strings.Contains(body, `"kept"`) ||
		!strings.Contains(body, `"expires_at"`) {
		t.Errorf("list: %s", body)
	}
	rc = serveOnce(h, "GET", "/admin/databases/kept", "", "")
	if body := string(rc.Response.Body()); rc.Response.StatusCode() != 200 || strings.Contains(body, `"expires_at":null`) {
		t.Errorf("details of a leased database: %d %s", rc.Response.StatusCode(), body)
	}

	bare := New(Options{Auth: Auth{Databases: dbs, Disabled: true}}, namedEngine{dbs: map[string]bool{}}, fakeOrch{dbs: dbs}, zap.NewNop())
	rc = serveOnce(bare.Handler(), "POST", "/admin/databases/spawn/x", `{"ttl": 5}`, "")
	if code, _ := errorCodeOf(rc.Response.Body()); rc.Response.StatusCode() != 400 || code != CodeInvalidValue {
		t.Errorf("ttl without leases: %d %s", rc.Response.StatusCode(), rc.Response.Body())
	}
	if ok, _ := dbs.Exists("x"); ok {
		t.Error("the refused spawn made its database")
	}
}

// listingOrch is fakeOrch whose List has "gone" and "kept".
type listingOrch struct{ fakeOrch }

func (listingOrch) List(context.Context) ([]forge.Instance, error) {
	return []forge.Instance{{Name: "gone", Status: "running"}, {Name: "kept", Status: "running"}}, nil
}
