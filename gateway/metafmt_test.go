package gateway

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestAppendMillisAsAppendFloat: meta's duration_ms reads as it did when
// strconv.AppendFloat wrote it.
func TestAppendMillisAsAppendFloat(t *testing.T) {
	us := []int64{0, 1, 9, 10, 42, 100, 999, 1000, 1001, 1500, 12000, 123456, 999999, 1 << 40, -1, -1500}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		us = append(us, r.Int64N(1<<50))
	}
	for _, v := range us {
		got := string(appendMillis(nil, v))
		want := string(strconv.AppendFloat(nil, float64(v)/1000, 'f', -1, 64))
		if got != want {
			t.Fatalf("%d µs: %q, want %q", v, got, want)
		}
	}
}

func BenchmarkAppendMillis(b *testing.B) {
	buf := make([]byte, 0, 32)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf = appendMillis(buf[:0], int64(i%100000))
	}
}

func BenchmarkAppendMillisFloat(b *testing.B) {
	buf := make([]byte, 0, 32)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf = strconv.AppendFloat(buf[:0], float64(i%100000)/1000, 'f', -1, 64)
	}
}
