package snapshot

import (
	"math"
	"strconv"
	"testing"
)

func TestLiterals(t *testing.T) {
	t.Parallel()
	reals := map[float64]string{1: "1.0", 1.5: "1.5", -0.000001: "-1e-06", 1e300: "1e+300", 3: "3.0",
		math.Inf(1): "1e999", math.Inf(-1): "-1e999", 0.1: "0.1", 123456789012345680: "1.2345678901234568e+17"}
	for f, want := range reals {
		if got := string(appendReal(nil, f)); got != want {
			t.Errorf("%v: %s, want %s", f, got, want)
		}
	}
	texts := map[string]string{"plain": "'plain'", "it's": "'it''s'", "a\nb": "'a\nb'", "": "''",
		"a\x00b": "CAST(X'610062' AS TEXT)", "\xff": "CAST(X'ff' AS TEXT)"}
	for s, want := range texts {
		if got := string(quoteText(nil, []byte(s))); got != want {
			t.Errorf("%q: %s, want %s", s, got, want)
		}
	}
	if got := string(appendBlob(nil, []byte{0, 0xff})); got != "X'00ff'" {
		t.Errorf("blob %s", got)
	}
}

// FuzzAppendReal: a real's literal reads back as the same float and
// stays a real (SQLite reads a literal without '.', 'e' as an integer).
func FuzzAppendReal(f *testing.F) {
	f.Add(1.0)
	f.Add(-0.0)
	f.Add(1e300)
	f.Add(5e-324)
	f.Fuzz(func(t *testing.T, x float64) {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return
		}
		s := string(appendReal(nil, x))
		back, err := strconv.ParseFloat(s, 64)
		if err != nil || back != x {
			t.Fatalf("%v → %s → %v %v", x, s, back, err)
		}
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			t.Fatalf("%v → %s reads as an integer", x, s)
		}
	})
}
