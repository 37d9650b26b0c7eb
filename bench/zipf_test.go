package bench

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestZipfProbabilities(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		n    int
		s    float64
		want []float64 // P(i) for the first items
	}{
		{"one item", 1, 0.99, []float64{1}},
		{"uniform", 4, 0, []float64{0.25, 0.25, 0.25, 0.25}},
		{"s=1 on 3 items", 3, 1, []float64{6.0 / 11, 3.0 / 11, 2.0 / 11}},
		{"s=2 on 2 items", 2, 2, []float64{0.8, 0.2}},
		{"n below 1 is one item", 0, 1, []float64{1}},
		{"negative s is uniform", 2, -1, []float64{0.5, 0.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			z := NewZipf(tt.n, tt.s)
			for i, w := range tt.want {
				if got := z.P(i); math.Abs(got-w) > 1e-12 {
					t.Errorf("P(%d) = %v, want %v", i, got, w)
				}
			}
		})
	}
}

func TestZipfPick(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		n    int
		s    float64
	}{
		{"uniform over 10", 10, 0},
		{"YCSB skew over 100", 100, 0.99},
		{"strong skew over 1000", 1000, 1.5},
	}
	const draws = 200_000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			z := NewZipf(tt.n, tt.s)
			r := rand.New(rand.NewPCG(1, 2))
			counts := make([]int, tt.n)
			for range draws {
				i := z.Pick(r)
				if i < 0 || i >= tt.n {
					t.Fatalf("Pick = %d, out of [0, %d)", i, tt.n)
				}
				counts[i]++
			}
			// The head items' frequencies match their probabilities within
			// five standard deviations.
			for i := range min(tt.n, 5) {
				p := z.P(i)
				sd := math.Sqrt(draws * p * (1 - p))
				if d := math.Abs(float64(counts[i]) - draws*p); d > 5*sd {
					t.Errorf("item %d drawn %d times, expected %.0f ± %.0f", i, counts[i], draws*p, sd)
				}
			}
		})
	}
}

func BenchmarkZipfPick(b *testing.B) {
	z := NewZipf(10000, 0.99)
	r := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	for b.Loop() {
		_ = z.Pick(r)
	}
}
