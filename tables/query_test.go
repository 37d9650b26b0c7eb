package tables

import (
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/praetorian/db-forge/forge"
)

func qp(kv ...string) []forge.QueryParam {
	var out []forge.QueryParam
	for i := 0; i < len(kv); i += 2 {
		out = append(out, forge.QueryParam{Key: kv[i], Value: kv[i+1]})
	}
	return out
}

func TestParseQuery(t *testing.T) {
	t.Parallel()
	text := forge.TextValue
	tests := []struct {
		name   string
		params []forge.QueryParam
		want   RowsQuery
	}{
		{"none", nil, RowsQuery{}},
		{"bare equality", qp("a", "1"), RowsQuery{Where: []Condition{{Column: "a", Op: OpExact, Value: text("1"), Param: "a"}}}},
		{"exact", qp("a__exact", "1"), RowsQuery{Where: []Condition{{Column: "a", Op: OpExact, Value: text("1"), Param: "a__exact"}}}},
		{"not", qp("a__not", "x"), RowsQuery{Where: []Condition{{Column: "a", Op: OpNot, Value: text("x"), Param: "a__not"}}}},
		{"two ops on one column", qp("a__gte", "1", "a__lt", "5"), RowsQuery{Where: []Condition{
			{Column: "a", Op: OpGte, Value: text("1"), Param: "a__gte"}, {Column: "a", Op: OpLt, Value: text("5"), Param: "a__lt"}}}},
		{"last __ splits", qp("a__b__gt", "1"), RowsQuery{Where: []Condition{{Column: "a__b", Op: OpGt, Value: text("1"), Param: "a__b__gt"}}}},
		{"unknown suffix is a column", qp("a__zz", "1"), RowsQuery{Where: []Condition{{Column: "a__zz", Op: OpExact, Value: text("1"), Param: "a__zz"}}}},
		{"column named like an op", qp("__gt", "1"), RowsQuery{Where: []Condition{{Column: "__gt", Op: OpExact, Value: text("1"), Param: "__gt"}}}},
		{"in comma list", qp("a__in", "x,y,,z"), RowsQuery{Where: []Condition{{Column: "a", Op: OpIn, Values: []forge.Value{text("x"), text("y"), text(""), text("z")}, Param: "a__in"}}}},
		{"in JSON array", qp("a__in", `[1, 2.5, "x,y", true, null]`), RowsQuery{Where: []Condition{{Column: "a", Op: OpIn,
			Values: []forge.Value{forge.IntValue(1), forge.FloatValue(2.5), text("x,y"), forge.IntValue(1), forge.NullValue()}, Param: "a__in"}}}},
		{"isnull", qp("a__isnull", "1"), RowsQuery{Where: []Condition{{Column: "a", Op: OpIsNull, Param: "a__isnull"}}}},
		{"isnull=0", qp("a__isnull", "0"), RowsQuery{Where: []Condition{{Column: "a", Op: OpNotNull, Param: "a__isnull"}}}},
		{"notnull", qp("a__notnull", "true"), RowsQuery{Where: []Condition{{Column: "a", Op: OpNotNull, Param: "a__notnull"}}}},
		{"sort repeatable, in order", qp("_sort", "a", "_sort_desc", "b", "_sort", "c"), RowsQuery{Sort: []SortKey{{"a", false}, {"b", true}, {"c", false}}}},
		{"col and nocol", qp("_col", "a", "_col", "b", "_nocol", "c"), RowsQuery{Columns: []string{"a", "b"}, Omit: []string{"c"}}},
		{"size", qp("_size", "50"), RowsQuery{Size: 50, HasSize: true, seen: []string{"size"}}},
		{"max_rows is size", qp("_max_rows", "0"), RowsQuery{Size: 0, HasSize: true, seen: []string{"size"}}},
		{"offset, count, next, all", qp("_offset", "3", "_count", "1", "_next", "tok", "_all", "true"),
			RowsQuery{Offset: 3, Count: true, Next: "tok", All: true, seen: []string{"offset", "count", "next", "all"}}},
		{"escape of an option name", qp("__size", "3"), RowsQuery{Where: []Condition{{Column: "_size", Op: OpExact, Value: text("3"), Param: "__size"}}}},
		{"escape with an op", qp("_size__gt", "3"), RowsQuery{Where: []Condition{{Column: "_size", Op: OpGt, Value: text("3"), Param: "_size__gt"}}}},
		{"other _ name is a filter (the table decides)", qp("_id", "3"), RowsQuery{Where: []Condition{{Column: "_id", Op: OpExact, Value: text("3"), Param: "_id"}}}},
		{"limit stays a condition until the table is known", qp("limit", "5"), RowsQuery{Where: []Condition{{Column: "limit", Op: OpExact, Value: text("5"), Param: "limit"}}}},
		{"hostile values are values", qp("a", `'; DROP TABLE t; --`, "b__like", `%"]`), RowsQuery{Where: []Condition{
			{Column: "a", Op: OpExact, Value: text(`'; DROP TABLE t; --`), Param: "a"}, {Column: "b", Op: OpLike, Value: text(`%"]`), Param: "b__like"}}}},
		{"unicode", qp("näme__startswith", "日本"), RowsQuery{Where: []Condition{{Column: "näme", Op: OpStartsWith, Value: text("日本"), Param: "näme__startswith"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q, err := ParseQuery(tc.params)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*q, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", *q, tc.want)
			}
		})
	}
}

func TestParseQueryErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		params []forge.QueryParam
		code   string
		detail string
	}{
		{"same column and op twice", qp("a", "1", "a", "2"), CodeInvalidValue, `Column "a" is filtered more than once`},
		{"case-folded twice", qp("A__gt", "1", "a__gt", "2"), CodeInvalidValue, "more than once"},
		{"empty key", qp("", "x"), CodeInvalidValue, "column name"},
		{"invalid utf8 key", qp("\xff", "1"), CodeInvalidValue, "UTF-8"},
		{"invalid utf8 value", qp("a", "\xff"), CodeInvalidValue, "UTF-8"},
		{"nul", qp("a", "x\x00"), CodeInvalidValue, "NUL"},
		{"size negative", qp("_size", "-1"), CodeInvalidValue, "_size"},
		{"size not a number", qp("_size", "ten"), CodeInvalidValue, "_size"},
		{"size huge", qp("_size", "99999999999999"), CodeInvalidValue, "_size"},
		{"size twice", qp("_size", "1", "_max_rows", "2"), CodeInvalidValue, "repeats"},
		{"offset negative", qp("_offset", "-3"), CodeInvalidValue, "_offset"},
		{"next empty", qp("_next", ""), CodeInvalidValue, "token"},
		{"count bad", qp("_count", "yes"), CodeInvalidValue, "1 or 0"},
		{"all bad", qp("_all", "2"), CodeInvalidValue, "1 or 0"},
		{"sort empty", qp("_sort", ""), CodeInvalidValue, "column name"},
		{"col empty", qp("_col", ""), CodeInvalidValue, "column name"},
		{"isnull bad", qp("a__isnull", "maybe"), CodeInvalidValue, "1 or 0"},
		{"in bad JSON", qp("a__in", "[1,"), CodeInvalidValue, "JSON"},
		{"in JSON trailing", qp("a__in", "[1] [2]"), CodeInvalidValue, "JSON"},
		{"in nested", qp("a__in", "[[1]]"), CodeInvalidValue, "strings, numbers"},
		{"in object", qp("a__in", `[{"a":1}]`), CodeInvalidValue, "strings, numbers"},
		{"in too many", qp("a__in", strings.Repeat("x,", MaxInValues)+"x"), CodeInvalidValue, "at most"},
		{"gateway option here", qp("_shape", "arrays"), CodeUnknownParameter, "result option"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseQuery(tc.params)
			inputError(t, err, tc.code)
			if !strings.Contains(err.Error(), tc.detail) {
				t.Fatalf("%q does not say %q", err, tc.detail)
			}
		})
	}
}

// FuzzParseQuery: any query string decodes or is refused as an input
// error; a decoded one holds only bindable values, known ops, and
// non-empty valid column names.
func FuzzParseQuery(f *testing.F) {
	for _, s := range [][2]string{{"a", "1"}, {"a__in", `[1,"x",null]`}, {"a__in", "x,y"}, {"_sort_desc", "a"}, {"_size", "5"},
		{"__size", "3"}, {"a__isnull", "0"}, {"_next", "AWsAAAAAAQEC"}, {"a__b__gt", "x"}, {"__", "x"}, {"_", ""}, {"a__in", "[1e999]"}} {
		f.Add(s[0], s[1], "b__lte", "2")
	}
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		q, err := ParseQuery(qp(k1, v1, k2, v2))
		if err != nil {
			var ie *forge.InputError
			if !errors.As(err, &ie) || ie.Code == "" || !utf8.ValidString(ie.Message) {
				t.Fatalf("%v (%T) is not an input error", err, err)
			}
			return
		}
		for _, c := range q.Where {
			if c.Column == "" || !utf8.ValidString(c.Column) || strings.IndexByte(c.Column, 0) >= 0 {
				t.Fatalf("bad column %q", c.Column)
			}
			if !knownOp(string(c.Op)) {
				t.Fatalf("unknown op %q", c.Op)
			}
			if len(c.Values) > MaxInValues {
				t.Fatalf("%d values", len(c.Values))
			}
		}
		if q.HasSize && (q.Size < 0 || q.Size > MaxPageSize) || q.Offset < 0 {
			t.Fatalf("size %d offset %d", q.Size, q.Offset)
		}
	})
}

func TestTokenRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tok := range []pageToken{
		{kind: tokenKeyset, sig: 7, keys: []forge.Value{forge.IntValue(-5)}},
		{kind: tokenKeyset, sig: 0xffffffff, keys: []forge.Value{forge.NullValue(), forge.FloatValue(2.5), forge.TextValue("日本\x00'\""),
			forge.BlobValue([]byte{0, 1, 2}), forge.IntValue(1 << 62)}},
		{kind: tokenOffset, sig: 3, offset: 12345},
	} {
		s := encodeToken(tok)
		got, err := decodeToken(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if !reflect.DeepEqual(got, tok) {
			t.Fatalf("%s: got %+v, want %+v", s, got, tok)
		}
	}
}

func TestTokenTampered(t *testing.T) {
	t.Parallel()
	good := encodeToken(pageToken{kind: tokenKeyset, sig: 9, keys: []forge.Value{forge.TextValue("abc"), forge.IntValue(4)}})
	raw := func(b ...byte) string { return b64(b) }
	for name, s := range map[string]string{
		"not base64":       "!!!",
		"padded base64":    good + "==",
		"empty":            raw(),
		"short":            raw(1, 'k', 0),
		"version 2":        raw(2, 'k', 0, 0, 0, 9, 1, byte(forge.Integer), 8),
		"unknown kind":     raw(1, 'x', 0, 0, 0, 9, 1, byte(forge.Integer), 8),
		"zero keys":        raw(1, 'k', 0, 0, 0, 9, 0),
		"too many keys":    raw(1, 'k', 0, 0, 0, 9, 200, 1),
		"key count beyond": raw(1, 'k', 0, 0, 0, 9, 2, byte(forge.Integer), 8),
		"bad value kind":   raw(1, 'k', 0, 0, 0, 9, 1, 9),
		"text too long":    raw(1, 'k', 0, 0, 0, 9, 1, byte(forge.Text), 100, 'a'),
		"bad utf8":         raw(1, 'k', 0, 0, 0, 9, 1, byte(forge.Text), 1, 0xff),
		"short float":      raw(1, 'k', 0, 0, 0, 9, 1, byte(forge.Float), 1, 2),
		"NaN":              raw(1, 'k', 0, 0, 0, 9, 1, byte(forge.Float), 0x7f, 0xf8, 0, 0, 0, 0, 0, 1),
		"trailing":         raw(1, 'k', 0, 0, 0, 9, 1, byte(forge.Integer), 8, 0),
		"offset trailing":  raw(1, 'o', 0, 0, 0, 9, 8, 0),
		"offset huge":      raw(1, 'o', 0, 0, 0, 9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
		"truncated good":   good[:len(good)-2],
		"huge":             strings.Repeat("A", maxTokenBytes+4),
	} {
		if _, err := decodeToken(s); err == nil {
			t.Errorf("%s: %q decoded", name, s)
		} else {
			inputError(t, err, CodeInvalidToken)
		}
	}
}

// FuzzDecodeToken: any text decodes to a token that encodes back to
// itself, or is refused as INVALID_TOKEN.
func FuzzDecodeToken(f *testing.F) {
	f.Add(encodeToken(pageToken{kind: tokenKeyset, sig: 9, keys: []forge.Value{forge.TextValue("abc"), forge.IntValue(4)}}))
	f.Add(encodeToken(pageToken{kind: tokenOffset, sig: 1, offset: 50}))
	f.Add(encodeToken(pageToken{kind: tokenKeyset, keys: []forge.Value{forge.NullValue(), forge.FloatValue(-0.5), forge.BlobValue(nil)}}))
	f.Add("")
	f.Add("AQ")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := decodeToken(s)
		if err != nil {
			inputError(t, err, CodeInvalidToken)
			return
		}
		again, err := decodeToken(encodeToken(tok))
		if err != nil || !reflect.DeepEqual(again, tok) {
			t.Fatalf("%q: %+v, again %+v %v", s, tok, again, err)
		}
	})
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
