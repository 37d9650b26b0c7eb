package guest

import (
	"encoding/json"
	"errors"
	"math"
	"sort"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// A small JSON reader and writer without reflection: Go's encoding/json
// works by reflection, which is slow in WebAssembly (a tiny document
// costs tens of microseconds there), and every call reads a result and
// writes an answer. Values are nil, bool, json.Number, string, []any
// and map[string]any; the writer also takes the common Go types and
// hands any other to encoding/json.

var errSyntax = errors.New("guest: invalid JSON")

// ParseJSON reads one JSON value: objects as map[string]any, arrays as
// []any, numbers as json.Number.
func ParseJSON(b []byte) (any, error) {
	p := parser{b: b}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.b) {
		return nil, errSyntax
	}
	return v, nil
}

type parser struct {
	b []byte
	i int
}

func (p *parser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (any, error) {
	if depth > 512 {
		return nil, errSyntax
	}
	p.space()
	if p.i >= len(p.b) {
		return nil, errSyntax
	}
	switch c := p.b[p.i]; {
	case c == '{':
		p.i++
		m := map[string]any{}
		p.space()
		if p.i < len(p.b) && p.b[p.i] == '}' {
			p.i++
			return m, nil
		}
		for {
			p.space()
			if p.i >= len(p.b) || p.b[p.i] != '"' {
				return nil, errSyntax
			}
			k, err := p.str()
			if err != nil {
				return nil, err
			}
			p.space()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				return nil, errSyntax
			}
			p.i++
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m[k] = v
			if more, err := p.after('}'); err != nil {
				return nil, err
			} else if !more {
				return m, nil
			}
		}
	case c == '[':
		p.i++
		a := []any{}
		p.space()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return a, nil
		}
		for {
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
			if more, err := p.after(']'); err != nil {
				return nil, err
			} else if !more {
				return a, nil
			}
		}
	case c == '"':
		return p.str()
	case c == 't':
		return true, p.word("true")
	case c == 'f':
		return false, p.word("false")
	case c == 'n':
		return nil, p.word("null")
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.i
		for p.i < len(p.b) {
			c := p.b[p.i]
			if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
				p.i++
				continue
			}
			break
		}
		n := p.b[start:p.i]
		if !validNumber(n) {
			return nil, errSyntax
		}
		return json.Number(n), nil
	}
	return nil, errSyntax
}

// validNumber checks JSON's number grammar: -?int frac? exp?.
func validNumber(n []byte) bool {
	i := 0
	if i < len(n) && n[i] == '-' {
		i++
	}
	digits := func() int {
		s := i
		for i < len(n) && n[i] >= '0' && n[i] <= '9' {
			i++
		}
		return i - s
	}
	if i < len(n) && n[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(n) && n[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(n) && (n[i] == 'e' || n[i] == 'E') {
		i++
		if i < len(n) && (n[i] == '+' || n[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(n)
}

// field finds member key of the object in b and reads its value,
// skipping the others without building them into a map.
func field(b []byte, key string) (any, bool, error) {
	p := parser{b: b}
	p.space()
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return nil, false, errSyntax
	}
	p.i++
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		return nil, false, nil
	}
	for {
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, false, errSyntax
		}
		k, err := p.strShared() // compared only, never kept
		if err != nil {
			return nil, false, err
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, false, errSyntax
		}
		p.i++
		if k == key {
			v, err := p.valueShared()
			return v, err == nil, err
		}
		if _, err := p.value(1); err != nil {
			return nil, false, err
		}
		p.space()
		if p.i < len(p.b) && p.b[p.i] == ',' {
			p.i++
			continue
		}
		return nil, false, nil
	}
}

// after reads what follows a member of an object or an array: a comma
// (more true) or close (more false); anything else is errSyntax.
func (p *parser) after(close byte) (more bool, err error) {
	p.space()
	if p.i >= len(p.b) {
		return false, errSyntax
	}
	switch p.b[p.i] {
	case ',':
		p.i++
		return true, nil
	case close:
		p.i++
		return false, nil
	}
	return false, errSyntax
}

// valueShared reads a value at p.i: a string or number as a view of
// p.b (one allocation, its boxing), anything else as value does.
func (p *parser) valueShared() (any, error) {
	p.space()
	if p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			s, err := p.strShared()
			if err != nil {
				return nil, err
			}
			return s, nil
		case c == '-' || (c >= '0' && c <= '9'):
			n, err := p.number()
			if err != nil {
				return nil, err
			}
			return json.Number(n), nil
		}
	}
	return p.value(1)
}

// parseResult reads the host's result, {"columns": […], "rows": [[…]…],
// "rows_affected": n, "last_insert_id": n}, without maps and with a
// handful of allocations whatever its size: b is the statement's own
// buffer, never written again, so its strings and numbers without an
// escape are views of it, and the values are boxed from one slab (an
// allocation per value is what costs in WebAssembly).
func parseResult(b []byte, blk *resultBlock) error {
	r := &blk.r
	p := parser{b: b}
	p.space()
	if !p.eat('{') {
		return errSyntax
	}
	p.space()
	if p.eat('}') {
		return p.end()
	}
	for {
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return errSyntax
		}
		k, err := p.strShared()
		if err != nil {
			return err
		}
		p.space()
		if !p.eat(':') {
			return errSyntax
		}
		p.space()
		switch k {
		case "columns":
			err = p.columns(r, blk.cols[:0])
		case "rows":
			err = p.rows(r, blk)
		case "rows_affected":
			r.RowsAffected, err = p.int()
		case "last_insert_id":
			r.LastInsertID, err = p.int()
		default:
			_, err = p.value(1)
		}
		if err != nil {
			return err
		}
		p.space()
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			return p.end()
		}
		return errSyntax
	}
}

func (p *parser) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// end: nothing but space is left.
func (p *parser) end() error {
	p.space()
	if p.i != len(p.b) {
		return errSyntax
	}
	return nil
}

// strShared reads a string at p.i (its opening quote): a view of p.b
// when it has no escape, else a new string.
func (p *parser) strShared() (string, error) {
	start := p.i + 1
	for j := start; j < len(p.b); j++ {
		c := p.b[j]
		if c == '"' {
			p.i = j + 1
			if j == start {
				return "", nil
			}
			return unsafe.String(&p.b[start], j-start), nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
	}
	return p.str()
}

// columns reads the array of column names.
func (p *parser) columns(r *Result, cols []string) error {
	if !p.eat('[') {
		return errSyntax
	}
	r.Columns = cols
	p.space()
	if p.eat(']') {
		return nil
	}
	for {
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return errSyntax
		}
		c, err := p.strShared()
		if err != nil {
			return err
		}
		r.Columns = append(r.Columns, c)
		p.space()
		if p.eat(',') {
			continue
		}
		if p.eat(']') {
			return nil
		}
		return errSyntax
	}
}

// rows reads the array of rows into one slab of values (and one of the
// strings and numbers they box), then slices it into rows.
func (p *parser) rows(r *Result, blk *resultBlock) error {
	if !p.eat('[') {
		return errSyntax
	}
	vals, strs := blk.vals[:0], blk.strs[:0]
	if n := len(r.Columns); n > len(blk.vals) {
		vals, strs = make([]any, 0, n), make([]string, 0, n)
	}
	var endsBuf [8]int
	ends := endsBuf[:0]
	p.space()
	if p.eat(']') {
		r.Rows = [][]any{}
		return nil
	}
	for {
		p.space()
		if !p.eat('[') {
			return errSyntax
		}
		p.space()
		if !p.eat(']') {
			for {
				p.space()
				if p.i >= len(p.b) {
					return errSyntax
				}
				var v any
				switch c := p.b[p.i]; {
				case c == '"':
					s, err := p.strShared()
					if err != nil {
						return err
					}
					strs = append(strs, s)
					v = box(stringType, &strs[len(strs)-1])
				case c == '-' || (c >= '0' && c <= '9'):
					num, err := p.number()
					if err != nil {
						return err
					}
					strs = append(strs, num)
					v = box(numberType, &strs[len(strs)-1])
				default:
					var err error
					if v, err = p.value(2); err != nil {
						return err
					}
				}
				vals = append(vals, v)
				p.space()
				if p.eat(',') {
					continue
				}
				if p.eat(']') {
					break
				}
				return errSyntax
			}
		}
		ends = append(ends, len(vals))
		p.space()
		if p.eat(',') {
			continue
		}
		if p.eat(']') {
			break
		}
		return errSyntax
	}
	r.Rows = blk.rows[:0]
	if len(ends) > len(blk.rows) {
		r.Rows = make([][]any, 0, len(ends))
	}
	r.Rows = r.Rows[:len(ends)]
	start := 0
	for i, e := range ends {
		r.Rows[i] = vals[start:e:e]
		start = e
	}
	return nil
}

// number reads a number at p.i as a view of p.b.
func (p *parser) number() (string, error) {
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			p.i++
			continue
		}
		break
	}
	n := p.b[start:p.i]
	if !validNumber(n) {
		return "", errSyntax
	}
	return unsafe.String(&n[0], len(n)), nil
}

// int reads an integer (0 for a number that is not one of 64 bits, as
// json.Number.Int64 would).
func (p *parser) int() (int64, error) {
	n, err := p.number()
	if err != nil {
		return 0, err
	}
	i, _ := strconv.ParseInt(n, 10, 64)
	return i, nil
}

// box makes an interface of type typ (a string kind) holding *s without
// copying it to the heap: s is an element of a slab that is never
// written again. Go's interface layout is (type, data pointer).
func box(typ unsafe.Pointer, s *string) any {
	var v any
	e := (*eface)(unsafe.Pointer(&v))
	e.typ, e.data = typ, unsafe.Pointer(s)
	return v
}

type eface struct{ typ, data unsafe.Pointer }

var (
	stringType = typeOf("")
	numberType = typeOf(json.Number(""))
)

func typeOf(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

func (p *parser) word(w string) error {
	if len(p.b)-p.i < len(w) || string(p.b[p.i:p.i+len(w)]) != w {
		return errSyntax
	}
	p.i += len(w)
	return nil
}

// str reads a string at p.i (its opening quote).
func (p *parser) str() (string, error) {
	p.i++
	start := p.i
	for p.i < len(p.b) { // the common case: no escape
		c := p.b[p.i]
		if c == '"' {
			s := string(p.b[start:p.i])
			p.i++
			return s, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		p.i++
	}
	out := append([]byte(nil), p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(out), nil
		case c < 0x20:
			return "", errSyntax
		case c != '\\':
			out = append(out, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.b) {
			return "", errSyntax
		}
		e := p.b[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", errSyntax
			}
			if utf16.IsSurrogate(r) {
				// A pair, or U+FFFD and the next escape read on its own
				// (as encoding/json does).
				dec := unicode.ReplacementChar
				if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
					save := p.i
					p.i += 2
					r2, ok := p.hex4()
					if !ok {
						return "", errSyntax
					}
					if dec = utf16.DecodeRune(r, r2); dec == unicode.ReplacementChar {
						p.i = save
					}
				}
				r = dec
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", errSyntax
		}
	}
	return "", errSyntax
}

func (p *parser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.b[p.i:p.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(v), true
}

// AppendJSON appends v as JSON: the common types directly (map keys
// sorted, as encoding/json does), any other through encoding/json.
func AppendJSON(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case string:
		return appendStr(b, x), nil
	case json.Number:
		if x == "" {
			return append(b, '0'), nil
		}
		return append(b, x...), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, errors.New("guest: a NaN or infinite number has no JSON")
		}
		return appendFloat(b, x), nil
	case RawJSON:
		return append(b, x...), nil
	case []byte:
		out, err := json.Marshal(x)
		return append(b, out...), err
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = AppendJSON(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case []map[string]any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = AppendJSON(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendStr(b, k)
			b = append(b, ':')
			var err error
			if b, err = AppendJSON(b, x[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, v := range x {
			m[k] = v
		}
		return AppendJSON(b, m)
	case Row:
		b = append(b, '{')
		for i, c := range x.Columns {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendStr(b, c)
			b = append(b, ':')
			var v any
			if i < len(x.Values) {
				v = x.Values[i]
			}
			var err error
			if b, err = AppendJSON(b, v); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case map[string]int64:
		m := make(map[string]any, len(x))
		for k, v := range x {
			m[k] = v
		}
		return AppendJSON(b, m)
	}
	out, err := json.Marshal(v)
	return append(b, out...), err
}

// appendFloat writes a float as encoding/json does.
func appendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendStr writes s as a JSON string, escaped as encoding/json does
// (<, > and & included; invalid UTF-8 as U+FFFD).
func appendStr(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
