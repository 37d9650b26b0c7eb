package functions

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/praetorian/db-forge/forge"
)

// DecodeParams reads a statement's parameters as a module sends them:
// nothing (no parameters), a JSON array (positional) or a JSON object
// (named, without sigils). A value is null, a boolean (1 or 0), a number
// (an integer when it is one that fits 64 bits, else a real), a string
// (text) or {"base64": "..."} (a blob). Anything else is an error; the
// input is hostile (fuzzed: FuzzDecodeParams).
func DecodeParams(b []byte) (forge.Params, error) {
	var p forge.Params
	if len(bytes.TrimSpace(b)) == 0 {
		return p, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return p, fmt.Errorf("params: %w", err)
	}
	switch tok {
	case json.Delim('['):
		for dec.More() {
			v, err := decodeValue(dec)
			if err != nil {
				return p, err
			}
			p.Positional = append(p.Positional, v)
		}
	case json.Delim('{'):
		p.IsNamed = true
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return p, fmt.Errorf("params: %w", err)
			}
			name, _ := k.(string)
			if name == "" || seen[name] {
				return p, fmt.Errorf("params: the name %q is empty or repeated", name)
			}
			seen[name] = true
			v, err := decodeValue(dec)
			if err != nil {
				return p, err
			}
			p.Named = append(p.Named, forge.NamedValue{Name: name, Value: v})
		}
	default:
		return p, errors.New("params: want a JSON array or object")
	}
	if _, err := dec.Token(); err != nil { // the closing bracket
		return p, fmt.Errorf("params: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return p, errors.New("params: text after the value")
	}
	return p, nil
}

func decodeValue(dec *json.Decoder) (forge.Value, error) {
	tok, err := dec.Token()
	if err != nil {
		return forge.Value{}, fmt.Errorf("params: %w", err)
	}
	switch v := tok.(type) {
	case nil:
		return forge.NullValue(), nil
	case bool:
		if v {
			return forge.IntValue(1), nil
		}
		return forge.IntValue(0), nil
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return forge.IntValue(i), nil
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || math.IsInf(f, 0) {
			return forge.Value{}, fmt.Errorf("params: number %s out of range", v)
		}
		return forge.FloatValue(f), nil
	case string:
		return forge.TextValue(v), nil
	case json.Delim:
		if v == '{' {
			k, err := dec.Token()
			if k != "base64" || err != nil {
				return forge.Value{}, errors.New(`params: an object value must be {"base64": "..."}`)
			}
			s, err := dec.Token()
			str, ok := s.(string)
			if err != nil || !ok {
				return forge.Value{}, errors.New(`params: "base64" must be a string`)
			}
			blob, err := base64.StdEncoding.DecodeString(str)
			if err != nil {
				return forge.Value{}, errors.New(`params: "base64" is not base64`)
			}
			if end, err := dec.Token(); err != nil || end != json.Delim('}') {
				return forge.Value{}, errors.New(`params: an object value must be {"base64": "..."} alone`)
			}
			return forge.BlobValue(blob), nil
		}
	}
	return forge.Value{}, errors.New("params: arrays are not values")
}

// resultWriter encodes a statement's result for the module:
// {"columns": [...], "rows": [[...], ...], "rows_affected": n,
// "last_insert_id": n}; blobs as {"base64": "..."}.
type resultWriter struct {
	b     []byte
	max   int
	rows  int
	over  bool
	cols  bool
	ncols int
}

var errResultTooLarge = errors.New("result too large")

func newResultWriter(buf []byte, max int) *resultWriter {
	return &resultWriter{b: append(buf, `{"columns":[`...), max: max}
}

func (w *resultWriter) Columns(names []string) error {
	w.cols = true
	w.ncols = len(names)
	for i, n := range names {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = appendString(w.b, n)
	}
	w.b = append(w.b, `],"rows":[`...)
	return nil
}

func (w *resultWriter) Row(r forge.Row) error {
	if w.rows > 0 {
		w.b = append(w.b, ',')
	}
	w.rows++
	w.b = append(w.b, '[')
	for c := 0; c < w.ncols; c++ {
		if c > 0 {
			w.b = append(w.b, ',')
		}
		w.b = appendValue(w.b, r, c)
	}
	w.b = append(w.b, ']')
	if len(w.b) > w.max {
		return errResultTooLarge
	}
	return nil
}

// appendValue writes column c of row r as JSON: blobs as {"base64": …},
// a NaN or infinity as null.
func appendValue(b []byte, r forge.Row, c int) []byte {
	switch r.Kind(c) {
	case forge.Integer:
		return strconv.AppendInt(b, r.Int(c), 10)
	case forge.Float:
		f := r.Float(c)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return append(b, "null"...)
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	case forge.Text:
		return appendString(b, string(r.Text(c)))
	case forge.Blob:
		b = append(b, `{"base64":"`...)
		b = base64.StdEncoding.AppendEncode(b, r.Blob(c))
		return append(b, `"}`...)
	}
	return append(b, "null"...)
}

// rowWriter encodes query_row's result: the statement's first row as a
// JSON object, its members in the columns' order (a repeated name is
// written again), or null when it returned none. The statement runs to
// its end; later rows are not kept.
type rowWriter struct {
	b    []byte
	max  int
	keys [][]byte // each column's name as a JSON string and a colon
	done bool
}

func (w *rowWriter) Columns(names []string) error {
	w.keys = make([][]byte, len(names))
	for i, n := range names {
		w.keys[i] = append(appendString(nil, n), ':')
	}
	return nil
}

func (w *rowWriter) Row(r forge.Row) error {
	if w.done {
		return nil
	}
	w.done = true
	w.b = append(w.b, '{')
	for c, k := range w.keys {
		if c > 0 {
			w.b = append(w.b, ',')
		}
		w.b = append(w.b, k...)
		w.b = appendValue(w.b, r, c)
	}
	w.b = append(w.b, '}')
	if len(w.b) > w.max {
		return errResultTooLarge
	}
	return nil
}

func (w *rowWriter) finish() []byte {
	if !w.done {
		return append(w.b, "null"...)
	}
	return w.b
}

func (w *resultWriter) finish(res forge.Result) []byte {
	if !w.cols {
		w.b = append(w.b, `],"rows":[`...)
	}
	w.b = append(w.b, `],"rows_affected":`...)
	w.b = strconv.AppendInt(w.b, res.RowsAffected, 10)
	w.b = append(w.b, `,"last_insert_id":`...)
	w.b = strconv.AppendInt(w.b, res.Meta.LastInsertID, 10)
	return append(w.b, '}')
}

// appendString appends s as a JSON string (invalid UTF-8 replaced).
func appendString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = string([]rune(s))
	}
	out, _ := json.Marshal(s)
	return append(b, out...)
}

func encodeError(b []byte, code, msg string) []byte {
	b = append(b, `{"error":{"code":`...)
	b = appendString(b, code)
	b = append(b, `,"message":`...)
	b = appendString(b, msg)
	return append(b, "}}"...)
}

// errorCode names a statement's error for the module, with the codes of
// the HTTP API where there is one.
func errorCode(err error) (string, string) {
	var se *forge.SQLError
	var ne *forge.NotAuthorizedError
	var ie *forge.InputError
	switch {
	case errors.Is(err, errResultTooLarge):
		return "RESULT_TOO_LARGE", "The statement's result passed the bytes a call may read (FORGE_FUNCTION_MAX_RESULT_BYTES)."
	case errors.As(err, &se):
		return "SQL_ERROR", se.Message
	case errors.Is(err, forge.ErrReadOnly):
		return "READ_ONLY_KEY", "The call's key is read-only, and SQLite does not report the statement read-only."
	case errors.As(err, &ne):
		return "SQL_NOT_AUTHORIZED", "Not authorized: " + ne.Reason
	case errors.Is(err, forge.ErrNotAuthorized):
		return "SQL_NOT_AUTHORIZED", "Not authorized."
	case errors.Is(err, forge.ErrTxControl):
		return "SQL_ERROR", "BEGIN, COMMIT, END and ROLLBACK are not allowed: a call's statements already run in one transaction (SAVEPOINT is)."
	case errors.Is(err, forge.ErrTxLost):
		return "TRANSACTION_ABORTED", err.Error()
	case errors.Is(err, forge.ErrTimeout):
		return "QUERY_TIMEOUT", "The statement exceeded the call's time limit."
	case errors.As(err, &ie):
		return ie.Code, ie.Message
	}
	return "SQL_ERROR", err.Error()
}
