package auth

import (
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// Rate limit defaults: a key may make DefaultRate requests a second on
// average, and DefaultBurst at once after a pause.
const (
	DefaultRate    = 1000.0
	DefaultBurst   = 2000
	DefaultMaxKeys = 100_000
)

// LimitConfig configures a Limiter. Zero values take the defaults.
type LimitConfig struct {
	// Rate is the sustained requests per second of one key; negative
	// means no limit.
	Rate float64
	// Burst is how many requests a key that has been idle may make at
	// once.
	Burst int
	// MaxKeys bounds the buckets kept in memory (about 50 bytes each).
	MaxKeys int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

const limiterShards = 32

// Limiter is a token bucket per key, kept in the compact form of the
// generic cell rate algorithm: a bucket is one number, the time at which it
// will be full again ("theoretical arrival time", TAT). A request at t is
// allowed when TAT+interval-t <= burst*interval, and then moves TAT on by
// one interval; TAT <= t means a full bucket, which is the same as no
// bucket at all. That makes the memory bound free of side effects: a full
// bucket can be dropped at any time.
//
// Buckets are made lazily and kept in shards, each with its own lock, so
// concurrent requests of different keys rarely meet. A shard at its share
// of MaxKeys first drops its full buckets, then, if none is full, the one
// closest to full.
type Limiter struct {
	unlimited bool
	interval  int64 // nanoseconds per request
	window    int64 // burst × interval
	maxShard  int
	now       func() time.Time
	epoch     time.Time
	seed      maphash.Seed
	shards    [limiterShards]limiterShard
}

type limiterShard struct {
	mu  sync.Mutex
	tat map[string]int64 // key id → TAT, nanoseconds since epoch
	_   [40]byte         // keep shards' locks on separate cache lines
}

// NewLimiter returns a limiter for cfg.
func NewLimiter(cfg LimitConfig) *Limiter {
	if cfg.Rate == 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Limiter{
		unlimited: cfg.Rate < 0 || math.IsInf(cfg.Rate, 1),
		now:       cfg.Now,
		epoch:     cfg.Now(),
		seed:      maphash.MakeSeed(),
		maxShard:  max(1, cfg.MaxKeys/limiterShards),
	}
	if !l.unlimited {
		l.interval = max(1, int64(float64(time.Second)/cfg.Rate))
		l.window = l.interval * int64(cfg.Burst)
	}
	for i := range l.shards {
		l.shards[i].tat = make(map[string]int64)
	}
	return l
}

// Allow takes one request from keyID's bucket. When the bucket is empty
// it answers false and how long until a request would be allowed (always
// more than zero). keyID is kept as a map key: pass Key.ID, not a string
// that aliases a request buffer.
func (l *Limiter) Allow(keyID string) (ok bool, retryAfter time.Duration) {
	if l.unlimited {
		return true, 0
	}
	t := int64(l.now().Sub(l.epoch))
	s := &l.shards[maphash.String(l.seed, keyID)%limiterShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	tat, found := s.tat[keyID]
	if tat < t {
		tat = t
	}
	next := tat + l.interval
	if wait := next - t - l.window; wait > 0 {
		return false, time.Duration(wait)
	}
	if !found && len(s.tat) >= l.maxShard {
		s.evict(t, l.maxShard)
	}
	s.tat[keyID] = next
	return true, 0
}

// Len is the number of buckets held.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.tat)
		s.mu.Unlock()
	}
	return n
}

// evict makes room for one bucket: every full bucket goes (it is the same
// as none); if none is full, the one nearest to full goes, and that key
// gets a little more than its due: the price of bounded memory when more
// keys than MaxKeys are busy at once.
func (s *limiterShard) evict(t int64, limit int) {
	var oldest string
	oldestTAT := int64(math.MaxInt64)
	for id, tat := range s.tat {
		if tat <= t {
			delete(s.tat, id)
			continue
		}
		if tat < oldestTAT {
			oldest, oldestTAT = id, tat
		}
	}
	if len(s.tat) >= limit {
		delete(s.tat, oldest)
	}
}
