package bench

import (
	"math"
	"math/rand/v2"
	"sort"
)

// Zipf picks indexes in [0, n) with probability proportional to
// 1/(i+1)^s: s = 0 is uniform, s ≈ 1 is the classic skew where a few
// items take most of the traffic (YCSB uses s = 0.99). Unlike
// math/rand/v2's Zipf it accepts any s ≥ 0, including s ≤ 1. Picking is a
// binary search in a precomputed cumulative table: O(log n), no allocation.
// A Zipf is read-only once built and may be shared by goroutines, each with
// its own *rand.Rand.
type Zipf struct {
	cdf []float64
}

// NewZipf builds the picker for n ≥ 1 items with exponent s ≥ 0.
func NewZipf(n int, s float64) *Zipf {
	if n < 1 {
		n = 1
	}
	if s < 0 || math.IsNaN(s) {
		s = 0
	}
	cdf := make([]float64, n)
	total := 0.0
	for i := range cdf {
		total += math.Pow(float64(i+1), -s)
		cdf[i] = total
	}
	for i := range cdf {
		cdf[i] /= total
	}
	cdf[n-1] = 1
	return &Zipf{cdf: cdf}
}

// N is the number of items.
func (z *Zipf) N() int { return len(z.cdf) }

// P is the probability of item i.
func (z *Zipf) P(i int) float64 {
	if i <= 0 {
		return z.cdf[0]
	}
	return z.cdf[i] - z.cdf[i-1]
}

// Pick draws one index.
func (z *Zipf) Pick(r *rand.Rand) int {
	u := r.Float64()
	i := sort.SearchFloat64s(z.cdf, u)
	// SearchFloat64s finds the first cdf[i] ≥ u; u == cdf[i] belongs to i+1
	// only in measure zero, so no adjustment is needed. Guard the top end.
	return min(i, len(z.cdf)-1)
}
