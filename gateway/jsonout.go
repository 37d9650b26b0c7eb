package gateway

import (
	"encoding/base64"
	"io"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/auth"
	"github.com/praetorian/db-forge/forge"
)

// JSON output is appended by hand into reused buffers: rows go from SQLite's
// memory to the response without reflection or a value per cell.

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 (possible in a
// TEXT value SQLite was given as bytes) becomes U+FFFD, as encoding/json does.
func appendString[T string | []byte](b []byte, s T) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
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
		var r rune
		var size int
		switch v := any(s).(type) {
		case string:
			r, size = utf8.DecodeRuneInString(v[i:])
		case []byte:
			r, size = utf8.DecodeRune(v[i:])
		}
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but break JavaScript parsers.
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

// appendFloat writes a REAL so that it stays a real for the client: 1100.0
// is written "1100.0", not "1100" (Python's json module does the same).
// Infinities, which JSON cannot hold, are written as the strings "Infinity"
// and "-Infinity"; SQLite has no NaN (it turns NaN into NULL), but a NaN
// would be written "NaN". docs/API.md documents this encoding.
func appendFloat(b []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Infinity"`...)
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	}
	abs := math.Abs(f)
	if abs >= 1e-6 && abs < 1<<52 {
		if b, ok := appendShortDecimal(b, f); ok {
			return b
		}
	}
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		b = strconv.AppendFloat(b, f, 'e', -1, 64)
		// 1e-07 → 1e-7, like encoding/json.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
		return b
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, 'f', -1, 64)
	for _, c := range b[start:] {
		if c == '.' {
			return b
		}
	}
	return append(b, '.', '0')
}

// pow10s are the powers of ten appendShortDecimal tries, exact in a
// float64.
var pow10s = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6}

// appendShortDecimal is appendFloat's fast way for a REAL with at most
// six decimals (1.5, 19.99, 61728.5: most stored prices, scores and
// measures), in strconv's shortest form, which is the common case's cost
// in a page of rows (strconv's shortest formatting is most of a row's
// encoding). The text is m/10^d for the first d at which f·10^d is a whole
// number m and m/10^d reads back as f (a correctly rounded division: the
// digits round-trip). They are the shortest digits that do, as strconv
// writes them: once m's trailing zeros are dropped (with as many
// decimals), any other text of at most as many digits differs from them
// by at least 10^-d, while |m| < 2^52 keeps f's ulp under 10^-d, so that
// such a text is more than half an ulp from f and reads back as another
// number (TestAppendShortDecimalAgrees compares with strconv). false: not
// such a number (or 0, whose sign the slow way keeps); nothing written.
func appendShortDecimal(b []byte, f float64) ([]byte, bool) {
	for d, p := range pow10s {
		m := f * p
		if m != math.Trunc(m) || math.Abs(m) >= 1<<52 || m/p != f || m == 0 {
			continue
		}
		n := int64(m)
		for d > 0 && n%10 == 0 {
			n /= 10
			d--
		}
		start := len(b)
		b = strconv.AppendInt(b, n, 10)
		if d == 0 {
			return append(b, '.', '0'), true
		}
		digits := b[start:]
		if digits[0] == '-' {
			start++
			digits = digits[1:]
		}
		if len(digits) > d {
			// Insert the point d digits from the right.
			b = append(b, 0)
			at := len(b) - 1 - d
			copy(b[at+1:], b[at:len(b)-1])
			b[at] = '.'
			return b, true
		}
		// 0.00ddd: the point and the zeros before the digits.
		zeros := d - len(digits)
		b = append(b, make([]byte, 2+zeros)...)
		copy(b[start+2+zeros:], b[start:len(b)-2-zeros])
		b[start], b[start+1] = '0', '.'
		for i := range zeros {
			b[start+2+i] = '0'
		}
		return b, true
	}
	return b, false
}

// appendBlob writes a BLOB in its one JSON form, {"$blob": "<base64>"}
// (standard alphabet, padded); the same form binds a BLOB parameter.
func appendBlob(b []byte, v []byte) []byte {
	b = append(b, `{"$blob":"`...)
	b = base64.StdEncoding.AppendEncode(b, v)
	return append(b, `"}`...)
}

// rowsEncoder is a forge.RowWriter that builds the response body
// {"data":[{...},...],"rows_affected":N} as rows arrive.
type rowsEncoder struct {
	buf  []byte
	keys [][]byte // per output column: `"name":`
	plan []int    // per output column: which result column holds its value
	rows int
	// limit caps the body (0 = none): past it Row fails, which stops the
	// statement and undoes whatever it wrote (see docs/SECURITY.md).
	limit int
	// The client's result options (results.go): the zero value is the
	// seed's answer, which the code of this file writes alone.
	opt       resultOptions
	ncols     int       // result columns (arrays, CSV, Markdown)
	truncated bool      // a cap stopped the result
	out       io.Writer // a streamed answer: buf is flushed to it
	sent      int       // bytes flushed to out
	onFlush   func()    // called once, before the first flush
	// meta: the answer carries the statement's meta (resultmeta.go).
	meta bool
	// marks are where each row of a buffered answer with max_bytes
	// begins in buf (JSON and NDJSON): finishMeta gives up rows to make
	// room for meta.
	marks []int
	// trailer sends a streamed CSV or Markdown answer's meta in the
	// HTTP trailer (stream).
	trailer func(meta []byte)
}

var encoderPool = sync.Pool{New: func() any { return &rowsEncoder{buf: make([]byte, 0, 4096)} }}

func getEncoder() *rowsEncoder {
	e := encoderPool.Get().(*rowsEncoder)
	e.buf = e.buf[:0]
	e.rows = 0
	e.limit = 0
	e.opt, e.truncated, e.out, e.sent, e.onFlush = resultOptions{}, false, nil, 0, nil
	e.meta, e.marks, e.trailer = false, e.marks[:0], nil
	return e
}

func putEncoder(e *rowsEncoder) {
	if cap(e.buf) > 1<<20 {
		return // let a one-off huge response go
	}
	encoderPool.Put(e)
}

// Columns plans the row objects. Duplicate result names (SELECT 1 AS a,
// 2 AS a) would make duplicate JSON keys; like the prototype's Python dict,
// the key keeps its first position and takes the last column's value.
func (e *rowsEncoder) Columns(names []string) error {
	if e.opt != (resultOptions{}) {
		return e.optColumns(names)
	}
	e.planKeys(names)
	e.buf = append(e.buf, `{"data":[`...)
	return nil
}

// planKeys plans the keys of row objects (Columns).
func (e *rowsEncoder) planKeys(names []string) {
	e.keys = e.keys[:0]
	e.plan = e.plan[:0]
	for i, n := range names {
		first := true
		for _, prev := range names[:i] {
			if prev == n {
				first = false
				break
			}
		}
		if !first {
			continue
		}
		last := i
		for j := len(names) - 1; j > i; j-- {
			if names[j] == n {
				last = j
				break
			}
		}
		var k []byte
		if len(e.keys) < cap(e.keys) {
			k = e.keys[:len(e.keys)+1][len(e.keys)][:0]
		}
		k = appendString(k, n)
		k = append(k, ':')
		e.keys = append(e.keys, k)
		e.plan = append(e.plan, last)
	}
}

func (e *rowsEncoder) Row(r forge.Row) error {
	if e.opt != (resultOptions{}) {
		return e.optRow(r)
	}
	b := e.buf
	if e.rows > 0 {
		b = append(b, ',')
	}
	b = append(b, '{')
	for i, col := range e.plan {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e.keys[i]...)
		switch r.Kind(col) {
		case forge.Integer:
			b = strconv.AppendInt(b, r.Int(col), 10)
		case forge.Float:
			b = appendFloat(b, r.Float(col))
		case forge.Text:
			b = appendString(b, r.Text(col))
		case forge.Blob:
			b = appendBlob(b, r.Blob(col))
		default:
			b = append(b, "null"...)
		}
		if e.limit > 0 && len(b) > e.limit {
			// Checked per value: one row of wide values must not grow
			// the buffer far past the cap either.
			e.buf = b[:0]
			return &responseTooLargeError{limit: e.limit}
		}
	}
	e.buf = append(b, '}')
	e.rows++
	return nil
}

// finish closes the body for res.
func (e *rowsEncoder) finish(res forge.Result) []byte {
	if !res.ReturnsRows {
		e.buf = appendExecBody(e.buf[:0], res.RowsAffected)
		return e.buf
	}
	if e.opt != (resultOptions{}) {
		e.buf = e.appendTail(e.buf, res.RowsAffected, e.truncated)
		return e.buf
	}
	e.buf = append(e.buf, `],"rows_affected":`...)
	e.buf = strconv.AppendInt(e.buf, res.RowsAffected, 10)
	e.buf = append(e.buf, '}')
	return e.buf
}

// appendExecBody writes the answer to a statement that returns no rows.
func appendExecBody(b []byte, rowsAffected int64) []byte {
	b = append(b, `{"message":"Query executed successfully.","rows_affected":`...)
	b = strconv.AppendInt(b, rowsAffected, 10)
	return append(b, '}')
}

func writeJSON(rc *fasthttp.RequestCtx, status int, body []byte) {
	rc.SetStatusCode(status)
	rc.SetContentType("application/json")
	rc.SetBody(body)
}

// message builds {"message": m} plus string fields, in order.
func messageBody(m string, kv ...string) []byte {
	b := make([]byte, 0, 64+len(m))
	b = append(b, `{"message":`...)
	b = appendString(b, m)
	for i := 0; i+1 < len(kv); i += 2 {
		b = append(b, ',')
		b = appendString(b, kv[i])
		b = append(b, ':')
		b = appendString(b, kv[i+1])
	}
	return append(b, '}')
}

// newKeyBody is the answer to a key's creation: the key as listed, with
// its token, which no other answer ever shows.
//
//	{"id": ..., "key": "dbf_...", "prefix": ..., "db_name": ..., "scope": ...,
//	 "created_at": ..., "expires_at": ... | null}
func newKeyBody(k auth.Key, tok auth.Secret) []byte {
	b := make([]byte, 0, 256)
	b = append(b, `{"id":`...)
	b = appendString(b, k.ID)
	b = append(b, `,"key":`...)
	b = appendString(b, tok.Reveal())
	b = append(b, `,"prefix":`...)
	b = appendString(b, k.Prefix)
	b = append(b, `,"db_name":`...)
	b = appendString(b, k.DB)
	b = append(b, `,"scope":`...)
	b = appendString(b, string(k.Scope))
	b = append(b, `,"created_at":`...)
	b = appendTime(b, k.CreatedAt)
	b = append(b, `,"expires_at":`...)
	b = appendTime(b, k.ExpiresAt)
	return append(b, '}')
}

// keysBody is a JSON array of keys as package auth encodes them: id,
// prefix, db_name, scope, created_at, expires_at, revoked, revoked_at.
func keysBody(keys []auth.Key) []byte {
	b := make([]byte, 0, 16+200*len(keys))
	b = append(b, '[')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		j, _ := k.MarshalJSON() // never fails
		b = append(b, j...)
	}
	return append(b, ']')
}

// appendTime writes t as a UTC RFC 3339 string, or null when zero.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339)
	return append(b, '"')
}
