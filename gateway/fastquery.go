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
		key, j, ok := memberKey(b, i)
		if !ok {
			return q, false
		}
		i = j
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
		j, more, ok := afterValue(b, i, '}')
		if !ok {
			return q, false
		}
		i = j
		if !more {
			i = skipWS(b, i)
			break
		}
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
	ascii := true // then valid UTF-8, without utf8.Valid's call
	for j = i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			s = b[i+1 : j]
			return s, j + 1, ascii || utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, j, false
		case c >= utf8.RuneSelf:
			ascii = false
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
		v, text, j, ok := scalarAt(b, i)
		if !ok {
			return nil, i, false
		}
		if text {
			v = forge.TextValue(string(b[i+1 : j-1]))
		}
		vals = append(vals, v)
		var more bool
		if i, more, ok = afterValue(b, j, ']'); !ok {
			return nil, i, false
		}
		if !more {
			return vals, i, true
		}
	}
}

// scalarAt reads the scalar at b[i]: a number, true, false or null as v;
// or a plain string (text), whose bytes are b[i+1:j-1], left to the
// caller to copy or to take as a piece of a string of b. j is just past it.
func scalarAt(b []byte, i int) (v forge.Value, text bool, j int, ok bool) {
	if i >= len(b) {
		return v, false, i, false
	}
	switch c := b[i]; {
	case c == '"':
		_, j, ok := plainString(b, i)
		return v, true, j, ok
	case c == '-' || c >= '0' && c <= '9':
		v, j, ok := number(b, i)
		return v, false, j, ok
	case c == 't' && i+4 <= len(b) && string(b[i:i+4]) == "true":
		return forge.IntValue(1), false, i + 4, true
	case c == 'f' && i+5 <= len(b) && string(b[i:i+5]) == "false":
		return forge.IntValue(0), false, i + 5, true
	case c == 'n' && i+4 <= len(b) && string(b[i:i+4]) == "null":
		return forge.NullValue(), false, i + 4, true
	}
	return v, false, i, false
}

// memberKey reads an object member's `"key":` at b[i] (a plain string);
// j is past the colon and the space after it.
func memberKey(b []byte, i int) (key []byte, j int, ok bool) {
	key, j, ok = plainString(b, i)
	if !ok {
		return nil, j, false
	}
	j = skipWS(b, j)
	if j >= len(b) || b[j] != ':' {
		return nil, j, false
	}
	return key, skipWS(b, j+1), true
}

// afterValue reads what follows a value inside an object or an array
// (closing '}' or ']'): a ',' and the space after it (more), or the
// closing byte (j just past it).
func afterValue(b []byte, i int, closing byte) (j int, more, ok bool) {
	i = skipWS(b, i)
	switch {
	case i >= len(b):
		return i, false, false
	case b[i] == ',':
		return skipWS(b, i+1), true, true
	case b[i] == closing:
		return i + 1, false, true
	}
	return i, false, false
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
