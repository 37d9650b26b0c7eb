package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
)

var (
	tokenPattern = regexp.MustCompile(`^dbf_[A-Za-z0-9_-]{43}$`)
	idPattern    = regexp.MustCompile(`^key_[0-9a-f]{12}$`)
)

func TestCreateVerify(t *testing.T) {
	t.Parallel()
	k, _, clk := newKeys(t, Options{})
	tests := []struct {
		name      string
		db        string
		scope     Scope
		expiresIn time.Duration
	}{
		{"read-only", "a", ScopeReadOnly, 0},
		{"read-write", "a", ScopeReadWrite, 0},
		{"read-write other db", "b", ScopeReadWrite, 0},
		{"expiring", "a", ScopeReadOnly, 90 * time.Second},
		{"sub-millisecond expiry rounds down", "a", ScopeReadOnly, 1500 * time.Microsecond},
		{"stored admin key", "", ScopeAdmin, 0},
	}
	for _, tc := range tests { // sequential: they share k and the clock
		t.Run(tc.name, func(t *testing.T) {
			key, tok := mustCreate(t, k, tc.db, tc.scope, tc.expiresIn)
			if !tokenPattern.MatchString(tok.Reveal()) {
				t.Errorf("token %q does not match %s", tok.Reveal(), tokenPattern)
			}
			if !idPattern.MatchString(key.ID) {
				t.Errorf("id %q does not match %s", key.ID, idPattern)
			}
			if key.Prefix != tok.Reveal()[:12] {
				t.Errorf("prefix %q, want %q", key.Prefix, tok.Reveal()[:12])
			}
			now := clk.Now().Truncate(time.Millisecond)
			if key.DB != tc.db || key.Scope != tc.scope || !key.CreatedAt.Equal(now) || key.Revoked() {
				t.Errorf("key = %#v", key)
			}
			if key.CreatedAt.Location() != time.UTC {
				t.Errorf("created_at in %v, want UTC", key.CreatedAt.Location())
			}
			wantExp := time.Time{}
			if tc.expiresIn > 0 {
				wantExp = now.Add(tc.expiresIn).Truncate(time.Millisecond)
			}
			if !key.ExpiresAt.Equal(wantExp) {
				t.Errorf("expires_at = %v, want %v", key.ExpiresAt, wantExp)
			}
			got, err := k.Verify(tok.Reveal())
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !reflect.DeepEqual(got, key) {
				t.Errorf("Verify = %#v\nwant     %#v", got, key)
			}
			if got, err := k.VerifyBytes([]byte(tok.Reveal())); err != nil || !reflect.DeepEqual(got, key) {
				t.Errorf("VerifyBytes = %#v, %v", got, err)
			}
			clk.Advance(time.Millisecond)
		})
	}
}

func TestCreateRefuses(t *testing.T) {
	t.Parallel()
	k, _, _ := newKeys(t, Options{})
	tests := []struct {
		name      string
		db        string
		scope     Scope
		expiresIn time.Duration
		want      error
	}{
		{"unknown scope", "a", "owner", 0, ErrInvalidScope},
		{"empty scope", "a", "", 0, ErrInvalidScope},
		{"admin scope on a database", "a", ScopeAdmin, 0, ErrInvalidScope},
		{"read-write on every database", "", ScopeReadWrite, 0, ErrInvalidScope},
		{"read-only on every database", "", ScopeReadOnly, 0, ErrInvalidScope},
		{"bad name", "../a", ScopeReadOnly, 0, forge.ErrInvalidName},
		{"reserved name", ".forge", ScopeReadOnly, 0, forge.ErrInvalidName},
		{"negative expiry", "a", ScopeReadOnly, -time.Second, ErrInvalidExpiry},
		{"expiry past a century", "a", ScopeReadOnly, 101 * 365 * 24 * time.Hour, ErrInvalidExpiry},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, tok, err := k.Create(context.Background(), tc.db, tc.scope, tc.expiresIn)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Create = %v, want %v", err, tc.want)
			}
			if !tok.IsZero() || key != (Key{}) {
				t.Fatalf("Create returned %v / a token with an error", key)
			}
		})
	}
	if n := len(k.List("a")) + len(k.List("")); n != 0 {
		t.Fatalf("%d keys stored after refusals", n)
	}
}

func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	k, _, clk := newKeys(t, Options{})
	ctx := context.Background()
	_, revokedTok := mustCreate(t, k, "a", ScopeReadWrite, 0)
	revoked := k.List("a")[0]
	if err := k.Revoke(ctx, "a", revoked.ID); err != nil {
		t.Fatal(err)
	}
	_, expiringTok := mustCreate(t, k, "a", ScopeReadOnly, time.Hour)
	_, liveTok := mustCreate(t, k, "a", ScopeReadOnly, 0)
	clk.Advance(time.Hour)
	unknown, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	live := liveTok.Reveal()
	tests := []struct {
		name string
		tok  string
		want error
	}{
		{"empty", "", ErrNoKey},
		{"unknown", unknown.Reveal(), ErrUnknownKey},
		{"revoked", revokedTok.Reveal(), ErrRevoked},
		{"expired", expiringTok.Reveal(), ErrExpired},
		{"one character short", live[:len(live)-1], ErrUnknownKey},
		{"one character more", live + "A", ErrUnknownKey},
		{"other case", strings.ToUpper(live[:5]) + live[5:], ErrUnknownKey},
		{"prefix only", live[:12], ErrUnknownKey},
		{"hex of the hash", hashHex(live), ErrUnknownKey},
		{"over the length cap", live + strings.Repeat("A", MaxTokenLength), ErrUnknownKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			key, err := k.Verify(tc.tok)
			if err != tc.want {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("%v does not wrap ErrUnauthenticated", err)
			}
			if key != (Key{}) {
				t.Fatalf("Verify returned %v with an error", key)
			}
		})
	}
	if _, err := k.Verify(live); err != nil {
		t.Fatalf("live key: %v", err)
	}
}

func hashHex(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	k, _, clk := newKeys(t, Options{})
	key, tok := mustCreate(t, k, "a", ScopeReadOnly, time.Hour)
	clk.Advance(key.ExpiresAt.Sub(clk.Now()) - time.Nanosecond)
	if _, err := k.Verify(tok.Reveal()); err != nil {
		t.Fatalf("1 ns before expiry: %v", err)
	}
	clk.Advance(time.Nanosecond)
	if _, err := k.Verify(tok.Reveal()); err != ErrExpired {
		t.Fatalf("at expiry: %v, want ErrExpired", err)
	}
	if !key.Expired(clk.Now()) {
		t.Fatal("Key.Expired false at expiry")
	}
	// Expired keys stay listed, so an operator sees why a client fails.
	if got := k.List("a"); len(got) != 1 || got[0].ID != key.ID {
		t.Fatalf("List = %v", got)
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	k, _, clk := newKeys(t, Options{})
	ctx := context.Background()
	var want []Key
	var toks []Secret
	for i := range 5 {
		scope := ScopeReadOnly
		if i%2 == 0 {
			scope = ScopeReadWrite
		}
		key, tok := mustCreate(t, k, "a", scope, time.Duration(i)*time.Hour)
		want = append(want, key)
		toks = append(toks, tok)
		mustCreate(t, k, "b", ScopeReadWrite, 0)
		clk.Advance(time.Second)
	}
	// Two keys in the same millisecond: ordered by id after created_at.
	k1, t1 := mustCreate(t, k, "a", ScopeReadOnly, 0)
	k2, t2 := mustCreate(t, k, "a", ScopeReadOnly, 0)
	if k2.ID < k1.ID {
		k1, k2 = k2, k1
	}
	want = append(want, k1, k2)
	toks = append(toks, t1, t2)
	if err := k.Revoke(ctx, "a", want[1].ID); err != nil {
		t.Fatal(err)
	}
	want[1].RevokedAt = clk.Now().Truncate(time.Millisecond)

	got := k.List("a")
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("List(a) =\n%v\nwant\n%v", got, want)
	}
	if n := len(k.List("b")); n != 5 {
		t.Fatalf("List(b) has %d keys, want 5", n)
	}
	if n := len(k.List("c")); n != 0 {
		t.Fatalf("List(c) has %d keys", n)
	}
	if n := len(k.List("")); n != 0 {
		t.Fatalf("List(\"\") has %d keys: the admin key of the options must not be listed", n)
	}
	assertNoSecrets(t, got, toks)
}

// assertNoSecrets: neither a token nor its digest appears in any rendering
// of the keys.
func assertNoSecrets(t *testing.T, keys []Key, toks []Secret) {
	t.Helper()
	var out strings.Builder
	for _, key := range keys {
		b, err := json.Marshal(key)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(b)
		fmt.Fprintf(&out, "%v %+v %#v %s %q %x\n", key, key, key, key, key, key)
	}
	b, _ := json.Marshal(keys)
	out.Write(b)
	fmt.Fprintf(&out, "%v %+v %#v", keys, keys, keys)
	s := out.String()
	for _, tok := range toks {
		secretPart := tok.Reveal()[12:] // what follows the listed prefix
		digest := hashHex(tok.Reveal())
		if strings.Contains(s, secretPart) || strings.Contains(s, digest) ||
			strings.Contains(s, fmt.Sprintf("%x", tok.Reveal())) {
			t.Fatalf("a secret leaks in the listing:\n%s", s)
		}
	}
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	k, _, clk := newKeys(t, Options{Admin: newSecret(strings.Repeat("A", 40))})
	ctx := context.Background()
	a, aTok := mustCreate(t, k, "a", ScopeReadWrite, 0)
	b, bTok := mustCreate(t, k, "b", ScopeReadWrite, 0)
	tests := []struct {
		name string
		db   string
		id   string
		want error
	}{
		{"unknown id", "a", "key_000000000000", ErrKeyNotFound},
		{"another database's key", "a", b.ID, ErrKeyNotFound},
		{"right id, no database", "", a.ID, ErrKeyNotFound},
		{"the admin key", "", AdminKeyID, ErrKeyNotFound},
		{"the admin key on a database", "a", AdminKeyID, ErrKeyNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := k.Revoke(ctx, tc.db, tc.id); !errors.Is(err, tc.want) {
				t.Fatalf("Revoke(%q, %q) = %v, want %v", tc.db, tc.id, err, tc.want)
			}
		})
	}
	for _, tok := range []Secret{aTok, bTok, newSecret(strings.Repeat("A", 40))} {
		if _, err := k.Verify(tok.Reveal()); err != nil {
			t.Fatalf("a refused revoke changed something: %v", err)
		}
	}
	clk.Advance(time.Minute)
	if err := k.Revoke(ctx, "a", a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Verify(aTok.Reveal()); err != ErrRevoked {
		t.Fatalf("Verify after revoke = %v, want ErrRevoked", err)
	}
	first := k.List("a")[0].RevokedAt
	if !first.Equal(clk.Now().Truncate(time.Millisecond)) {
		t.Fatalf("revoked_at = %v", first)
	}
	clk.Advance(time.Minute)
	if err := k.Revoke(ctx, "a", a.ID); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	if again := k.List("a")[0].RevokedAt; !again.Equal(first) {
		t.Fatalf("second revoke moved revoked_at from %v to %v", first, again)
	}
	if _, err := k.Verify(bTok.Reveal()); err != nil {
		t.Fatalf("b after a's revoke: %v", err)
	}
}

func TestDeleteDatabase(t *testing.T) {
	t.Parallel()
	dir := newDataDir(t)
	store := openStore(t, dir)
	ctx := context.Background()
	k, err := New(ctx, store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var aToks []Secret
	for _, s := range []Scope{ScopeReadOnly, ScopeReadWrite, ScopeReadWrite} {
		_, tok := mustCreate(t, k, "a", s, 0)
		aToks = append(aToks, tok)
	}
	_, bTok := mustCreate(t, k, "b", ScopeReadWrite, 0)
	if err := k.Revoke(ctx, "a", k.List("a")[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := k.DeleteDatabase(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	check := func(k *Keys, when string) {
		t.Helper()
		for _, tok := range aToks {
			if _, err := k.Verify(tok.Reveal()); err != ErrUnknownKey {
				t.Fatalf("%s: a's key: %v, want ErrUnknownKey", when, err)
			}
		}
		if n := len(k.List("a")); n != 0 {
			t.Fatalf("%s: List(a) has %d keys", when, n)
		}
		if _, err := k.Verify(bTok.Reveal()); err != nil {
			t.Fatalf("%s: b's key: %v", when, err)
		}
	}
	check(k, "after delete")
	if err := k.DeleteDatabase(ctx, "a"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if err := k.DeleteDatabase(ctx, ""); !errors.Is(err, forge.ErrInvalidName) {
		t.Fatalf(`DeleteDatabase("") = %v`, err)
	}
	// A new database of the same name starts with no keys, and old
	// tokens stay dead after a restart.
	store.close(t)
	k2, err := New(ctx, openStore(t, dir), Options{})
	if err != nil {
		t.Fatal(err)
	}
	check(k2, "after restart")
	_, tok := mustCreate(t, k2, "a", ScopeReadWrite, 0)
	if _, err := k2.Verify(tok.Reveal()); err != nil {
		t.Fatal(err)
	}
}

// TestRestart: keys, their revocations and expiries survive a new Keys
// over a new engine on the same file.
func TestRestart(t *testing.T) {
	t.Parallel()
	dir := newDataDir(t)
	clk := newClock()
	ctx := context.Background()
	store := openStore(t, dir)
	k, err := New(ctx, store, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	_, ro := mustCreate(t, k, "a", ScopeReadOnly, 0)
	_, rw := mustCreate(t, k, "a", ScopeReadWrite, 2*time.Hour)
	goneKey, gone := mustCreate(t, k, "a", ScopeReadWrite, 0)
	_, adm := mustCreate(t, k, "", ScopeAdmin, 0)
	_, b := mustCreate(t, k, "b", ScopeReadOnly, time.Minute)
	if err := k.Revoke(ctx, "a", goneKey.ID); err != nil {
		t.Fatal(err)
	}
	wantA, wantAdm, wantB := k.List("a"), k.List(""), k.List("b")
	store.close(t)

	clk.Advance(time.Hour)
	k2, err := New(ctx, openStore(t, dir), Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	for db, want := range map[string][]Key{"a": wantA, "": wantAdm, "b": wantB} {
		if got := k2.List(db); !reflect.DeepEqual(got, want) {
			t.Fatalf("List(%q) after restart =\n%#v\nwant\n%#v", db, got, want)
		}
	}
	tests := []struct {
		name string
		tok  Secret
		want error
	}{
		{"read-only", ro, nil},
		{"read-write, not yet expired", rw, nil},
		{"revoked", gone, ErrRevoked},
		{"stored admin key", adm, nil},
		{"expired while down", b, ErrExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := k2.Verify(tc.tok.Reveal()); err != tc.want {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	// The store holds digests, never tokens.
	dump := dumpStore(t, k2.store)
	for _, tok := range []Secret{ro, rw, gone, adm, b} {
		if strings.Contains(dump, tok.Reveal()[12:]) {
			t.Fatalf("a token is in the store:\n%s", dump)
		}
		if !strings.Contains(dump, hashHex(tok.Reveal())) {
			t.Fatalf("digest of a token missing from the store:\n%s", dump)
		}
	}
}

// dumpStore renders every cell of the key table as text (blobs in hex).
func dumpStore(t *testing.T, store SQL) string {
	t.Helper()
	var b strings.Builder
	err := store.Query(context.Background(), "SELECT * FROM api_keys", nil, func(r forge.Row) error {
		for i := range 8 {
			switch r.Kind(i) {
			case forge.Blob:
				b.WriteString(hex.EncodeToString(r.Blob(i)))
			case forge.Text:
				b.Write(r.Text(i))
			case forge.Integer:
				fmt.Fprint(&b, r.Int(i))
			default:
				b.WriteString("NULL")
			}
			b.WriteByte('|')
		}
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestConstantTimeCompare: what decides is the constant-time compare of
// the stored digest with the presented token's, not the map look-up.
func TestConstantTimeCompare(t *testing.T) {
	t.Parallel()
	k, _, _ := newKeys(t, Options{})
	key, tok := mustCreate(t, k, "a", ScopeReadWrite, 0)
	if reflect.ValueOf(k.equal).Pointer() != reflect.ValueOf(constantTimeEqual).Pointer() {
		t.Fatal("Keys.equal is not constantTimeEqual")
	}
	want := digest(sha256.Sum256([]byte(tok.Reveal())))
	var calls atomic.Int32
	answer := true
	k.equal = func(stored, presented digest) bool {
		calls.Add(1)
		if stored != want || presented != want {
			t.Errorf("compared %x with %x, want the token's digest twice", stored, presented)
		}
		return answer
	}
	if got, err := k.Verify(tok.Reveal()); err != nil || got.ID != key.ID {
		t.Fatalf("Verify = %v, %v", got, err)
	}
	if calls.Load() != 1 {
		t.Fatalf("compare called %d times, want 1", calls.Load())
	}
	answer = false
	if _, err := k.Verify(tok.Reveal()); err != ErrUnknownKey {
		t.Fatalf("Verify with the compare saying no = %v, want ErrUnknownKey", err)
	}
}

// TestStoreFirst: when the store refuses a write, memory is unchanged.
func TestStoreFirst(t *testing.T) {
	t.Parallel()
	store := &failingSQL{SQL: openStore(t, newDataDir(t))}
	ctx := context.Background()
	k, err := New(ctx, store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	key, tok := mustCreate(t, k, "a", ScopeReadWrite, 0)
	store.setFail(true)

	if _, _, err := k.Create(ctx, "a", ScopeReadOnly, 0); !errors.Is(err, errStoreDown) {
		t.Fatalf("Create with the store down = %v", err)
	}
	if n := len(k.List("a")); n != 1 {
		t.Fatalf("%d keys after a failed create, want 1", n)
	}
	if err := k.Revoke(ctx, "a", key.ID); !errors.Is(err, errStoreDown) {
		t.Fatalf("Revoke with the store down = %v", err)
	}
	if err := k.DeleteDatabase(ctx, "a"); !errors.Is(err, errStoreDown) {
		t.Fatalf("DeleteDatabase with the store down = %v", err)
	}
	if got, err := k.Verify(tok.Reveal()); err != nil || got.Revoked() {
		t.Fatalf("after failed writes: %v, %v; want the key unchanged", got, err)
	}
	store.setFail(false)
	if err := k.Revoke(ctx, "a", key.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Verify(tok.Reveal()); err != ErrRevoked {
		t.Fatalf("after revoke = %v", err)
	}
}

func TestAdminKeyOption(t *testing.T) {
	t.Parallel()
	admin, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	k, _, _ := newKeys(t, Options{Admin: admin})
	got, err := k.Verify(admin.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	want := Key{ID: AdminKeyID, Prefix: admin.Reveal()[:12], Scope: ScopeAdmin}
	if got != want {
		t.Fatalf("Verify(admin) = %#v, want %#v", got, want)
	}
	for _, a := range []Access{{Admin: true}, {DB: "a", Write: true}, {DB: "zzz"}} {
		if err := Authorize(got, a); err != nil {
			t.Fatalf("admin key refused %+v: %v", a, err)
		}
	}
	if n := len(k.List("")); n != 0 {
		t.Fatalf("the admin key is listed")
	}

	custom := newSecret(strings.Repeat("x", 32))
	k2, _, _ := newKeys(t, Options{Admin: custom})
	if got, err := k2.Verify(custom.Reveal()); err != nil || got.Prefix != "" {
		t.Fatalf("a person's admin key: %#v, %v (want no prefix shown)", got, err)
	}
	if _, err := k2.Verify(admin.Reveal()); err != ErrUnknownKey {
		t.Fatalf("another instance's admin key = %v", err)
	}

	if _, err := New(context.Background(), openStore(t, newDataDir(t)), Options{Admin: newSecret("changeme")}); !errors.Is(err, ErrWeakAdminKey) {
		t.Fatalf("New with a weak admin key = %v", err)
	}
}

// TestAdminKeyCollidesWithStored: an admin key equal to a stored key's
// token is refused instead of one of them silently winning.
func TestAdminKeyCollidesWithStored(t *testing.T) {
	t.Parallel()
	dir := newDataDir(t)
	store := openStore(t, dir)
	k, err := New(context.Background(), store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, tok := mustCreate(t, k, "a", ScopeReadOnly, 0)
	if _, err := New(context.Background(), store, Options{Admin: tok}); !errors.Is(err, ErrWeakAdminKey) {
		t.Fatalf("New = %v, want ErrWeakAdminKey", err)
	}
}

// TestLoadRefuses: a store that breaks the rules stops the start.
func TestLoadRefuses(t *testing.T) {
	t.Parallel()
	hash := forge.BlobValue(make([]byte, 32))
	tests := []struct {
		name string
		sql  string
		args []forge.Value
	}{
		{"bad database name", insertKey, []forge.Value{forge.TextValue("key_1"), hash, forge.TextValue("p"),
			forge.TextValue("../x"), forge.TextValue("read-only"), forge.IntValue(0), forge.NullValue()}},
		{"reserved id", insertKey, []forge.Value{forge.TextValue(AdminKeyID), hash, forge.TextValue("p"),
			forge.TextValue(""), forge.TextValue("admin"), forge.IntValue(0), forge.NullValue()}},
		{"newer schema", "PRAGMA user_version = 2", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := openStore(t, newDataDir(t))
			ctx := context.Background()
			if _, err := New(ctx, store, Options{}); err != nil {
				t.Fatal(err)
			}
			if _, err := store.Exec(ctx, tc.sql, tc.args...); err != nil {
				t.Fatal(err)
			}
			if _, err := New(ctx, store, Options{}); err == nil {
				t.Fatal("New accepted the store")
			}
		})
	}
}

// TestSchemaChecks: the table itself refuses rows that break the rules,
// whoever writes them.
func TestSchemaChecks(t *testing.T) {
	t.Parallel()
	store := openStore(t, newDataDir(t))
	ctx := context.Background()
	if _, err := New(ctx, store, Options{}); err != nil {
		t.Fatal(err)
	}
	row := func(id string, hashLen int, db, scope string) []forge.Value {
		return []forge.Value{forge.TextValue(id), forge.BlobValue(make([]byte, hashLen)), forge.TextValue("p"),
			forge.TextValue(db), forge.TextValue(scope), forge.IntValue(0), forge.NullValue()}
	}
	tests := []struct {
		name string
		args []forge.Value
	}{
		{"short hash", row("key_1", 31, "a", "read-only")},
		{"bad scope", row("key_2", 32, "a", "owner")},
		{"admin on a database", row("key_3", 32, "a", "admin")},
		{"read-write on every database", row("key_4", 32, "", "read-write")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var sqlErr *forge.SQLError
			if _, err := store.Exec(ctx, insertKey, tc.args...); !errors.As(err, &sqlErr) {
				t.Fatalf("insert = %v, want a constraint error", err)
			}
		})
	}
}

// TestHammer runs Verify against Create, Revoke and DeleteDatabase; under
// -race it checks the lock-free read path. Stable keys must verify every
// time; keys being revoked verify or are ErrRevoked, nothing else.
func TestHammer(t *testing.T) {
	t.Parallel()
	k, _, _ := newKeys(t, Options{})
	ctx := context.Background()
	var stable []Secret
	for range 20 {
		_, tok := mustCreate(t, k, "stable", ScopeReadWrite, 0)
		stable = append(stable, tok)
	}
	var doomed []Secret
	var doomedIDs []string
	for range 20 {
		key, tok := mustCreate(t, k, "doomed", ScopeReadOnly, 0)
		doomed = append(doomed, tok)
		doomedIDs = append(doomedIDs, key.ID)
	}

	stop := make(chan struct{})
	var readers sync.WaitGroup
	var verified atomic.Int64
	for r := range 4 {
		readers.Go(func() {
			for i := r; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if key, err := k.Verify(stable[i%len(stable)].Reveal()); err != nil || key.DB != "stable" {
					t.Errorf("stable key: %v, %v", key, err)
					return
				}
				if key, err := k.Verify(doomed[i%len(doomed)].Reveal()); err != nil && err != ErrRevoked {
					t.Errorf("doomed key: %v, %v", key, err)
					return
				} else if err == nil && key.DB != "doomed" {
					t.Errorf("doomed key verified as %v", key)
					return
				}
				_ = k.List("stable")
				verified.Add(1)
			}
		})
	}
	var writers sync.WaitGroup
	writers.Go(func() {
		for _, id := range doomedIDs {
			if err := k.Revoke(ctx, "doomed", id); err != nil {
				t.Errorf("revoke: %v", err)
			}
		}
	})
	writers.Go(func() {
		for i := range 30 {
			db := fmt.Sprintf("churn%d", i%3)
			_, tok, err := k.Create(ctx, db, ScopeReadWrite, 0)
			if err != nil {
				t.Errorf("create: %v", err)
				return
			}
			if _, err := k.Verify(tok.Reveal()); err != nil {
				t.Errorf("fresh key: %v", err)
			}
			if i%5 == 4 {
				if err := k.DeleteDatabase(ctx, db); err != nil {
					t.Errorf("delete: %v", err)
				}
				if _, err := k.Verify(tok.Reveal()); err != ErrUnknownKey {
					t.Errorf("key of a deleted database: %v", err)
				}
			}
		}
	})
	writers.Wait()
	close(stop)
	readers.Wait()
	for _, tok := range doomed {
		if _, err := k.Verify(tok.Reveal()); err != ErrRevoked {
			t.Fatalf("after the hammer: %v, want ErrRevoked", err)
		}
	}
	if verified.Load() == 0 {
		t.Fatal("readers never ran")
	}
	t.Logf("%d verify rounds during the writes", verified.Load())
}

func TestConstantTimeEqual(t *testing.T) {
	t.Parallel()
	var a, b digest
	for i := range a {
		a[i], b[i] = byte(i), byte(i)
	}
	if !constantTimeEqual(a, b) {
		t.Fatal("equal digests differ")
	}
	for _, i := range []int{0, 15, 31} {
		c := b
		c[i] ^= 1
		if constantTimeEqual(a, c) {
			t.Fatalf("digests differing at byte %d are equal", i)
		}
	}
}
