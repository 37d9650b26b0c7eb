package gateway

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/praetorian/db-forge/forge"
)

// validRunes is what a client decodes from s once invalid bytes are
// replaced: each invalid byte becomes one U+FFFD.
func validRunes(s string) string { return string([]rune(s)) }

func TestAppendString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", `""`},
		{"plain", "hello", `"hello"`},
		{"quote", `a"b`, `"a\"b"`},
		{"backslash", `a\b`, `"a\\b"`},
		{"slash untouched", "a/b", `"a/b"`},
		{"newline", "a\nb", `"a\nb"`},
		{"carriage return", "\r", `"\r"`},
		{"tab", "\t", `"\t"`},
		{"nul", "\x00", `"\u0000"`},
		{"bell", "\x07", `"\u0007"`},
		{"backspace", "\b", `"\u0008"`},
		{"form feed", "\f", `"\u000c"`},
		{"unit separator", "\x1f", `"\u001f"`},
		{"del untouched", "\x7f", "\"\x7f\""},
		{"html untouched", "<a>&", `"<a>&"`},
		{"unicode untouched", "ünï 中 😀", `"ünï 中 😀"`},
		{"line separator", "a\u2028b", `"a\u2028b"`},
		{"paragraph separator", "\u2029", `"\u2029"`},
		{"invalid byte", "a\xffb", `"a\ufffdb"`},
		{"two invalid bytes", "\xff\xfe", `"\ufffd\ufffd"`},
		{"truncated sequence", "\xe4\xb8", `"\ufffd\ufffd"`},
		{"encoded surrogate", "\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`},
		{"real replacement char", "\ufffd", "\"\ufffd\""},
		{"mixed", "\"\\\n\x01\u2028\xff", `"\"\\\n\u0001\u2028\ufffd"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prefix := []byte("x:")
			got := string(appendString(prefix, tc.in))
			if got != "x:"+tc.want {
				t.Fatalf("appendString(%q) = %s, want %s", tc.in, got[2:], tc.want)
			}
			if gotBytes := string(appendString(nil, []byte(tc.in))); gotBytes != tc.want {
				t.Fatalf("appendString([]byte %q) = %s, want %s", tc.in, gotBytes, tc.want)
			}
			checkStringRoundTrip(t, tc.in)
		})
	}
}

func checkStringRoundTrip(t *testing.T, in string) {
	t.Helper()
	out := appendString(nil, in)
	if !utf8.Valid(out) {
		t.Fatalf("appendString(%q) = %q is not valid UTF-8", in, out)
	}
	if !json.Valid(out) {
		t.Fatalf("appendString(%q) = %q is not valid JSON", in, out)
	}
	var back string
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("Unmarshal(%q): %v", out, err)
	}
	if want := validRunes(in); back != want {
		t.Fatalf("round trip of %q = %q, want %q", in, back, want)
	}
	if strings.Contains(string(out), "\u2028") || strings.Contains(string(out), "\u2029") {
		t.Fatalf("appendString(%q) = %q has a raw U+2028/U+2029", in, out)
	}
	if string(appendString(nil, []byte(in))) != string(out) {
		t.Fatalf("string and []byte forms differ for %q", in)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\"b\\c", "\x00\x1f\n", "\u2028\u2029", "\xff", "\xed\xa0\x80", "😀", "\xf0\x9f\x98"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkStringRoundTrip(t, s)
	})
}

func TestAppendFloat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   float64
		want string
	}{
		{"integral", 1100, "1100.0"},
		{"zero", 0, "0.0"},
		{"negative zero", math.Copysign(0, -1), "-0.0"},
		{"one", 1, "1.0"},
		{"fraction", 1.5, "1.5"},
		{"negative fraction", -0.25, "-0.25"},
		{"third", 1.0 / 3, "0.3333333333333333"},
		{"precise", 123456789.125, "123456789.125"},
		{"large integral below 1e21", 1e20, "100000000000000000000.0"},
		{"1e21", 1e21, "1e+21"},
		{"negative 1e21", -1e21, "-1e+21"},
		{"big", 1.5e300, "1.5e+300"},
		{"max", math.MaxFloat64, "1.7976931348623157e+308"},
		{"1e-6 stays fixed", 1e-6, "0.000001"},
		{"1e-7", 1e-7, "1e-7"},
		{"negative 1.5e-7", -1.5e-7, "-1.5e-7"},
		{"1e-10", 1e-10, "1e-10"},
		{"1e-100", 1e-100, "1e-100"},
		{"smallest", math.SmallestNonzeroFloat64, "5e-324"},
		{"+Inf", math.Inf(1), `"Infinity"`},
		{"-Inf", math.Inf(-1), `"-Infinity"`},
		{"NaN", math.NaN(), `"NaN"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := string(appendFloat([]byte("["), tc.in))
			if got != "["+tc.want {
				t.Fatalf("appendFloat(%v) = %s, want %s", tc.in, got[1:], tc.want)
			}
		})
	}
}

func checkFloatRoundTrip(t *testing.T, f float64) {
	t.Helper()
	out := appendFloat(nil, f)
	var back float64
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("Unmarshal(%s) for %v: %v", out, f, err)
	}
	if math.Float64bits(back) != math.Float64bits(f) {
		t.Fatalf("appendFloat(%v) = %s reads back as %v", f, out, back)
	}
	// A REAL always looks like a real: a '.', or an exponent.
	if !strings.ContainsAny(string(out), ".e") {
		t.Fatalf("appendFloat(%v) = %s looks like an integer", f, out)
	}
}

func TestAppendFloatRoundTrip(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		var f float64
		switch r.IntN(4) {
		case 0: // any bit pattern
			f = math.Float64frombits(r.Uint64())
		case 1: // ordinary magnitudes
			f = (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(40)-20))
		case 2: // integers
			f = float64(r.Int64N(1<<62) - 1<<61)
		case 3: // near the format switch points
			base := []float64{1e-6, 1e21}[r.IntN(2)]
			f = math.Nextafter(base, float64(r.IntN(3)-1)*math.Inf(1))
			if r.IntN(2) == 0 {
				f = -f
			}
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			continue
		}
		checkFloatRoundTrip(t, f)
	}
}

func FuzzAppendFloat(f *testing.F) {
	for _, v := range []float64{0, 1100, 1.5, 1e21, 1e-7, 123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		if math.IsInf(v, 0) || math.IsNaN(v) {
			if out := string(appendFloat(nil, v)); !json.Valid([]byte(out)) || out[0] != '"' {
				t.Fatalf("appendFloat(%v) = %s", v, out)
			}
			return
		}
		checkFloatRoundTrip(t, v)
		if got, want := string(appendFloat(nil, v)), string(appendFloatStrconv(nil, v)); got != want {
			t.Fatalf("appendFloat(%v) = %s, strconv's shortest form %s", v, got, want)
		}
	})
}

func TestAppendBlob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"nil", nil, `{"$blob":""}`},
		{"two bytes", []byte{0x00, 0xff}, `{"$blob":"AP8="}`},
		{"padding two", []byte{0xfb}, `{"$blob":"+w=="}`},
		{"standard alphabet", []byte{0xfb, 0xff, 0xbf}, `{"$blob":"+/+/"}`},
		{"text", []byte("hello"), `{"$blob":"aGVsbG8="}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := string(appendBlob([]byte(","), tc.in))
			if got != ","+tc.want {
				t.Fatalf("appendBlob(%x) = %s, want %s", tc.in, got[1:], tc.want)
			}
			// The output form is also the input form.
			v, err := decodeQuery([]byte(`{"sql":"x","params":[` + tc.want + `]}`))
			if err != nil {
				t.Fatalf("decodeQuery of the blob form: %v", err)
			}
			if p := v.Params.Positional[0]; p.Kind != forge.Blob || string(p.Bytes) != string(tc.in) {
				t.Fatalf("blob form decodes to %#v, want %x", p, tc.in)
			}
		})
	}
}

// fakeRow is a forge.Row over fixed values.
type fakeRow []forge.Value

func (r fakeRow) Kind(c int) forge.Kind { return r[c].Kind }
func (r fakeRow) Int(c int) int64       { return r[c].Int }
func (r fakeRow) Float(c int) float64   { return r[c].Float }
func (r fakeRow) Text(c int) []byte     { return []byte(r[c].Str) }
func (r fakeRow) Blob(c int) []byte     { return r[c].Bytes }
func intRow(vs ...int64) fakeRow        { return mapRow(vs, forge.IntValue) }
func mapRow[T any](vs []T, f func(T) forge.Value) fakeRow {
	r := make(fakeRow, len(vs))
	for i, v := range vs {
		r[i] = f(v)
	}
	return r
}

func TestRowsEncoder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		columns []string
		rows    []fakeRow
		res     forge.Result
		want    string
	}{
		{
			name:    "every kind",
			columns: []string{"i", "f", "t", "b", "n", "r"},
			rows: []fakeRow{{
				forge.IntValue(-9007199254740993),
				forge.FloatValue(1100),
				forge.TextValue("it's \"q\"\n"),
				forge.BlobValue([]byte{0x00, 0xff}),
				forge.NullValue(),
				forge.FloatValue(math.Inf(1)),
			}},
			res:  forge.Result{ReturnsRows: true, RowsAffected: 1},
			want: `{"data":[{"i":-9007199254740993,"f":1100.0,"t":"it's \"q\"\n","b":{"$blob":"AP8="},"n":null,"r":"Infinity"}],"rows_affected":1}`,
		},
		{
			name:    "two rows",
			columns: []string{"id", "description"},
			rows: []fakeRow{
				{forge.IntValue(1), forge.TextValue("a")},
				{forge.IntValue(2), forge.TextValue("b")},
			},
			res:  forge.Result{ReturnsRows: true, RowsAffected: 2},
			want: `{"data":[{"id":1,"description":"a"},{"id":2,"description":"b"}],"rows_affected":2}`,
		},
		{
			name:    "no rows",
			columns: []string{"id"},
			res:     forge.Result{ReturnsRows: true},
			want:    `{"data":[],"rows_affected":0}`,
		},
		{
			name:    "duplicate column names",
			columns: []string{"a", "b", "a"},
			rows:    []fakeRow{intRow(1, 2, 3)},
			res:     forge.Result{ReturnsRows: true, RowsAffected: 1},
			want:    `{"data":[{"a":3,"b":2}],"rows_affected":1}`,
		},
		{
			name:    "three duplicates",
			columns: []string{"x", "x", "y", "x", "y"},
			rows:    []fakeRow{intRow(1, 2, 3, 4, 5), intRow(6, 7, 8, 9, 10)},
			res:     forge.Result{ReturnsRows: true, RowsAffected: 2},
			want:    `{"data":[{"x":4,"y":5},{"x":9,"y":10}],"rows_affected":2}`,
		},
		{
			name:    "names differing in case are distinct",
			columns: []string{"a", "A"},
			rows:    []fakeRow{intRow(1, 2)},
			res:     forge.Result{ReturnsRows: true, RowsAffected: 1},
			want:    `{"data":[{"a":1,"A":2}],"rows_affected":1}`,
		},
		{
			name:    "escaped column names",
			columns: []string{"a\"b", "c\u2028", "\xff"},
			rows:    []fakeRow{intRow(1, 2, 3)},
			res:     forge.Result{ReturnsRows: true, RowsAffected: 1},
			want:    `{"data":[{"a\"b":1,"c\u2028":2,"\ufffd":3}],"rows_affected":1}`,
		},
		{
			name: "statement without rows",
			res:  forge.Result{RowsAffected: 3},
			want: `{"message":"Query executed successfully.","rows_affected":3}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := &rowsEncoder{}
			if tc.res.ReturnsRows {
				if err := e.Columns(tc.columns); err != nil {
					t.Fatal(err)
				}
				for _, r := range tc.rows {
					if err := e.Row(r); err != nil {
						t.Fatal(err)
					}
				}
			}
			got := string(e.finish(tc.res))
			if got != tc.want {
				t.Fatalf("body =\n %s\nwant\n %s", got, tc.want)
			}
			if !json.Valid([]byte(got)) {
				t.Fatalf("body %s is not valid JSON", got)
			}
		})
	}
}

// TestRowsEncoderReuse runs bodies through one pooled encoder in turn: the
// keys and plan of one query must not leak into the next.
func TestRowsEncoderReuse(t *testing.T) {
	t.Parallel()
	e := &rowsEncoder{}
	run := func(cols []string, rows []fakeRow, res forge.Result) string {
		e.buf = e.buf[:0]
		e.rows = 0
		if res.ReturnsRows {
			if err := e.Columns(cols); err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				if err := e.Row(r); err != nil {
					t.Fatal(err)
				}
			}
		}
		return string(e.finish(res))
	}
	steps := []struct {
		cols []string
		rows []fakeRow
		res  forge.Result
		want string
	}{
		{[]string{"long_column_name", "b", "c"}, []fakeRow{intRow(1, 2, 3)}, forge.Result{ReturnsRows: true, RowsAffected: 1},
			`{"data":[{"long_column_name":1,"b":2,"c":3}],"rows_affected":1}`},
		{[]string{"x", "y"}, []fakeRow{intRow(4, 5)}, forge.Result{ReturnsRows: true, RowsAffected: 1},
			`{"data":[{"x":4,"y":5}],"rows_affected":1}`},
		{nil, nil, forge.Result{RowsAffected: 9}, `{"message":"Query executed successfully.","rows_affected":9}`},
		{[]string{"a", "bb", "a", "ccc"}, []fakeRow{intRow(1, 2, 3, 4)}, forge.Result{ReturnsRows: true, RowsAffected: 1},
			`{"data":[{"a":3,"bb":2,"ccc":4}],"rows_affected":1}`},
		{[]string{"z"}, nil, forge.Result{ReturnsRows: true}, `{"data":[],"rows_affected":0}`},
	}
	for i, s := range steps {
		if got := run(s.cols, s.rows, s.res); got != s.want {
			t.Fatalf("step %d: body =\n %s\nwant\n %s", i, got, s.want)
		}
	}
}

func TestEncoderPool(t *testing.T) {
	t.Parallel()
	e := getEncoder()
	if err := e.Columns([]string{"a"}); err != nil {
		t.Fatal(err)
	}
	if err := e.Row(intRow(1)); err != nil {
		t.Fatal(err)
	}
	_ = e.finish(forge.Result{ReturnsRows: true, RowsAffected: 1})
	putEncoder(e)
	e2 := getEncoder()
	defer putEncoder(e2)
	if len(e2.buf) != 0 || e2.rows != 0 {
		t.Fatalf("pooled encoder not reset: %d bytes, %d rows", len(e2.buf), e2.rows)
	}
	if err := e2.Columns([]string{"b"}); err != nil {
		t.Fatal(err)
	}
	if err := e2.Row(intRow(2)); err != nil {
		t.Fatal(err)
	}
	if got, want := string(e2.finish(forge.Result{ReturnsRows: true, RowsAffected: 1})), `{"data":[{"b":2}],"rows_affected":1}`; got != want {
		t.Fatalf("body %s, want %s", got, want)
	}
}

func TestMessageBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msg  string
		kv   []string
		want string
	}{
		{"message only", "Table 'tasks' created successfully.", nil, `{"message":"Table 'tasks' created successfully."}`},
		{"with fields", "Database deleted successfully.", []string{"db_name", "my-db"}, `{"message":"Database deleted successfully.","db_name":"my-db"}`},
		{"two fields", "m", []string{"db_name", "x", "container_id", ""}, `{"message":"m","db_name":"x","container_id":""}`},
		{"odd field ignored", "m", []string{"k"}, `{"message":"m"}`},
		{"escaped", "a\"b", []string{"k\n", "v\\"}, `{"message":"a\"b","k\n":"v\\"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := string(messageBody(tc.msg, tc.kv...)); got != tc.want {
				t.Fatalf("messageBody = %s, want %s", got, tc.want)
			}
		})
	}
}

// appendFloatStrconv is appendFloat without its fast way for short
// decimals: strconv's shortest form, as before appendShortDecimal.
func appendFloatStrconv(b []byte, f float64) []byte {
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		return appendFloat(b, f) // never the fast way
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, 'f', -1, 64)
	if !strings.Contains(string(b[start:]), ".") {
		b = append(b, '.', '0')
	}
	return b
}

// TestAppendShortDecimalAgrees: the fast way for short decimals writes
// what strconv writes, byte for byte, for decimals of every length up to
// the bound, near it and past it, and any bit pattern.
func TestAppendShortDecimalAgrees(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	check := func(f float64) {
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return
		}
		if got, want := string(appendFloat([]byte("x"), f)), string(appendFloatStrconv([]byte("x"), f)); got != want {
			t.Fatalf("appendFloat(%v) = %s, strconv's shortest form %s", f, got[1:], want[1:])
		}
	}
	for _, f := range []float64{1e-6, 1.5e-6, 0.1, 0.2, 0.3, 0.7, 1.1, 2.675, 19.99, 61728.5, 1 << 52, 1<<52 - 1, 1<<52 - 0.5,
		1<<52 + 1, 1 << 53, 4503599627.370495, 450359962737.0495, 0.000001, 0.000012, 0.123456, 0.1234567, 100, 1e15, 1e20} {
		check(f)
		check(-f)
		check(math.Nextafter(f, 0))
		check(math.Nextafter(f, math.Inf(1)))
	}
	for range 2_000_000 {
		var f float64
		switch r.IntN(5) {
		case 0: // d decimals, every magnitude up to the bound and past it
			d := r.IntN(9)
			f = float64(r.Int64N(1<<(1+r.IntN(55)))) / math.Pow(10, float64(d))
		case 1: // a few decimals of a small number
			f = float64(r.Int64N(100_000_000)) / math.Pow(10, float64(r.IntN(7)))
		case 2: // any bit pattern
			f = math.Float64frombits(r.Uint64())
		case 3: // ordinary magnitudes
			f = (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(30)-8))
		case 4: // next to a short decimal
			f = float64(r.Int64N(1_000_000)) / 100
			f = math.Nextafter(f, float64(r.IntN(3)-1)*math.Inf(1))
		}
		if r.IntN(2) == 0 {
			f = -f
		}
		check(f)
	}
}
