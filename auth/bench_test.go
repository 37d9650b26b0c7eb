package auth

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// nullSQL is a store that keeps nothing: Verify never reaches the store,
// so its benchmarks fill the table without paying for SQL.
type nullSQL struct{}

func (nullSQL) Exec(context.Context, string, ...forge.Value) (int64, error) { return 1, nil }
func (nullSQL) Query(context.Context, string, []forge.Value, func(forge.Row) error) error {
	return nil
}

// benchKeys is Keys holding n read-write keys over databases db0..db(n-1),
// expiring in expiresIn (0 = never), and their tokens.
func benchKeys(b *testing.B, n int, expiresIn time.Duration) (*Keys, []Secret) {
	b.Helper()
	k, err := New(context.Background(), nullSQL{}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	toks := make([]Secret, n)
	for i := range toks {
		_, toks[i], err = k.Create(context.Background(), "db"+strconv.Itoa(i), ScopeReadWrite, expiresIn)
		if err != nil {
			b.Fatal(err)
		}
	}
	return k, toks
}

// BenchmarkVerify: a key that never expires costs a SHA-256 and a map
// look-up; one with an expiry adds a clock read.
func BenchmarkVerify(b *testing.B) {
	for _, bc := range []struct {
		name      string
		n         int
		expiresIn time.Duration
	}{
		{"keys=1", 1, 0},
		{"keys=10000", 10_000, 0},
		{"keys=10000/expiring", 10_000, time.Hour},
	} {
		b.Run(bc.name, func(b *testing.B) {
			k, toks := benchKeys(b, bc.n, bc.expiresIn)
			tok := toks[bc.n/2].Reveal()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Verify(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("keys=10000/unknown", func(b *testing.B) {
		k, _ := benchKeys(b, 10_000, 0)
		unknown, _ := newToken()
		tok := unknown.Reveal()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := k.Verify(tok); err != ErrUnknownKey {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkVerifyParallel: every core verifying at once, the gateway's
// situation; the read path shares no written cache line.
func BenchmarkVerifyParallel(b *testing.B) {
	k, toks := benchKeys(b, 10_000, 0)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		tok := toks[int(next.Add(1))%len(toks)].Reveal()
		for pb.Next() {
			if _, err := k.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRequestPath is what authentication adds to one request: find
// the token in the headers, verify it, apply the policy, take a token from
// the key's bucket.
func BenchmarkRequestPath(b *testing.B) {
	k, toks := benchKeys(b, 10_000, 0)
	l := NewLimiter(LimitConfig{Rate: -1})
	limited := NewLimiter(LimitConfig{Rate: 1e9, Burst: 1 << 30})
	authz := []byte("Bearer " + toks[1234].Reveal())
	for _, lim := range []struct {
		name string
		l    *Limiter
	}{{"unlimited", l}, {"limited", limited}} {
		b.Run(lim.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tok, err := Credential(authz, nil)
				if err != nil {
					b.Fatal(err)
				}
				key, err := k.VerifyBytes(tok)
				if err != nil {
					b.Fatal(err)
				}
				if err := Authorize(key, Access{DB: "db1234"}); err != nil {
					b.Fatal(err)
				}
				if ok, _ := lim.l.Allow(key.ID); !ok {
					b.Fatal("rate limited")
				}
			}
		})
	}
}

func BenchmarkAllow(b *testing.B) {
	l := NewLimiter(LimitConfig{Rate: 1e9, Burst: 1 << 30})
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := l.Allow("key_0123456789ab"); !ok {
			b.Fatal("denied")
		}
	}
}

// BenchmarkAllowParallel: every core taking tokens of its own key.
func BenchmarkAllowParallel(b *testing.B) {
	l := NewLimiter(LimitConfig{Rate: 1e9, Burst: 1 << 30})
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := fmt.Sprintf("key_%012x", next.Add(1))
		for pb.Next() {
			if ok, _ := l.Allow(id); !ok {
				b.Fatal("denied")
			}
		}
	})
}

// BenchmarkCreate is the cost of minting a key (spawn pays it) on the real
// engine: random bytes, the INSERT, and one shard copied.
func BenchmarkCreate(b *testing.B) {
	k, _, _ := newKeys(b, Options{})
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := k.Create(ctx, "db"+strconv.Itoa(i%1000), ScopeReadWrite, 0); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
