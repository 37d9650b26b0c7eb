package gateway

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// A strict JSON reader for request bodies. encoding/json matches field
// names case-insensitively and keeps the last of duplicate keys, so
// {"sql": "SELECT 1", "SQL": "DROP TABLE t"} would be ambiguous; this reader
// refuses duplicates (exact or case-folded), invalid UTF-8, NUL characters,
// trailing data and nesting deeper than maxDepth, and keeps numbers as their
// literal text so integers stay exact to 64 bits.

const maxDepth = 64

type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

func (k jkind) String() string {
	return [...]string{"null", "boolean", "number", "string", "array", "object"}[k]
}

type jvalue struct {
	kind jkind
	b    bool
	s    string // string value, or a number's literal text
	arr  []jvalue
	obj  []jmember
}

type jmember struct {
	key string
	val jvalue
}

// syntaxError is a body that is not acceptable JSON.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("Invalid JSON at byte %d: %s.", e.off, e.msg)
}

type jparser struct {
	data  []byte
	pos   int
	depth int
}

// parseJSON parses one JSON value that must fill data (but for whitespace).
func parseJSON(data []byte) (jvalue, error) {
	p := jparser{data: data}
	p.skipSpace()
	v, err := p.value()
	if err != nil {
		return jvalue{}, err
	}
	p.skipSpace()
	if p.pos != len(p.data) {
		return jvalue{}, p.fail("unexpected data after the top-level value")
	}
	return v, nil
}

func (p *jparser) fail(msg string) error { return &syntaxError{off: p.pos, msg: msg} }

func (p *jparser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jparser) value() (jvalue, error) {
	if p.pos >= len(p.data) {
		return jvalue{}, p.fail("unexpected end of input")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, err := p.str()
		return jvalue{kind: jString, s: s}, err
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case p.literal("true"):
		return jvalue{kind: jBool, b: true}, nil
	case p.literal("false"):
		return jvalue{kind: jBool}, nil
	case p.literal("null"):
		return jvalue{kind: jNull}, nil
	}
	return jvalue{}, p.fail("unexpected character")
}

func (p *jparser) literal(word string) bool {
	if strings.HasPrefix(string(p.data[p.pos:min(len(p.data), p.pos+len(word))]), word) {
		p.pos += len(word)
		return true
	}
	return false
}

func (p *jparser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.fail(fmt.Sprintf("nesting deeper than %d", maxDepth))
	}
	return nil
}

func (p *jparser) object() (jvalue, error) {
	if err := p.enter(); err != nil {
		return jvalue{}, err
	}
	defer func() { p.depth-- }()
	p.pos++ // '{'
	v := jvalue{kind: jObject, obj: make([]jmember, 0, 4)}
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return v, nil
	}
	var folded map[string]struct{} // case-folded keys, once the object grows
	for {
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return jvalue{}, p.fail("expected a string key")
		}
		keyAt := p.pos
		key, err := p.str()
		if err != nil {
			return jvalue{}, err
		}
		if dup, ok := duplicateKey(v.obj, &folded, key); ok {
			return jvalue{}, &syntaxError{off: keyAt, msg: fmt.Sprintf("duplicate key %q (same as %q ignoring case)", key, dup)}
		}
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return jvalue{}, p.fail("expected ':'")
		}
		p.pos++
		p.skipSpace()
		val, err := p.value()
		if err != nil {
			return jvalue{}, err
		}
		v.obj = append(v.obj, jmember{key: key, val: val})
		p.skipSpace()
		if p.pos >= len(p.data) {
			return jvalue{}, p.fail("unexpected end of input in object")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return v, nil
		default:
			return jvalue{}, p.fail("expected ',' or '}'")
		}
	}
}

// duplicateKey returns the earlier key that key repeats, ignoring case, and
// true; or false when key is new. (The earlier key may be "": an empty key
// repeated is a duplicate too.) Small objects are scanned; larger ones keep a
// set of folded keys.
func duplicateKey(members []jmember, folded *map[string]struct{}, key string) (string, bool) {
	const scanLimit = 16
	if len(members) < scanLimit {
		for _, m := range members {
			if strings.EqualFold(m.key, key) {
				return m.key, true
			}
		}
		return "", false
	}
	if *folded == nil {
		*folded = make(map[string]struct{}, 2*scanLimit)
		for _, m := range members {
			(*folded)[foldKey(m.key)] = struct{}{}
		}
	}
	f := foldKey(key)
	if _, ok := (*folded)[f]; ok {
		for _, m := range members {
			if strings.EqualFold(m.key, key) {
				return m.key, true
			}
		}
	}
	(*folded)[f] = struct{}{}
	return "", false
}

// foldKey maps every key that strings.EqualFold treats as equal to one
// string: each rune becomes the smallest rune of its simple-folding orbit.
func foldKey(s string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, s)
}

func (p *jparser) array() (jvalue, error) {
	if err := p.enter(); err != nil {
		return jvalue{}, err
	}
	defer func() { p.depth-- }()
	p.pos++ // '['
	v := jvalue{kind: jArray}
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return v, nil
	}
	for {
		p.skipSpace()
		el, err := p.value()
		if err != nil {
			return jvalue{}, err
		}
		v.arr = append(v.arr, el)
		p.skipSpace()
		if p.pos >= len(p.data) {
			return jvalue{}, p.fail("unexpected end of input in array")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return v, nil
		default:
			return jvalue{}, p.fail("expected ',' or ']'")
		}
	}
}

func (p *jparser) number() (jvalue, error) {
	start := p.pos
	d := p.data
	if d[p.pos] == '-' {
		p.pos++
	}
	switch {
	case p.pos < len(d) && d[p.pos] == '0':
		p.pos++
	case p.pos < len(d) && d[p.pos] >= '1' && d[p.pos] <= '9':
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
		}
	default:
		return jvalue{}, p.fail("invalid number")
	}
	if p.pos < len(d) && d[p.pos] == '.' {
		p.pos++
		if p.pos >= len(d) || d[p.pos] < '0' || d[p.pos] > '9' {
			return jvalue{}, p.fail("invalid number: digits expected after '.'")
		}
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
		}
	}
	if p.pos < len(d) && (d[p.pos] == 'e' || d[p.pos] == 'E') {
		p.pos++
		if p.pos < len(d) && (d[p.pos] == '+' || d[p.pos] == '-') {
			p.pos++
		}
		if p.pos >= len(d) || d[p.pos] < '0' || d[p.pos] > '9' {
			return jvalue{}, p.fail("invalid number: digits expected in exponent")
		}
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
		}
	}
	return jvalue{kind: jNumber, s: string(d[start:p.pos])}, nil
}

// str reads a string literal, refusing raw control characters, NUL
// (escaped or not), invalid UTF-8 and unpaired surrogates.
func (p *jparser) str() (string, error) {
	p.pos++ // opening quote
	d := p.data
	start := p.pos
	// Fast path: no escapes.
	for p.pos < len(d) {
		c := d[p.pos]
		if c == '"' {
			s := d[start:p.pos]
			if !utf8.Valid(s) {
				return "", p.fail("invalid UTF-8 in string")
			}
			p.pos++
			return intern(s), nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", p.fail("control character or NUL in string")
		}
		p.pos++
	}
	var b strings.Builder
	b.Write(d[start:p.pos])
	for p.pos < len(d) {
		c := d[p.pos]
		switch {
		case c == '"':
			p.pos++
			s := b.String()
			if !utf8.ValidString(s) {
				return "", p.fail("invalid UTF-8 in string")
			}
			return s, nil
		case c < 0x20:
			return "", p.fail("control character or NUL in string")
		case c != '\\':
			b.WriteByte(c)
			p.pos++
			continue
		}
		p.pos++
		if p.pos >= len(d) {
			break
		}
		switch e := d[p.pos]; e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := p.hex4(p.pos + 1)
			if !ok {
				return "", p.fail("invalid \\u escape")
			}
			p.pos += 4
			if utf16.IsSurrogate(r) {
				r2, ok := rune(0), false
				if p.pos+2 < len(d) && d[p.pos+1] == '\\' && d[p.pos+2] == 'u' {
					r2, ok = p.hex4(p.pos + 3)
				}
				r = utf16.DecodeRune(r, r2)
				if !ok || r == utf8.RuneError {
					return "", p.fail("unpaired surrogate in \\u escape")
				}
				p.pos += 6
			}
			if r == 0 {
				return "", p.fail("NUL character in string")
			}
			b.WriteRune(r)
		default:
			return "", p.fail("invalid escape")
		}
		p.pos++
	}
	return "", p.fail("unterminated string")
}

// intern returns the body's field names as constants, without copying
// them: the compiler turns a switch on string(b) into comparisons.
func intern(b []byte) string {
	switch string(b) {
	case "sql":
		return "sql"
	case "params":
		return "params"
	case "rows":
		return "rows"
	case "table_name":
		return "table_name"
	case "columns":
		return "columns"
	case "name":
		return "name"
	case "type":
		return "type"
	case "$blob":
		return "$blob"
	}
	return string(b)
}

func (p *jparser) hex4(at int) (rune, bool) {
	if at+4 > len(p.data) {
		return 0, false
	}
	var r rune
	for _, c := range p.data[at : at+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
