package diff

import (
	"math"
	"reflect"
	"testing"

	"github.com/praetorian/db-forge/forge"
)

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	key := []forge.Value{forge.NullValue(), forge.IntValue(math.MinInt64), forge.FloatValue(math.Inf(-1)),
		forge.FloatValue(-0.5), forge.TextValue("é\x00\xff"), forge.BlobValue([]byte{0, 1})}
	c := encodeCursor("checkpoint:x", "t", key)
	p, err := DecodeCursor(c, "checkpoint:x")
	if err != nil {
		t.Fatal(err)
	}
	if p.table != "t" || !reflect.DeepEqual(p.key, key) {
		t.Fatalf("decoded %+v, want %v", p, key)
	}
	if _, err := DecodeCursor(c, "db:x"); err == nil {
		t.Fatal("a cursor of another against decoded")
	}
}

// FuzzDiffQuery: the decoders of a diff's client input (the "against"
// parameter and the cursor) never panic, refuse with the client's error,
// and what the cursor decoder takes encodes back to itself.
func FuzzDiffQuery(f *testing.F) {
	f.Add("checkpoint:x", encodeCursor("checkpoint:x", "t", []forge.Value{forge.IntValue(1)}))
	f.Add("db:y", encodeCursor("db:y", "t", []forge.Value{forge.TextValue("a"), forge.NullValue(), forge.BlobValue(nil)}))
	f.Add("db:", "eyJ2IjoxfQ")
	f.Add("x", "")
	f.Fuzz(func(t *testing.T, against, cursor string) {
		if _, _, err := ParseAgainst(against); err != nil {
			if _, ok := err.(*forge.InputError); !ok {
				t.Fatalf("ParseAgainst(%q): %T %v", against, err, err)
			}
		}
		p, err := DecodeCursor(cursor, against)
		if err != nil {
			if _, ok := err.(*forge.InputError); !ok {
				t.Fatalf("DecodeCursor: %T %v", err, err)
			}
			return
		}
		again, err := DecodeCursor(encodeCursor(against, p.table, p.key), against)
		if err != nil || again.table != p.table || len(again.key) != len(p.key) {
			t.Fatalf("re-encoded cursor: %+v, %v (was %+v)", again, err, p)
		}
		for i := range p.key {
			a, b := p.key[i], again.key[i]
			if a.Kind != b.Kind || a.Int != b.Int || a.Str != b.Str || string(a.Bytes) != string(b.Bytes) ||
				math.Float64bits(a.Float) != math.Float64bits(b.Float) {
				t.Fatalf("value %d: %+v, again %+v", i, a, b)
			}
		}
	})
}

// compare agrees with SQLite's order of an integer and a real where a
// float64 conversion would not.
func TestIntFloatOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		i    int64
		r    float64
		want int
	}{
		{1, 1.0, 0}, {1, 1.5, -1}, {2, 1.5, 1}, {math.MaxInt64, 9223372036854775808.0, -1},
		{math.MaxInt64 - 1, 9223372036854775807.0, -1}, {math.MinInt64, -9223372036854775808.0, 0},
		{0, math.Inf(-1), 1}, {0, math.Inf(1), -1},
	} {
		if got := compare(value{kind: forge.Integer, i: tc.i}, value{kind: forge.Float, f: tc.r}, "BINARY"); got != tc.want {
			t.Errorf("%d vs %g = %d, want %d", tc.i, tc.r, got, tc.want)
		}
	}
	for _, tc := range []struct {
		a, b, coll string
		sign       int
	}{
		{"a", "B", "NOCASE", -1}, {"a", "B", "BINARY", 1}, {"ab ", "ab", "RTRIM", 0}, {"ab", "abc", "NOCASE", -1}, {"_", "a", "NOCASE", -1},
	} {
		got := compare(value{kind: forge.Text, b: []byte(tc.a)}, value{kind: forge.Text, b: []byte(tc.b)}, tc.coll)
		if got < 0 && tc.sign >= 0 || got > 0 && tc.sign <= 0 || got == 0 && tc.sign != 0 {
			t.Errorf("%q vs %q %s = %d", tc.a, tc.b, tc.coll, got)
		}
	}
}
