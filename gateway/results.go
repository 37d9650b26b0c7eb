package gateway

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/forge"
)

// Results that fit a context window: caps (max_rows, max_bytes), a compact
// shape (arrays) and formats (JSON, NDJSON, CSV, Markdown), asked for in the
// query body, in the rows route's query string or by Accept. docs/API.md,
// "Result options", is the contract; this file decodes the options and
// encodes a row in each format.

// format is a result's encoding.
type format uint8

const (
	formatJSON format = iota // the default
	formatNDJSON
	formatCSV
	formatMarkdown
)

// formatNames are the values of "format" / _format, by format.
var formatNames = [...]string{formatJSON: "json", formatNDJSON: "ndjson", formatCSV: "csv", formatMarkdown: "markdown"}

// contentTypes are the answers' media types, by format.
var contentTypes = [...]string{
	formatJSON:     "application/json",
	formatNDJSON:   "application/x-ndjson",
	formatCSV:      "text/csv; charset=utf-8; header=present",
	formatMarkdown: "text/markdown; charset=utf-8",
}

// resultOptions is what a client asked of a result's answer. The zero
// value is the seed's answer: JSON objects, only the server's cap.
type resultOptions struct {
	maxRows  int  // with capRows: at most this many rows
	capRows  bool // max_rows was given
	maxBytes int  // 0: none; else the body stays within it
	arrays   bool // shape "arrays"
	format   format
	// formatSet: the body or the query string chose the format, so
	// Accept is not read.
	formatSet bool
}

// capped tells whether the answer says "truncated" (the client set a cap).
func (o resultOptions) capped() bool { return o.capRows || o.maxBytes > 0 }

// streams tells whether the answer is streamed rather than buffered: an
// NDJSON, CSV or Markdown answer without a cap. A capped answer is bounded
// and buffered, so that its headers can say whether it was truncated.
func (o resultOptions) streams() bool { return o.format != formatJSON && !o.capped() }

// maxCap is the largest max_rows or max_bytes a client may give (2^31-1):
// beyond any answer the server sends.
const maxCap = 1<<31 - 1

// set decodes one result option of the query body (key "max_rows",
// "max_bytes", "shape" or "format"; v a JSON value) or of the rows route's
// query string (fromQuery: v's text is the parameter's value, shown as
// name). ok is false when key is none of them.
func (o *resultOptions) set(key, name string, v jvalue, fromQuery bool) (ok bool, err error) {
	where := func() string {
		if fromQuery {
			return "Query parameter \"" + name + "\""
		}
		return "Field \"" + key + "\""
	}
	switch key {
	case "max_rows", "max_bytes":
		n, good := int64(0), false
		if v.kind == jNumber || fromQuery {
			var perr error
			n, perr = strconv.ParseInt(v.s, 10, 64)
			good = perr == nil && n >= 0 && n <= maxCap
		}
		if key == "max_bytes" {
			if !good || n < 1 {
				return true, invalidCap("%s must be a whole number of bytes from 1 to %d.", where(), maxCap)
			}
			o.maxBytes = int(n)
			return true, nil
		}
		if !good {
			return true, invalidCap("%s must be a whole number of rows from 0 to %d.", where(), maxCap)
		}
		o.maxRows, o.capRows = int(n), true
		return true, nil
	case "shape":
		switch {
		case (v.kind == jString || fromQuery) && v.s == "objects":
			o.arrays = false
		case (v.kind == jString || fromQuery) && v.s == "arrays":
			o.arrays = true
		default:
			return true, invalidCap("%s must be \"objects\" or \"arrays\".", where())
		}
		return true, nil
	case "format":
		if v.kind == jString || fromQuery {
			for f, fname := range formatNames {
				if v.s == fname {
					o.format, o.formatSet = format(f), true
					return true, nil
				}
			}
		}
		return true, invalidCap("%s must be one of \"json\", \"ndjson\", \"csv\", \"markdown\".", where())
	}
	return false, nil
}

// invalidCap is a result option the gateway cannot honour: 400
// INVALID_VALUE (a wrong JSON type is not told apart from a wrong value:
// one message says what is accepted).
func invalidCap(format string, args ...any) *apiError { return invalidValue(format, args...) }

// negotiate picks a format from an Accept header: the supported type of
// the highest q (the first listed among equals); */* and application/*
// are JSON, text/* CSV. An Accept that names none of them, or that cannot
// be read, is answered in JSON, as the prototype (which ignored Accept)
// answered every client: an error for a header an agent's HTTP library
// sets on its own would break more clients than it helps.
func negotiate(accept []byte) format {
	best, bestQ := formatJSON, -1.0
	for part := range strings.SplitSeq(string(accept), ",") {
		media, params, _ := strings.Cut(part, ";")
		media = strings.ToLower(strings.TrimSpace(media))
		var f format
		switch media {
		case "application/json", "*/*", "application/*":
			f = formatJSON
		case "application/x-ndjson", "application/ndjson", "application/jsonl":
			f = formatNDJSON
		case "text/csv", "text/*":
			f = formatCSV
		case "text/markdown":
			f = formatMarkdown
		default:
			continue
		}
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || n < 0 || n > 1 {
					n = 0
				}
				q = n
			}
		}
		if q > 0 && q > bestQ {
			best, bestQ = f, q
		}
	}
	return best
}

// resolveFormat applies Accept when neither the body nor the query string
// chose a format.
func (o *resultOptions) resolveFormat(rc *fasthttp.RequestCtx) {
	if o.formatSet {
		return
	}
	if accept := peekHeader(rc, keyAccept); len(accept) > 0 {
		o.format = negotiate(accept)
	}
}

// --- Encoding a row in each format ---------------------------------------

// appendJSONValue writes column col of r as JSON (docs/API.md, Values).
func appendJSONValue(b []byte, r forge.Row, col int) []byte {
	switch r.Kind(col) {
	case forge.Integer:
		return strconv.AppendInt(b, r.Int(col), 10)
	case forge.Float:
		return appendFloat(b, r.Float(col))
	case forge.Text:
		return appendString(b, r.Text(col))
	case forge.Blob:
		return appendBlob(b, r.Blob(col))
	}
	return append(b, "null"...)
}

// appendPlainFloat is a REAL as appendFloat writes it, without the JSON
// quotes of the infinities: CSV and Markdown have no strings to tell.
func appendPlainFloat(b []byte, f float64) []byte {
	b = appendFloat(b, f)
	if n := len(b); b[n-1] == '"' {
		// "Infinity", "-Infinity", "NaN": drop the quotes.
		i := n - 2
		for b[i] != '"' {
			i--
		}
		copy(b[i:], b[i+1:n-1])
		b = b[:n-2]
	}
	return b
}

// blobPrefix marks a BLOB in CSV and Markdown: base64 (standard, padded)
// after it.
const blobPrefix = "base64:"

// appendCSVField writes one CSV field (RFC 4180). NULL is an empty field,
// unquoted; the empty string is "" (quoted), so that the two stay apart.
// Text is quoted when it holds a comma, a quote, CR or LF, or is empty;
// quotes are doubled. Invalid UTF-8 becomes U+FFFD, as in JSON.
func appendCSVField(b []byte, r forge.Row, col int) []byte {
	switch r.Kind(col) {
	case forge.Integer:
		return strconv.AppendInt(b, r.Int(col), 10)
	case forge.Float:
		return appendPlainFloat(b, r.Float(col))
	case forge.Text:
		return appendCSVText(b, r.Text(col))
	case forge.Blob:
		b = append(b, blobPrefix...)
		return appendBase64(b, r.Blob(col))
	}
	return b
}

func appendCSVText[T string | []byte](b []byte, s T) []byte {
	quote := len(s) == 0
	for i := 0; i < len(s) && !quote; i++ {
		switch s[i] {
		case ',', '"', '\r', '\n':
			quote = true
		}
	}
	if !quote {
		return appendValidUTF8(b, s, nil)
	}
	b = append(b, '"')
	b = appendValidUTF8(b, s, func(b []byte, c byte) []byte {
		if c == '"' {
			return append(b, '"', '"')
		}
		return append(b, c)
	})
	return append(b, '"')
}

// appendValidUTF8 appends s with invalid UTF-8 replaced by U+FFFD, each
// ASCII byte through esc when esc is set.
func appendValidUTF8[T string | []byte](b []byte, s T, esc func([]byte, byte) []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if esc != nil {
				b = esc(b, c)
			} else {
				b = append(b, c)
			}
			i++
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
			b = append(b, "\uFFFD"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}

// Markdown cells. A cell that starts with an unescaped "*" is a value
// that is not text: *NULL* for NULL, *base64:…* for a BLOB. In text, the
// characters \ | * < are escaped with a backslash (so the text "*NULL*"
// reads \*NULL\*), a line break (LF, CR or CRLF) becomes <br>, and other
// control characters become U+FFFD.
const mdNull = "*NULL*"

func appendMarkdownCell(b []byte, r forge.Row, col int) []byte {
	switch r.Kind(col) {
	case forge.Integer:
		return strconv.AppendInt(b, r.Int(col), 10)
	case forge.Float:
		return appendPlainFloat(b, r.Float(col))
	case forge.Text:
		return appendMarkdownText(b, r.Text(col))
	case forge.Blob:
		b = append(b, '*')
		b = append(b, blobPrefix...)
		b = appendBase64(b, r.Blob(col))
		return append(b, '*')
	}
	return append(b, mdNull...)
}

func appendMarkdownText[T string | []byte](b []byte, s T) []byte {
	var prev byte
	return appendValidUTF8(b, s, func(b []byte, c byte) []byte {
		defer func() { prev = c }()
		switch {
		case c == '\\' || c == '|' || c == '*' || c == '<':
			return append(b, '\\', c)
		case c == '\n' && prev == '\r':
			return b // CRLF: one <br>, written at the CR
		case c == '\n' || c == '\r':
			return append(b, "<br>"...)
		case c < 0x20 && c != '\t' || c == 0x7f:
			return append(b, "\uFFFD"...)
		}
		return append(b, c)
	})
}
