package gateway

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/praetorian/db-forge/forge"
)

func TestParseQueryTimeout(t *testing.T) {
	t.Parallel()
	const maxTimeout = 30 * time.Second
	tests := []struct {
		in   string
		want time.Duration // 0 = refused
	}{
		{"1500", 1500 * time.Millisecond},
		{"1", time.Millisecond},
		{"30000", 30 * time.Second},
		{"1.5s", 1500 * time.Millisecond},
		{"250ms", 250 * time.Millisecond},
		{"30s", 30 * time.Second},
		{"1m", 0},
		{"30001", 0},
		{"30.001s", 0},
		{"0", 0},
		{"-5", 0},
		{"0s", 0},
		{"-1s", 0},
		{"", 0},
		{"soon", 0},
		{"5 s", 0},
		{"1e3", 0},
		{"99999999999999999999", 0},
		{strings.Repeat("9", 33), 0},
		{"9223372036854775807", 0},
		{"2562047h", 0},
	}
	for _, tc := range tests {
		got, err := parseQueryTimeout(tc.in, maxTimeout)
		if tc.want == 0 {
			if err == nil {
				t.Errorf("parseQueryTimeout(%q) = %v, want an error", tc.in, got)
				continue
			}
			ae := wantAPIError(t, err, fasthttp.StatusBadRequest, CodeInvalidTimeout)
			if !strings.Contains(ae.detail, "at most 30s") {
				t.Errorf("detail %q does not name the maximum", ae.detail)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseQueryTimeout(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseQueryTimeout(f *testing.F) {
	for _, s := range []string{"1500", "1.5s", "0", "-1", "30s", "31s", "1e3", "", "9223372036854775807", "1h1m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, err := parseQueryTimeout(v, 30*time.Second)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.status != 400 || ae.code != CodeInvalidTimeout {
				t.Fatalf("error %v for %q", err, v)
			}
			return
		}
		if d <= 0 || d > 30*time.Second {
			t.Fatalf("accepted %q as %v", v, d)
		}
	})
}

func TestInflight(t *testing.T) {
	t.Parallel()
	l := newInflight(3, 2)
	for i := range 2 {
		if !l.enterDB("a") {
			t.Fatalf("request %d of 2 on a refused", i+1)
		}
	}
	if l.enterDB("a") {
		t.Fatal("a third request on a admitted past the per-database cap of 2")
	}
	if !l.enterDB("b") {
		t.Fatal("another database is refused because a is full")
	}
	l.leaveDB("a")
	if !l.enterDB("a") {
		t.Fatal("a place freed on a is not reusable")
	}
	l.leaveDB("a")
	l.leaveDB("a")
	l.leaveDB("b")
	if len(l.byDB) != 0 {
		t.Fatalf("counts left behind: %v", l.byDB)
	}
	for range 3 {
		if !l.enter() {
			t.Fatal("refused below the overall cap")
		}
	}
	if l.enter() {
		t.Fatal("admitted past the overall cap of 3")
	}
	l.leave()
	if !l.enter() {
		t.Fatal("a place freed overall is not reusable")
	}
}

// TestInflightHammer: under contention the caps hold exactly.
func TestInflightHammer(t *testing.T) {
	t.Parallel()
	l := newInflight(1000, 4)
	var in, peak atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for range 500 {
				if !l.enterDB("db") {
					continue
				}
				n := in.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				in.Add(-1)
				l.leaveDB("db")
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > 4 || p < 1 {
		t.Fatalf("peak %d requests in flight on one database, cap 4", p)
	}
	if len(l.byDB) != 0 {
		t.Fatalf("counts left behind: %v", l.byDB)
	}
}

func TestRowsEncoderLimit(t *testing.T) {
	t.Parallel()
	big := mapRow([]string{strings.Repeat("x", 600)}, forge.TextValue)
	tests := []struct {
		name  string
		limit int
		rows  int
		fails int // the row that fails (1-based); 0 = none
	}{
		{"no limit", 0, 10, 0},
		{"under the limit", 10_000, 10, 0},
		{"first row over", 100, 3, 1},
		{"third row over", 1500, 3, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := getEncoder()
			defer putEncoder(e)
			e.limit = tc.limit
			if err := e.Columns([]string{"v"}); err != nil {
				t.Fatal(err)
			}
			for i := 1; i <= tc.rows; i++ {
				err := e.Row(big)
				if i != tc.fails {
					if err != nil {
						t.Fatalf("row %d: %v", i, err)
					}
					continue
				}
				var re *responseTooLargeError
				if !errors.As(err, &re) || re.limit != tc.limit {
					t.Fatalf("row %d: error %v, want the response limit", i, err)
				}
				if len(e.buf) > tc.limit {
					t.Fatalf("buffer kept %d bytes past the limit", len(e.buf))
				}
				ae := toAPIError(err)
				if ae.status != 413 || ae.code != CodeResponseTooLarge {
					t.Fatalf("maps to %d %s", ae.status, ae.code)
				}
				return
			}
			if tc.fails != 0 {
				t.Fatal("no row failed")
			}
		})
	}
	// A pooled encoder does not keep the limit of its last use.
	e := getEncoder()
	e.limit = 1
	putEncoder(e)
	if e2 := getEncoder(); e2.limit != 0 {
		t.Fatalf("pooled encoder kept limit %d", e2.limit)
	}
}

// BenchmarkRequestContext: what a data request's context costs. Without
// X-Query-Timeout it is the server's context itself (nothing); with it,
// a timer context under the server's (cancelled at the drain's end), which
// registers with its parent, against one under context.Background(), which
// does not. WithCancel is what every request would pay for a context of
// its own.
func BenchmarkRequestContext(b *testing.B) {
	s := New(Options{}, nil, nil, zap.NewNop())
	cases := []struct {
		name string
		make func() (context.Context, context.CancelFunc)
	}{
		{"server", func() (context.Context, context.CancelFunc) { return s.base, func() {} }},
		{"WithCancel(server)", func() (context.Context, context.CancelFunc) { return context.WithCancel(s.base) }},
		{"WithTimeout(Background)", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Second)
		}},
		{"WithTimeout(server)", func() (context.Context, context.CancelFunc) { return context.WithTimeout(s.base, time.Second) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ctx, cancel := c.make()
					if ctx.Err() != nil {
						b.Fatal(ctx.Err())
					}
					cancel()
				}
			})
		})
	}
}
