package auth

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// step is one Allow call at an offset from the start.
type step struct {
	at    time.Duration
	key   string
	ok    bool
	retry time.Duration // when !ok
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	const ms = time.Millisecond
	tests := []struct {
		name  string
		rate  float64
		burst int
		steps []step
	}{
		{
			name: "burst then deny then refill", rate: 10, burst: 3,
			steps: []step{
				{0, "k", true, 0}, {0, "k", true, 0}, {0, "k", true, 0},
				{0, "k", false, 100 * ms},
				{50 * ms, "k", false, 50 * ms},
				{100 * ms, "k", true, 0},
				{100 * ms, "k", false, 100 * ms},
				{1000 * ms, "k", true, 0}, {1000 * ms, "k", true, 0}, {1000 * ms, "k", true, 0},
				{1000 * ms, "k", false, 100 * ms},
			},
		},
		{
			name: "keys are independent", rate: 1, burst: 1,
			steps: []step{
				{0, "a", true, 0}, {0, "a", false, time.Second},
				{0, "b", true, 0}, {0, "b", false, time.Second},
				{500 * ms, "a", false, 500 * ms},
				{time.Second, "a", true, 0}, {time.Second, "b", true, 0},
			},
		},
		{
			name: "denied requests do not use tokens", rate: 2, burst: 1,
			steps: []step{
				{0, "k", true, 0},
				{100 * ms, "k", false, 400 * ms}, {200 * ms, "k", false, 300 * ms}, {300 * ms, "k", false, 200 * ms},
				{500 * ms, "k", true, 0},
			},
		},
		{
			name: "idle does not bank more than burst", rate: 100, burst: 2,
			steps: []step{
				{time.Hour, "k", true, 0}, {time.Hour, "k", true, 0}, {time.Hour, "k", false, 10 * ms},
			},
		},
		{
			name: "steady rate is allowed", rate: 4, burst: 1,
			steps: []step{
				{0, "k", true, 0}, {250 * ms, "k", true, 0}, {500 * ms, "k", true, 0}, {750 * ms, "k", true, 0},
				{800 * ms, "k", false, 200 * ms},
			},
		},
		{
			name: "unlimited", rate: -1, burst: 1,
			steps: []step{{0, "k", true, 0}, {0, "k", true, 0}, {0, "k", true, 0}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			start := clk.Now()
			l := NewLimiter(LimitConfig{Rate: tc.rate, Burst: tc.burst, Now: clk.Now})
			for i, s := range tc.steps {
				clk.Advance(start.Add(s.at).Sub(clk.Now()))
				ok, retry := l.Allow(s.key)
				if ok != s.ok || retry != s.retry {
					t.Fatalf("step %d (%v, %s): Allow = %v, %v; want %v, %v", i, s.at, s.key, ok, retry, s.ok, s.retry)
				}
				if !ok && retry <= 0 {
					t.Fatalf("step %d: denied with retryAfter %v", i, retry)
				}
			}
		})
	}
}

func TestLimiterDefaults(t *testing.T) {
	t.Parallel()
	clk := newClock()
	l := NewLimiter(LimitConfig{Now: clk.Now})
	for i := range DefaultBurst {
		if ok, _ := l.Allow("k"); !ok {
			t.Fatalf("request %d of the default burst denied", i)
		}
	}
	ok, retry := l.Allow("k")
	if ok || retry != time.Second/time.Duration(DefaultRate) {
		t.Fatalf("past the burst: %v, %v", ok, retry)
	}
}

// TestLimiterBoundedMemory: buckets beyond MaxKeys are dropped, full ones
// first, and a full bucket dropped loses its key nothing.
func TestLimiterBoundedMemory(t *testing.T) {
	t.Parallel()
	clk := newClock()
	const maxKeys = 4 * limiterShards
	l := NewLimiter(LimitConfig{Rate: 1, Burst: 2, MaxKeys: maxKeys, Now: clk.Now})
	for i := range 50 * maxKeys {
		if ok, _ := l.Allow(fmt.Sprintf("key_%d", i)); !ok {
			t.Fatalf("first request of key %d denied", i)
		}
		if n := l.Len(); n > maxKeys {
			t.Fatalf("%d buckets held, bound %d", n, maxKeys)
		}
	}
	// A busy key keeps its state while idle ones come and go.
	if ok, _ := l.Allow("busy"); !ok {
		t.Fatal("busy: first")
	}
	if ok, _ := l.Allow("busy"); !ok {
		t.Fatal("busy: second")
	}
	clk.Advance(3 * time.Second) // every bucket is full again: all evictable
	for i := range 10 * maxKeys {
		l.Allow(fmt.Sprintf("other_%d", i))
	}
	if n := l.Len(); n > maxKeys {
		t.Fatalf("%d buckets held, bound %d", n, maxKeys)
	}
	if ok, _ := l.Allow("busy"); !ok {
		t.Fatal("a full bucket, dropped, must allow")
	}
}

// TestLimiterHammer: under concurrency, exactly burst requests pass at a
// frozen instant, however many goroutines ask; and a limiter evicting all
// the while stays within its bound.
func TestLimiterHammer(t *testing.T) {
	t.Parallel()
	clk := newClock()
	const burst = 500
	l := NewLimiter(LimitConfig{Rate: 1, Burst: burst, Now: clk.Now})
	small := NewLimiter(LimitConfig{Rate: 1, Burst: 1, MaxKeys: limiterShards, Now: clk.Now})
	keys := []string{"k0", "k1", "k2", "k3"}
	var allowed [4]atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				if ok, _ := l.Allow(keys[i%4]); ok {
					allowed[i%4].Add(1)
				}
				small.Allow(fmt.Sprintf("g%d-%d", g, i))
			}
		})
	}
	wg.Wait()
	for i := range allowed {
		if n := allowed[i].Load(); n != burst {
			t.Fatalf("key %s: %d allowed, want %d", keys[i], n, burst)
		}
	}
	if n := small.Len(); n > limiterShards {
		t.Fatalf("%d buckets held, bound %d", n, limiterShards)
	}
}
