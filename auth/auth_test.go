package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
)

func TestAuthorize(t *testing.T) {
	t.Parallel()
	admin := Key{ID: AdminKeyID, Scope: ScopeAdmin}
	storedAdmin := Key{ID: "key_000000000001", DB: "", Scope: ScopeAdmin}
	rw := Key{ID: "key_000000000002", DB: "a", Scope: ScopeReadWrite}
	ro := Key{ID: "key_000000000003", DB: "a", Scope: ScopeReadOnly}
	var (
		adminRoute = Access{Admin: true}
		readA      = Access{DB: "a"}
		writeA     = Access{DB: "a", Write: true}
		readB      = Access{DB: "b"}
		writeB     = Access{DB: "b", Write: true}
		readCaseA  = Access{DB: "A"}
		noDB       = Access{}
	)
	tests := []struct {
		name string
		key  Key
		acc  Access
		want error // nil, or the exact sentinel
	}{
		{"admin on admin route", admin, adminRoute, nil},
		{"admin reads a", admin, readA, nil},
		{"admin writes a", admin, writeA, nil},
		{"admin reads b", admin, readB, nil},
		{"admin writes b", admin, writeB, nil},
		{"stored admin key writes b", storedAdmin, writeB, nil},
		{"stored admin key on admin route", storedAdmin, adminRoute, nil},

		{"rw reads own", rw, readA, nil},
		{"rw writes own", rw, writeA, nil},
		{"rw reads other", rw, readB, ErrOtherDatabase},
		{"rw writes other", rw, writeB, ErrOtherDatabase},
		{"rw on admin route", rw, adminRoute, ErrAdminOnly},
		{"rw on name differing by case", rw, readCaseA, ErrOtherDatabase},
		{"rw with no database", rw, noDB, ErrOtherDatabase},

		{"ro reads own", ro, readA, nil},
		{"ro writes own", ro, writeA, ErrReadOnly},
		{"ro reads other", ro, readB, ErrOtherDatabase},
		{"ro writes other", ro, writeB, ErrOtherDatabase},
		{"ro on admin route", ro, adminRoute, ErrAdminOnly},

		{"zero key reads", Key{}, readA, ErrForbidden},
		{"zero key on admin route", Key{}, adminRoute, ErrForbidden},
		{"unknown scope", Key{DB: "a", Scope: "owner"}, readA, ErrForbidden},
		{"admin scope bound to a database is not admin", Key{DB: "a", Scope: ScopeAdmin}, adminRoute, ErrForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Authorize(tc.key, tc.acc)
			if err != tc.want {
				t.Fatalf("Authorize(%v, %+v) = %v, want %v", tc.key, tc.acc, err, tc.want)
			}
			if err != nil && !errors.Is(err, ErrForbidden) {
				t.Fatalf("%v does not wrap ErrForbidden", err)
			}
			if errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("%v wraps ErrUnauthenticated: a valid key must get 403, not 401", err)
			}
		})
	}
}

func TestCanWrite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		scope Scope
		want  bool
	}{
		{ScopeAdmin, true},
		{ScopeReadWrite, true},
		{ScopeReadOnly, false},
		{"", false},
		{"READ-WRITE", false},
	}
	for _, tc := range tests {
		t.Run(string(tc.scope), func(t *testing.T) {
			t.Parallel()
			if got := CanWrite(Key{DB: "a", Scope: tc.scope}); got != tc.want {
				t.Fatalf("CanWrite(%q) = %v, want %v", tc.scope, got, tc.want)
			}
		})
	}
}

func TestParseScope(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"read-only", "read-write", "admin"} {
		if got, err := ParseScope(s); err != nil || string(got) != s {
			t.Errorf("ParseScope(%q) = %q, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "readonly", "Read-Only", "write", "admin ", "read_write"} {
		if _, err := ParseScope(s); !errors.Is(err, ErrInvalidScope) {
			t.Errorf("ParseScope(%q) = %v, want ErrInvalidScope", s, err)
		}
	}
}

func TestErrorsClassify(t *testing.T) {
	t.Parallel()
	for _, err := range []error{ErrNoKey, ErrMalformedKey, ErrUnknownKey, ErrRevoked, ErrExpired} {
		if !errors.Is(err, ErrUnauthenticated) || errors.Is(err, ErrForbidden) {
			t.Errorf("%v: want 401 class only", err)
		}
	}
	for _, err := range []error{ErrAdminOnly, ErrOtherDatabase, ErrReadOnly} {
		if !errors.Is(err, ErrForbidden) || errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%v: want 403 class only", err)
		}
	}
	for _, err := range []error{ErrKeyNotFound, ErrInvalidScope, ErrInvalidExpiry, ErrRateLimited, ErrWeakAdminKey} {
		if errors.Is(err, ErrForbidden) || errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%v: must be neither 401 nor 403", err)
		}
	}
}

func TestCredential(t *testing.T) {
	t.Parallel()
	const tok = "dbf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcd"
	tests := []struct {
		name    string
		authz   string
		apiKey  string
		want    string
		wantErr error
	}{
		{"bearer", "Bearer " + tok, "", tok, nil},
		{"bearer lower case", "bearer " + tok, "", tok, nil},
		{"bearer upper case", "BEARER " + tok, "", tok, nil},
		{"bearer several spaces", "Bearer   " + tok, "", tok, nil},
		{"bearer tab", "Bearer\t" + tok, "", tok, nil},
		{"bearer surrounding space", "  Bearer " + tok + "  ", "", tok, nil},
		{"x-api-key", "", tok, tok, nil},
		{"x-api-key surrounding space", "", " " + tok + " ", tok, nil},
		{"both the same", "Bearer " + tok, tok, tok, nil},
		{"basic beside x-api-key", "Basic dXNlcjpwYXNz", tok, tok, nil},
		{"admin key of a person", "Bearer 0123456789abcdef0123456789abcdef", "", "0123456789abcdef0123456789abcdef", nil},

		{"none", "", "", "", ErrNoKey},
		{"only spaces", "   ", " ", "", ErrNoKey},
		{"both differ", "Bearer " + tok, tok + "x", "", ErrMalformedKey},
		{"basic alone", "Basic dXNlcjpwYXNz", "", "", ErrMalformedKey},
		{"bearer without token", "Bearer", "", "", ErrMalformedKey},
		{"bearer without space", "Bearer" + tok, "", "", ErrMalformedKey},
		{"bearer only spaces", "Bearer    ", "", "", ErrMalformedKey},
		{"token with space", "Bearer " + tok + " extra", "", "", ErrMalformedKey},
		{"bare token in authorization", tok, "", "", ErrMalformedKey},
		{"x-api-key with space", "", "a b", "", ErrMalformedKey},
		{"x-api-key with control", "", "a\x01b", "", ErrMalformedKey},
		{"x-api-key non ascii", "", "ké", "", ErrMalformedKey},
		{"bearer non ascii", "Bearer ké", "", "", ErrMalformedKey},
		{"x-api-key bearer form", "", "Bearer " + tok, "", ErrMalformedKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var authz, apiKey []byte
			if tc.authz != "" {
				authz = []byte(tc.authz)
			}
			if tc.apiKey != "" {
				apiKey = []byte(tc.apiKey)
			}
			got, err := Credential(authz, apiKey)
			if err != tc.wantErr {
				t.Fatalf("Credential(%q, %q) error = %v, want %v", tc.authz, tc.apiKey, err, tc.wantErr)
			}
			if string(got) != tc.want {
				t.Fatalf("Credential(%q, %q) = %q, want %q", tc.authz, tc.apiKey, got, tc.want)
			}
		})
	}
}

func FuzzCredential(f *testing.F) {
	for _, s := range [][2]string{
		{"Bearer dbf_x", ""}, {"", "dbf_x"}, {"bearer  a", "a"}, {"Basic x", "y"}, {"Bearer", ""},
		{"Bearer a b", ""}, {"", ""}, {"\tBearer\ta\t", ""}, {"Bearer \x00", ""}, {"Bearerx", "x"},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, authz, apiKey []byte) {
		tok, err := Credential(authz, apiKey)
		if err != nil {
			if !errors.Is(err, ErrUnauthenticated) || tok != nil {
				t.Fatalf("Credential(%q, %q) = %q, %v", authz, apiKey, tok, err)
			}
			return
		}
		if !plainToken(tok) {
			t.Fatalf("Credential(%q, %q) = %q: not a plain token", authz, apiKey, tok)
		}
		if !bytes.Contains(authz, tok) && !bytes.Contains(apiKey, tok) {
			t.Fatalf("Credential(%q, %q) = %q: not from the headers", authz, apiKey, tok)
		}
	})
}

// TestSecretNeverPrinted: a Secret shows "[redacted]" through fmt with
// every verb, JSON, text encoders and slog.
func TestSecretNeverPrinted(t *testing.T) {
	t.Parallel()
	const value = "dbf_sekritSEKRITsekritSEKRITsekritSEKRIT123"
	s := newSecret(value)
	outs := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s", "%T", "%p", "%U"} {
		outs["fmt "+verb] = fmt.Sprintf(verb, s)
	}
	outs["Sprint"] = fmt.Sprint(s)
	outs["Sprintln"] = fmt.Sprintln(s, &s)
	outs["in struct %+v"] = fmt.Sprintf("%+v", struct{ T Secret }{s})
	outs["in struct %#v"] = fmt.Sprintf("%#v", struct{ T Secret }{s})
	outs["unexported field %+v"] = fmt.Sprintf("%+v", struct{ t Secret }{s})
	outs["unexported field %#v"] = fmt.Sprintf("%#v", struct{ t Secret }{s})
	outs["pointer %v"] = fmt.Sprintf("%v %+v", &s, &struct{ t Secret }{s})
	outs["error wrap"] = fmt.Errorf("token %v: %w", s, errors.New("x")).Error()
	j, err := json.Marshal(map[string]any{"token": s, "ptr": &s, "list": []Secret{s}})
	if err != nil {
		t.Fatal(err)
	}
	outs["json"] = string(j)
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("minted", "token", s)
	outs["slog"] = logged.String()
	for how, out := range outs {
		if strings.Contains(out, value) || strings.Contains(out, fmt.Sprintf("%x", value)) ||
			strings.Contains(strings.ToLower(out), "sekrit") {
			t.Errorf("%s leaks the secret: %s", how, out)
		}
	}
	if s.Reveal() != value {
		t.Fatalf("Reveal() = %q", s.Reveal())
	}
}

func TestKeyFormats(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 11, 27, 8, 35, 55, 0, time.UTC)
	tests := []struct {
		name     string
		key      Key
		str      string
		jsonText string
	}{
		{
			name: "read-write with expiry",
			key: Key{ID: "key_0123456789ab", Prefix: "dbf_AbCdEfGh", DB: "agent1", Scope: ScopeReadWrite,
				CreatedAt: created, ExpiresAt: created.Add(time.Hour)},
			str: `key_0123456789ab (read-write on "agent1", dbf_AbCdEfGh…)`,
			jsonText: `{"id":"key_0123456789ab","prefix":"dbf_AbCdEfGh","db_name":"agent1","scope":"read-write",` +
				`"created_at":"2026-11-27T08:35:55Z","expires_at":"2026-11-27T09:35:55Z","revoked":false,"revoked_at":null}`,
		},
		{
			name: "revoked read-only",
			key: Key{ID: "key_0123456789ab", Prefix: "dbf_AbCdEfGh", DB: "a", Scope: ScopeReadOnly,
				CreatedAt: created, RevokedAt: created.Add(time.Minute)},
			str: `key_0123456789ab (read-only on "a", dbf_AbCdEfGh…, revoked)`,
			jsonText: `{"id":"key_0123456789ab","prefix":"dbf_AbCdEfGh","db_name":"a","scope":"read-only",` +
				`"created_at":"2026-11-27T08:35:55Z","expires_at":null,"revoked":true,"revoked_at":"2026-11-27T08:36:55Z"}`,
		},
		{
			name: "admin",
			key:  Key{ID: AdminKeyID, Scope: ScopeAdmin},
			str:  `admin (admin on every database)`,
			jsonText: `{"id":"admin","prefix":"","db_name":"","scope":"admin",` +
				`"created_at":null,"expires_at":null,"revoked":false,"revoked_at":null}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.key.String(); got != tc.str {
				t.Errorf("String() = %s\nwant       %s", got, tc.str)
			}
			if got := fmt.Sprintf("%v", tc.key); got != tc.str {
				t.Errorf("%%v = %s, want String()", got)
			}
			b, err := json.Marshal(tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.jsonText {
				t.Errorf("JSON = %s\nwant   %s", b, tc.jsonText)
			}
			if !json.Valid(b) {
				t.Errorf("invalid JSON %s", b)
			}
			if gs := fmt.Sprintf("%#v", tc.key); !strings.HasPrefix(gs, "auth.Key{ID:") {
				t.Errorf("%%#v = %s", gs)
			}
		})
	}
}

// TestValidDB: keys are bound to valid database names, admin keys to "".
func TestValidDB(t *testing.T) {
	t.Parallel()
	tests := []struct {
		db    string
		scope Scope
		want  error
	}{
		{"a", ScopeReadOnly, nil},
		{"agent-1.v2", ScopeReadWrite, nil},
		{"", ScopeAdmin, nil},
		{"a", ScopeAdmin, ErrInvalidScope},
		{"", ScopeReadOnly, ErrInvalidScope},
		{"../etc", ScopeReadWrite, forge.ErrInvalidName},
		{".forge", ScopeReadWrite, forge.ErrInvalidName},
		{"x-wal", ScopeReadOnly, forge.ErrInvalidName},
	}
	for _, tc := range tests {
		t.Run(tc.db+"/"+string(tc.scope), func(t *testing.T) {
			t.Parallel()
			err := validDB(tc.db, tc.scope)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("validDB(%q, %s) = %v, want %v", tc.db, tc.scope, err, tc.want)
			}
		})
	}
}

func TestTokenShape(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		s, err := newToken()
		if err != nil {
			t.Fatal(err)
		}
		tok := s.Reveal()
		if !tokenPattern.MatchString(tok) {
			t.Fatalf("token %q does not match %s", tok, tokenPattern)
		}
		if seen[tok] {
			t.Fatalf("token %q twice", tok)
		}
		seen[tok] = true
		if p := displayPrefix(tok); p != tok[:12] {
			t.Fatalf("displayPrefix = %q, want %q", p, tok[:12])
		}
		id, err := newKeyID()
		if err != nil {
			t.Fatal(err)
		}
		if !idPattern.MatchString(id) {
			t.Fatalf("id %q does not match %s", id, idPattern)
		}
	}
	if p := displayPrefix(strings.Repeat("z", 40)); p != "" {
		t.Fatalf("displayPrefix of a foreign token = %q, want none", p)
	}
	if p := displayPrefix("dbf_short"); p != "" {
		t.Fatalf("displayPrefix of a short token = %q, want none", p)
	}
}

func TestCheckAdminToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tok  string
		ok   bool
	}{
		{"minted", "dbf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcd", true},
		{"hex 32", strings.Repeat("0a", 16), true},
		{"max length", strings.Repeat("k", MaxTokenLength), true},
		{"too short", strings.Repeat("k", MinAdminKeyLength-1), false},
		{"changeme", "changeme", false},
		{"too long", strings.Repeat("k", MaxTokenLength+1), false},
		{"space", strings.Repeat("k", 20) + " " + strings.Repeat("k", 20), false},
		{"newline", strings.Repeat("k", 40) + "\n", false},
		{"non ascii", strings.Repeat("é", 20), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := checkAdminToken(tc.tok)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrWeakAdminKey)) {
				t.Fatalf("checkAdminToken = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && strings.Contains(err.Error(), tc.tok) {
				t.Fatalf("error %q repeats the key", err)
			}
		})
	}
}
