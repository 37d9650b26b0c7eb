package gateway

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/praetorian/db-forge/forge"
)

// fastQuery decodes the query body agents send most — {"sql": "...",
// "params": [scalars]}, either order, params optional or null — in one
// pass, without the strict reader's tree. It answers false on anything
// else: an escape in a string, named params, a blob, a number out of
// range, a duplicate or unknown key, any syntax error. decodeQuery then
// runs the strict reader, which stays the one source of error messages.
// What it accepts it decodes exactly as the strict reader does
// (FuzzFastQueryAgrees).
func fastQuery(b []byte) (forge.Statement, bool) {
	var q forge.Statement
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return q, false
	}
	i = skipWS(b, i+1)
	haveSQL, haveParams := false, false
	for {
		key, j, ok := plainString(b, i)
		if !ok {
			return q, false
		}
		i = skipWS(b, j)
		if i >= len(b) || b[i] != ':' {
			return q, false
		}
		i = skipWS(b, i+1)
		switch string(key) {
		case "sql":
			s, j, ok := plainString(b, i)
			if haveSQL || !ok {
				return q, false
			}
			q.SQL, haveSQL, i = string(s), true, j
		case "params":
			if haveParams {
				return q, false
			}
			haveParams = true
			if i+4 <= len(b) && string(b[i:i+4]) == "null" {
				i += 4
				break
			}
			vals, j, ok := scalarArray(b, i)
			if !ok {
				return q, false
			}
			q.Params.Positional, i = vals, j
		default:
			return q, false
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return q, false
		}
		if b[i] == ',' {
			i = skipWS(b, i+1)
			continue
		}
		if b[i] != '}' {
			return q, false
		}
		i = skipWS(b, i+1)
		break
	}
	if i != len(b) || !haveSQL || strings.TrimSpace(q.SQL) == "" {
		return q, false
	}
	return q, true
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString is the string literal at b[i] if it has no escape, no
// control character and is valid UTF-8; j is just past its closing quote.
func plainString(b []byte, i int) (s []byte, j int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, i, false
	}
	for j = i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			s = b[i+1 : j]
			return s, j + 1, utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, j, false
		}
	}
	return nil, j, false
}

// scalarArray is the array at b[i] if every element is a plain string, a
// number that fits its type, true, false or null.
func scalarArray(b []byte, i int) ([]forge.Value, int, bool) {
	if i >= len(b) || b[i] != '[' {
		return nil, i, false
	}
	vals := make([]forge.Value, 0, 4)
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return vals, i + 1, true
	}
	for {
		if i >= len(b) {
			return nil, i, false
		}
		var v forge.Value
		switch c := b[i]; {
		case c == '"':
			s, j, ok := plainString(b, i)
			if !ok {
				return nil, i, false
			}
			v, i = forge.TextValue(string(s)), j
		case c == '-' || c >= '0' && c <= '9':
			n, j, ok := number(b, i)
			if !ok {
				return nil, i, false
			}
			v, i = n, j
		case c == 't' && i+4 <= len(b) && string(b[i:i+4]) == "true":
			v, i = forge.IntValue(1), i+4
		case c == 'f' && i+5 <= len(b) && string(b[i:i+5]) == "false":
			v, i = forge.IntValue(0), i+5
		case c == 'n' && i+4 <= len(b) && string(b[i:i+4]) == "null":
			v, i = forge.NullValue(), i+4
		default:
			return nil, i, false
		}
		vals = append(vals, v)
		i = skipWS(b, i)
		if i >= len(b) {
			return nil, i, false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case ']':
			return vals, i + 1, true
		default:
			return nil, i, false
		}
	}
}

// number reads the JSON number at b[i] as decodeNumber would: an integer
// literal as int64, anything with a fraction or an exponent as float64.
func number(b []byte, i int) (forge.Value, int, bool) {
	start := i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return forge.Value{}, i, false
	}
	isInt := true
	if i < len(b) && b[i] == '.' {
		isInt = false
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return forge.Value{}, i, false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		isInt = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return forge.Value{}, i, false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	lit := b[start:i]
	if isInt {
		n, err := strconv.ParseInt(string(lit), 10, 64)
		return forge.IntValue(n), i, err == nil
	}
	f, err := strconv.ParseFloat(string(lit), 64) // out of range (±Inf) is an error
	return forge.FloatValue(f), i, err == nil
}
