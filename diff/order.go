package diff

import (
	"bytes"
	"math"

	"github.com/praetorian/db-forge/forge"
)

// SQLite's order of values, which the two cursors' ORDER BY follows and
// the merge must agree with exactly: NULL, then numbers (INTEGER and REAL
// compared by value), then TEXT (by the collation), then BLOB (memcmp).

// value is one side's value of a column, read from a row or decoded from
// a cursor.
type value struct {
	kind forge.Kind
	i    int64
	f    float64
	b    []byte // TEXT or BLOB
}

func valueOf(r forge.Row, col int) value {
	switch k := r.Kind(col); k {
	case forge.Integer:
		return value{kind: k, i: r.Int(col)}
	case forge.Float:
		return value{kind: k, f: r.Float(col)}
	case forge.Text:
		return value{kind: k, b: r.Text(col)}
	case forge.Blob:
		return value{kind: k, b: r.Blob(col)}
	}
	return value{}
}

func (v value) forge() forge.Value {
	switch v.kind {
	case forge.Integer:
		return forge.IntValue(v.i)
	case forge.Float:
		return forge.FloatValue(v.f)
	case forge.Text:
		return forge.TextValue(string(v.b))
	case forge.Blob:
		return forge.BlobValue(bytes.Clone(v.b))
	}
	return forge.NullValue()
}

func fromForge(v forge.Value) value {
	switch v.Kind {
	case forge.Integer:
		return value{kind: v.Kind, i: v.Int}
	case forge.Float:
		return value{kind: v.Kind, f: v.Float}
	case forge.Text:
		return value{kind: v.Kind, b: []byte(v.Str)}
	case forge.Blob:
		return value{kind: v.Kind, b: v.Bytes}
	}
	return value{}
}

func class(k forge.Kind) int {
	switch k {
	case forge.Null:
		return 0
	case forge.Integer, forge.Float:
		return 1
	case forge.Text:
		return 2
	}
	return 3
}

// compare orders a and b as SQLite's ORDER BY does under collation coll
// (BINARY, NOCASE or RTRIM; only TEXT is collated).
func compare(a, b value, coll string) int {
	ca, cb := class(a.kind), class(b.kind)
	if ca != cb {
		return ca - cb
	}
	switch ca {
	case 0:
		return 0
	case 1:
		switch {
		case a.kind == forge.Integer && b.kind == forge.Integer:
			return cmpInt(a.i, b.i)
		case a.kind == forge.Float && b.kind == forge.Float:
			return cmpFloat(a.f, b.f)
		case a.kind == forge.Integer:
			return intFloat(a.i, b.f)
		default:
			return -intFloat(b.i, a.f)
		}
	case 2:
		return collate(a.b, b.b, coll)
	}
	return bytes.Compare(a.b, b.b)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// intFloat is sqlite3IntFloatCompare: exact for every int64, where a
// conversion to float64 would round.
func intFloat(i int64, r float64) int {
	if math.IsNaN(r) {
		return 1 // SQLite stores no NaN; as it orders one
	}
	if r < -9223372036854775808.0 {
		return 1
	}
	if r >= 9223372036854775808.0 {
		return -1
	}
	if c := cmpInt(i, int64(r)); c != 0 {
		return c
	}
	return cmpFloat(float64(i), r)
}

// collate compares two texts as SQLite's built-in collations do.
func collate(a, b []byte, coll string) int {
	switch coll {
	case "NOCASE": // sqlite3StrNICmp over the shorter length, then the lengths
		n := min(len(a), len(b))
		for i := 0; i < n; i++ {
			x, y := lower(a[i]), lower(b[i])
			if x != y {
				return int(x) - int(y)
			}
		}
		return len(a) - len(b)
	case "RTRIM": // trailing spaces do not count
		a, b = bytes.TrimRight(a, " "), bytes.TrimRight(b, " ")
	}
	return bytes.Compare(a, b)
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// same reports whether two values are the same value of the same storage
// class (1 and 1.0 differ: the storage class changed).
func same(a forge.Row, i int, b forge.Row, j int) bool {
	k := a.Kind(i)
	if k != b.Kind(j) {
		return false
	}
	switch k {
	case forge.Integer:
		return a.Int(i) == b.Int(j)
	case forge.Float:
		x, y := a.Float(i), b.Float(j)
		return x == y || math.IsNaN(x) && math.IsNaN(y)
	case forge.Text:
		return bytes.Equal(a.Text(i), b.Text(j))
	case forge.Blob:
		return bytes.Equal(a.Blob(i), b.Blob(j))
	}
	return true
}
