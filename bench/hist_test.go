package bench

import (
	"math"
	"testing"
	"time"
)

func TestBucketRoundTrip(t *testing.T) {
	t.Parallel()
	for _, v := range []uint64{0, 1, 255, 256, 257, 511, 512, 1000, 12345, 1 << 20, 1<<40 + 12345, math.MaxInt64, math.MaxUint64} {
		i := bucketOf(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d, out of range", v, i)
		}
		lo, hi := bucketRange(i)
		if v < lo || v > hi {
			t.Errorf("bucketOf(%d) = %d holding [%d, %d]", v, i, lo, hi)
		}
		if v >= exactBelow && float64(hi-lo+1)/float64(lo) > 1.0/subCount+1e-9 {
			t.Errorf("bucket of %d is [%d, %d]: wider than 1/%d of its value", v, lo, hi, subCount)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	t.Parallel()
	uniform := func(n int, unit time.Duration) []time.Duration {
		out := make([]time.Duration, n)
		for i := range out {
			out[i] = time.Duration(i+1) * unit
		}
		return out
	}
	tests := []struct {
		name   string
		values []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one value", []time.Duration{42 * time.Millisecond}, 0.99, 42 * time.Millisecond},
		{"exact small values", []time.Duration{1, 2, 3, 4}, 0.5, 2},
		{"p50 of 1..1000 µs", uniform(1000, time.Microsecond), 0.5, 500 * time.Microsecond},
		{"p90 of 1..1000 µs", uniform(1000, time.Microsecond), 0.9, 900 * time.Microsecond},
		{"p99 of 1..1000 µs", uniform(1000, time.Microsecond), 0.99, 990 * time.Microsecond},
		{"p99.9 of 1..10000 µs", uniform(10000, time.Microsecond), 0.999, 9990 * time.Microsecond},
		{"max", uniform(1000, time.Microsecond), 1, 1000 * time.Microsecond},
		{"tail outlier", append(uniform(99, time.Millisecond/100), 3*time.Second), 0.995, 3 * time.Second},
		{"negative counts as zero", []time.Duration{-5}, 0.5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var h Histogram
			for _, v := range tt.values {
				h.Record(v)
			}
			got := h.Quantile(tt.q)
			if diff := math.Abs(float64(got - tt.want)); diff > float64(tt.want)/subCount+1 {
				t.Errorf("Quantile(%v) = %v, want %v (±%.1f%%)", tt.q, got, tt.want, 100.0/subCount)
			}
		})
	}
}

func TestHistogramMerge(t *testing.T) {
	t.Parallel()
	var a, b, all Histogram
	for i := 1; i <= 1000; i++ {
		d := time.Duration(i) * time.Microsecond
		all.Record(d)
		if i%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	var m Histogram
	m.Merge(&a)
	m.Merge(&b)
	m.Merge(&Histogram{})
	if m.Count() != all.Count() || m.Max() != all.Max() || m.Mean() != all.Mean() {
		t.Fatalf("merged count/max/mean %d/%v/%v, want %d/%v/%v", m.Count(), m.Max(), m.Mean(), all.Count(), all.Max(), all.Mean())
	}
	for _, q := range []float64{0.001, 0.5, 0.9, 0.99, 0.999} {
		if m.Quantile(q) != all.Quantile(q) {
			t.Errorf("q%v: merged %v, want %v", q, m.Quantile(q), all.Quantile(q))
		}
	}
	s := m.Summary()
	if s.P50 < 0.49 || s.P50 > 0.51 || s.Max != 1 || s.Mean < 0.5 || s.Mean > 0.501 {
		t.Errorf("summary %+v", s)
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(i&0xfffff) * 97)
	}
}
