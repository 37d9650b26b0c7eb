package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// dump renders a jvalue compactly, numbers as their literal text, so that
// expected trees can be written as strings.
func dump(v jvalue) string {
	var b strings.Builder
	var walk func(v jvalue)
	walk = func(v jvalue) {
		switch v.kind {
		case jNull:
			b.WriteString("null")
		case jBool:
			fmt.Fprint(&b, v.b)
		case jNumber:
			b.WriteString("#" + v.s)
		case jString:
			fmt.Fprintf(&b, "%q", v.s)
		case jArray:
			b.WriteByte('[')
			for i, el := range v.arr {
				if i > 0 {
					b.WriteByte(',')
				}
				walk(el)
			}
			b.WriteByte(']')
		case jObject:
			b.WriteByte('{')
			for i, m := range v.obj {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, "%q:", m.key)
				walk(m.val)
			}
			b.WriteByte('}')
		}
	}
	walk(v)
	return b.String()
}

func TestParseJSONValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"null", "null", "null"},
		{"true", "true", "true"},
		{"false", " false ", "false"},
		{"empty object", "{}", "{}"},
		{"empty object spaced", " { \t\r\n} ", "{}"},
		{"empty array", "[]", "[]"},
		{"empty string", `""`, `""`},
		{"zero", "0", "#0"},
		{"negative zero", "-0", "#-0"},
		{"exponent", "1e5", "#1e5"},
		{"exponent signs", "[1E+5,1e-5,-1.25E-10]", "[#1E+5,#1e-5,#-1.25E-10]"},
		{"fraction", "0.5", "#0.5"},
		{"big int kept exact", "9007199254740993", "#9007199254740993"},
		{"huge int kept as text", "123456789012345678901234567890", "#123456789012345678901234567890"},
		{"nested", `{"a":[1,{"b":null},[true,false]],"c":{"d":"e"}}`, `{"a":[#1,{"b":null},[true,false]],"c":{"d":"e"}}`},
		{"member order kept", `{"z":1,"a":2,"m":3}`, `{"z":#1,"a":#2,"m":#3}`},
		{"simple escapes", `"\"\\\/\b\f\n\r\t"`, fmt.Sprintf("%q", "\"\\/\b\f\n\r\t")},
		{"unicode escape", `"\u00e9\u4e2D"`, `"é中"`},
		{"surrogate pair", `"\ud83d\ude00"`, `"😀"`},
		{"surrogate pair upper hex", `"x\uD83D\uDE00y"`, `"x😀y"`},
		{"raw utf8", `"ünï 😀"`, `"ünï 😀"`},
		{"escape after raw utf8", `"é\n"`, `"é\n"`},
		{"escaped replacement char", `"\ufffd"`, `"�"`},
		{"del is not a control char", "\"\x7f\"", `"\x7f"`},
		{"u2028 raw", "\"\u2028\"", `"\u2028"`},
		{"escaped key", `{"\u0073ql":1}`, `{"sql":#1}`},
		{"keys differ only beyond fold", `{"a":1,"b":2,"ab":3}`, `{"a":#1,"b":#2,"ab":#3}`},
		{"depth 64", strings.Repeat("[", 64) + strings.Repeat("]", 64), strings.Repeat("[", 64) + strings.Repeat("]", 64)},
		{"same key in sibling objects", `[{"a":1},{"a":2}]`, `[{"a":#1},{"a":#2}]`},
		{"same key at different depth", `{"a":{"a":1}}`, `{"a":{"a":#1}}`},
		{"empty key once", `{"":1}`, `{"":#1}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := parseJSON([]byte(tc.in))
			if err != nil {
				t.Fatalf("parseJSON(%q) = %v", tc.in, err)
			}
			if got := dump(v); got != tc.want {
				t.Fatalf("parseJSON(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

// bigObject builds an object with n distinct keys k0..k(n-1), then extra.
func bigObject(n int, extra string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		fmt.Fprintf(&b, `"k%d":%d,`, i, i)
	}
	b.WriteString(extra)
	b.WriteByte('}')
	return b.String()
}

func TestParseJSONInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		msg  string // substring of the error
	}{
		{"empty", "", "unexpected end of input"},
		{"whitespace only", "  ", "unexpected end of input"},
		{"duplicate key", `{"a":1,"a":2}`, `duplicate key "a"`},
		{"case-folded duplicate", `{"sql":1,"SQL":2}`, `duplicate key "SQL" (same as "sql" ignoring case)`},
		{"kelvin sign duplicate", `{"k":1,"\u212a":2}`, "duplicate key"},
		{"kelvin sign raw duplicate", "{\"K\":1,\"\u212a\":2}", "duplicate key"},
		{"long s duplicate", "{\"s\":1,\"\u017f\":2}", "duplicate key"},
		{"escaped duplicate", `{"sql":1,"\u0053QL":2}`, "duplicate key"},
		{"empty key duplicate", `{"":1,"":2}`, `duplicate key "" (same as "" ignoring case)`},
		{"empty key duplicate in big object", bigObject(20, `"":1,"":2`), `duplicate key ""`},
		{"late duplicate in big object", bigObject(20, `"K7":0`), `duplicate key "K7" (same as "k7" ignoring case)`},
		{"late unicode duplicate in big object", bigObject(20, `"\u212a19":0`), `(same as "k19" ignoring case)`},
		{"duplicate right at scan limit", bigObject(16, `"k0":0`), `duplicate key "k0"`},
		{"duplicate after map built", bigObject(17, `"x":1,"X":2`), `duplicate key "X" (same as "x"`},
		{"escaped nul", `"\u0000"`, "NUL"},
		{"escaped nul in key", `{"a\u0000":1}`, "NUL"},
		{"raw nul", "\"a\x00b\"", "control character or NUL"},
		{"raw nul after escape", "\"\\n\x00\"", "control character or NUL"},
		{"raw newline", "\"a\nb\"", "control character"},
		{"raw tab", "\"a\tb\"", "control character"},
		{"invalid utf8", "\"\xff\"", "invalid UTF-8"},
		{"invalid utf8 after escape", "\"\\n\xff\"", "invalid UTF-8"},
		{"truncated utf8", "\"\xc3\"", "invalid UTF-8"},
		{"encoded surrogate", "\"\xed\xa0\x80\"", "invalid UTF-8"},
		{"overlong", "\"\xc0\xaf\"", "invalid UTF-8"},
		{"lone high surrogate", `"\ud800"`, "unpaired surrogate"},
		{"lone low surrogate", `"\udc00"`, "unpaired surrogate"},
		{"high surrogate then letter", `"\ud83dx"`, "unpaired surrogate"},
		{"high surrogate then non-surrogate escape", `"\ud83d\u0041"`, "unpaired surrogate"},
		{"two high surrogates", `"\ud83d\ud83d"`, "unpaired surrogate"},
		{"reversed pair", `"\ude00\ud83d"`, "unpaired surrogate"},
		{"high surrogate at end", `"\ud83d`, "unpaired surrogate"},
		{"short unicode escape", `"\u12"`, `invalid \u escape`},
		{"bad hex", `"\u12g4"`, `invalid \u escape`},
		{"bad escape", `"\x"`, "invalid escape"},
		{"single quote escape", `"\'"`, "invalid escape"},
		{"depth 65 arrays", strings.Repeat("[", 65) + strings.Repeat("]", 65), "nesting deeper than 64"},
		{"depth 65 objects", strings.Repeat(`{"a":`, 65) + "1" + strings.Repeat("}", 65), "nesting deeper than 64"},
		{"trailing garbage", "{} x", "unexpected data after the top-level value"},
		{"two values", "1 2", "unexpected data after"},
		{"leading zero", "01", "unexpected data after"},
		{"leading zero in array", "[01]", "expected ',' or ']'"},
		{"negative leading zero", "-01", "unexpected data after"},
		{"dot without digits", "1.", "digits expected after '.'"},
		{"leading dot", ".5", "unexpected character"},
		{"plus sign", "+1", "unexpected character"},
		{"lone minus", "-", "invalid number"},
		{"minus letter", "-a", "invalid number"},
		{"exponent without digits", "1e", "digits expected in exponent"},
		{"exponent sign only", "1e+", "digits expected in exponent"},
		{"hex number", "0x10", "unexpected data after"},
		{"infinity", "Infinity", "unexpected character"},
		{"nan", "NaN", "unexpected character"},
		{"truncated true", "tru", "unexpected character"},
		{"truncated false", "fals", "unexpected character"},
		{"capital true", "True", "unexpected character"},
		{"trueish", "truex", "unexpected data after"},
		{"unterminated string", `"abc`, "unterminated string"},
		{"unterminated escaped string", `"ab\n`, "unterminated string"},
		{"unterminated escape", `"ab\`, "unterminated string"},
		{"unterminated object", `{"a":1`, "unexpected end of input in object"},
		{"unterminated array", `[1,2`, "unexpected end of input in array"},
		{"open brace", "{", "expected a string key"},
		{"open bracket", "[", "unexpected end of input"},
		{"trailing comma object", `{"a":1,}`, "expected a string key"},
		{"trailing comma array", `[1,]`, "unexpected character"},
		{"missing colon", `{"a" 1}`, "expected ':'"},
		{"missing value", `{"a":}`, "unexpected character"},
		{"unquoted key", `{a:1}`, "expected a string key"},
		{"number key", `{1:1}`, "expected a string key"},
		{"missing comma", `[1 2]`, "expected ',' or ']'"},
		{"missing comma object", `{"a":1 "b":2}`, "expected ',' or '}'"},
		{"single quoted", `'a'`, "unexpected character"},
		{"comment", `{} // x`, "unexpected data after"},
		{"bom", "\xef\xbb\xbf{}", "unexpected character"},
		{"form feed whitespace", "\f{}", "unexpected character"},
		{"nbsp whitespace", "\u00a0{}", "unexpected character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := parseJSON([]byte(tc.in))
			if err == nil {
				t.Fatalf("parseJSON(%q) = %s, want an error", tc.in, dump(v))
			}
			var se *syntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is %T, want *syntaxError", err, err)
			}
			if se.off < 0 || se.off > len(tc.in) {
				t.Fatalf("error offset %d outside the input of %d bytes", se.off, len(tc.in))
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("parseJSON(%q) error %q, want it to contain %q", tc.in, err, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), "Invalid JSON at byte ") {
				t.Fatalf("error text %q", err)
			}
		})
	}
}

func TestParseJSONErrorOffset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		off  int
	}{
		{"trailing", "{} x", 3},
		{"duplicate key points at the key", `{"a":1,"A":2}`, 7},
		{"bad char", `[1,?]`, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseJSON([]byte(tc.in))
			var se *syntaxError
			if !errors.As(err, &se) || se.off != tc.off {
				t.Fatalf("parseJSON(%q) = %v, want a syntax error at %d", tc.in, err, tc.off)
			}
		})
	}
}

func TestFoldKeyMatchesEqualFold(t *testing.T) {
	t.Parallel()
	pairs := []struct {
		name string
		a, b string
	}{
		{"ascii", "Sql", "sQL"},
		{"kelvin", "k", "\u212a"},
		{"long s", "S", "\u017f"},
		{"sigma", "Σ", "ς"},
		{"sigma 2", "σ", "ς"},
		{"dotless i not i", "i", "ı"},
		{"different", "a", "b"},
		{"different length", "ab", "a"},
	}
	for _, tc := range pairs {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if eq, feq := strings.EqualFold(tc.a, tc.b), foldKey(tc.a) == foldKey(tc.b); eq != feq {
				t.Fatalf("EqualFold(%q,%q)=%v but foldKey equality=%v", tc.a, tc.b, eq, feq)
			}
		})
	}
}

// TestFoldKeyAllRunes checks every rune: all members of its case-folding
// orbit fold to the same key, and a rune equal-fold to that key's rune.
func TestFoldKeyAllRunes(t *testing.T) {
	t.Parallel()
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		s := string(r)
		k := foldKey(s)
		if !strings.EqualFold(s, k) {
			t.Fatalf("foldKey(%q) = %q, not EqualFold", s, k)
		}
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if fk := foldKey(string(f)); fk != k {
				t.Fatalf("foldKey(%q) = %q but foldKey(%q) = %q", s, k, string(f), fk)
			}
		}
	}
}

// toAny converts a parsed tree to what encoding/json produces with UseNumber.
func toAny(v jvalue) any {
	switch v.kind {
	case jBool:
		return v.b
	case jNumber:
		return json.Number(v.s)
	case jString:
		return v.s
	case jArray:
		out := make([]any, len(v.arr))
		for i, el := range v.arr {
			out[i] = toAny(el)
		}
		return out
	case jObject:
		out := make(map[string]any, len(v.obj))
		for _, m := range v.obj {
			out[m.key] = toAny(m.val)
		}
		return out
	}
	return nil
}

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{
		`{"sql":"SELECT 1","params":[1,1.5,"x",true,false,null,{"$blob":"AP8="}]}`,
		`{"a":[1,{"b":null},[true,false]],"c":{"d":"e"}}`,
		`"\ud83d\ude00"`, `"\ud800"`, `"\u0000"`, "\"\xff\"", "\"a\x00\"",
		`{"sql":1,"SQL":2}`, `{"k":1,"\u212a":2}`, bigObject(20, `"K3":1`),
		"-0", "1e5", "9007199254740993", "01", "1.", "-", "tru", `"abc`, "{} x",
		strings.Repeat("[", 65) + strings.Repeat("]", 65), " [ ] ", `"\/\b\f\n\r\t"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := parseJSON(data)
		valid := json.Valid(data)
		if err != nil {
			var se *syntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is %T, want *syntaxError", err, err)
			}
			if se.off < 0 || se.off > len(data) {
				t.Fatalf("error offset %d outside %d bytes", se.off, len(data))
			}
			return
		}
		if !valid {
			t.Fatalf("parseJSON accepted %q, which encoding/json rejects", data)
		}
		// Everything accepted is valid UTF-8 without NUL, and means what
		// encoding/json says it means.
		var walk func(v jvalue, outer int)
		walk = func(v jvalue, outer int) {
			depth := outer
			if v.kind == jArray || v.kind == jObject {
				depth++
			}
			if depth > maxDepth {
				t.Fatalf("accepted nesting deeper than %d", maxDepth)
			}
			check := func(s string) {
				if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
					t.Fatalf("accepted string %q with invalid UTF-8 or NUL", s)
				}
			}
			switch v.kind {
			case jString:
				check(v.s)
			case jArray:
				for _, el := range v.arr {
					walk(el, depth)
				}
			case jObject:
				for i, m := range v.obj {
					check(m.key)
					for _, prev := range v.obj[:i] {
						if strings.EqualFold(prev.key, m.key) {
							t.Fatalf("accepted duplicate keys %q and %q", prev.key, m.key)
						}
					}
					walk(m.val, depth)
				}
			}
		}
		walk(v, 0)
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("encoding/json cannot decode accepted %q: %v", data, err)
		}
		if got := toAny(v); !reflect.DeepEqual(got, want) {
			t.Fatalf("parseJSON(%q) = %#v, encoding/json says %#v", data, got, want)
		}
	})
}

// FuzzFoldKey checks that the map path of duplicateKey (foldKey) finds
// exactly the duplicates strings.EqualFold finds.
func FuzzFoldKey(f *testing.F) {
	for _, p := range [][2]string{{"sql", "SQL"}, {"k", "\u212a"}, {"s", "\u017f"}, {"σ", "ς"}, {"i", "ı"}, {"ǅ", "ǆ"}, {"a", "b"}} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			return // keys are valid UTF-8 by the time they are compared
		}
		if eq, feq := strings.EqualFold(a, b), foldKey(a) == foldKey(b); eq != feq {
			t.Fatalf("EqualFold(%q,%q)=%v but foldKey equality=%v", a, b, eq, feq)
		}
	})
}
