package client

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// Values. SQLite values arrive as Go values: INTEGER as int64, REAL as
// float64, TEXT as string, NULL as nil, BLOB as []byte (the gateway's
// {"$blob": "<base64>"}); an infinite REAL is the string "Infinity" or
// "-Infinity", as the gateway writes it. Parameters and row values go
// the other way: []byte (or Blob) is sent as a blob, bool as 1/0,
// integers exact to 64 bits.

// Blob is a BLOB value; []byte in parameters and rows is sent as one too.
type Blob []byte

// MarshalJSON writes the gateway's blob form.
func (b Blob) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"$blob": base64.StdEncoding.EncodeToString(b)})
}

// Row is a result row: column name to value.
type Row map[string]any

// encodeValue makes v ready to marshal: []byte becomes a Blob.
func encodeValue(v any) any {
	switch x := v.(type) {
	case []byte:
		return Blob(x)
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = encodeValue(e)
		}
		return m
	case Row:
		return encodeValue(map[string]any(x))
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = encodeValue(e)
		}
		return s
	}
	return v
}

// decodeValue turns a value decoded with UseNumber into its Go value.
func decodeValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		s := x.String()
		if !strings.ContainsAny(s, ".eE") {
			if n, err := x.Int64(); err == nil {
				return n
			}
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
		return s
	case map[string]any:
		if len(x) == 1 {
			if s, ok := x["$blob"].(string); ok {
				if b, err := base64.StdEncoding.DecodeString(s); err == nil {
					return b
				}
			}
		}
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = decodeValue(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = decodeValue(e)
		}
		return x
	}
	return v
}

func decodeRows(rows []Row) {
	for _, r := range rows {
		for k, v := range r {
			r[k] = decodeValue(v)
		}
	}
}

func decodeArrays(rows [][]any) {
	for _, r := range rows {
		for i, v := range r {
			r[i] = decodeValue(v)
		}
	}
}
