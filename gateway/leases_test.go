package gateway

import (
	"context"
	"testing"
	"time"
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
