package gateway

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/forge"
)

// wantAPIError checks that err is an *apiError with the given status and code.
func wantAPIError(t *testing.T, err error, status int, code string) *apiError {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %d %s", status, code)
	}
	var ae *apiError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is %T, want *apiError", err, err)
	}
	if ae.status != status || ae.code != code {
		t.Fatalf("error = %d %s %q, want %d %s", ae.status, ae.code, ae.detail, status, code)
	}
	if ae.detail == "" {
		t.Fatalf("error %d %s has no detail", status, code)
	}
	return ae
}

func TestDecodeQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want forge.Statement
	}{
		{
			name: "sql only",
			body: `{"sql":"SELECT 1"}`,
			want: forge.Statement{SQL: "SELECT 1"},
		},
		{
			name: "params null",
			body: `{"sql":"SELECT 1","params":null}`,
			want: forge.Statement{SQL: "SELECT 1"},
		},
		{
			name: "params before sql",
			body: `{"params":[1],"sql":"SELECT ?"}`,
			want: forge.Statement{SQL: "SELECT ?", Params: forge.Params{Positional: []forge.Value{forge.IntValue(1)}}},
		},
		{
			name: "positional every kind",
			body: `{"sql":"SELECT ?,?,?,?,?,?,?,?,?","params":[9007199254740993,1.5,1e3,"it's",true,false,null,{"$blob":"AP8="},-9223372036854775808]}`,
			want: forge.Statement{SQL: "SELECT ?,?,?,?,?,?,?,?,?", Params: forge.Params{Positional: []forge.Value{
				forge.IntValue(9007199254740993),
				forge.FloatValue(1.5),
				forge.FloatValue(1000),
				forge.TextValue("it's"),
				forge.IntValue(1),
				forge.IntValue(0),
				forge.NullValue(),
				forge.BlobValue([]byte{0x00, 0xff}),
				forge.IntValue(math.MinInt64),
			}}},
		},
		{
			name: "integers and floats",
			body: `{"sql":"x","params":[-0,0.0,9223372036854775807,1E2,-2.5e-3,{"$blob":""}]}`,
			want: forge.Statement{SQL: "x", Params: forge.Params{Positional: []forge.Value{
				forge.IntValue(0),
				forge.FloatValue(0),
				forge.IntValue(math.MaxInt64),
				forge.FloatValue(100),
				forge.FloatValue(-0.0025),
				forge.BlobValue([]byte{}),
			}}},
		},
		{
			name: "empty params array",
			body: `{"sql":"SELECT 1","params":[]}`,
			want: forge.Statement{SQL: "SELECT 1", Params: forge.Params{Positional: []forge.Value{}}},
		},
		{
			name: "named params strip sigils",
			body: `{"sql":"SELECT :x,:y,@z,$w","params":{"x":1,":y":"two","@z":null,"$w":2.5}}`,
			want: forge.Statement{SQL: "SELECT :x,:y,@z,$w", Params: forge.Params{IsNamed: true, Named: []forge.NamedValue{
				{Name: "x", Value: forge.IntValue(1)},
				{Name: "y", Value: forge.TextValue("two")},
				{Name: "z", Value: forge.NullValue()},
				{Name: "w", Value: forge.FloatValue(2.5)},
			}}},
		},
		{
			name: "lone sigil kept as name",
			body: `{"sql":"x","params":{":":1}}`,
			want: forge.Statement{SQL: "x", Params: forge.Params{IsNamed: true, Named: []forge.NamedValue{{Name: ":", Value: forge.IntValue(1)}}}},
		},
		{
			name: "empty named params",
			body: `{"sql":"x","params":{}}`,
			want: forge.Statement{SQL: "x", Params: forge.Params{IsNamed: true, Named: []forge.NamedValue{}}},
		},
		{
			name: "whitespace around body",
			body: " \n{\"sql\" : \"SELECT\\n1\"}\r\n",
			want: forge.Statement{SQL: "SELECT\n1"},
		},
		{
			name: "unicode sql",
			body: `{"sql":"SELECT 'ünï \ud83d\ude00'"}`,
			want: forge.Statement{SQL: "SELECT 'ünï 😀'"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeQuery([]byte(tc.body))
			if err != nil {
				t.Fatalf("decodeQuery(%s) = %v", tc.body, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("decodeQuery(%s) =\n %#v\nwant\n %#v", tc.body, got, tc.want)
			}
		})
	}
}

func TestDecodeQueryErrors(t *testing.T) {
	t.Parallel()
	const (
		s400 = fasthttp.StatusBadRequest
		s422 = fasthttp.StatusUnprocessableEntity
	)
	tests := []struct {
		name   string
		body   string
		status int
		code   string
		detail string // substring, optional
	}{
		{"unknown field", `{"sql":"SELECT 1","foo":1}`, s400, CodeUnknownField, `Unknown field "foo" in the query body.`},
		{"upper-case sql is unknown", `{"SQL":"SELECT 1"}`, s400, CodeUnknownField, `"SQL"`},
		{"case-folded duplicate sql", `{"sql":"SELECT 1","SQL":"DROP TABLE t"}`, s400, CodeInvalidJSON, "duplicate key"},
		{"duplicate sql", `{"sql":"SELECT 1","sql":"SELECT 2"}`, s400, CodeInvalidJSON, "duplicate key"},
		{"missing sql", `{}`, s422, CodeValidation, `Field "sql" is required.`},
		{"params only", `{"params":[]}`, s422, CodeValidation, `Field "sql" is required.`},
		{"sql number", `{"sql":1}`, s422, CodeValidation, `Field "sql" must be a string, not number.`},
		{"sql null", `{"sql":null}`, s422, CodeValidation, "not null"},
		{"sql array", `{"sql":["SELECT 1"]}`, s422, CodeValidation, "not array"},
		{"empty sql", `{"sql":""}`, s422, CodeValidation, "must not be empty"},
		{"whitespace sql", `{"sql":" \t\n "}`, s422, CodeValidation, "must not be empty"},
		{"integer too big", `{"sql":"x","params":[9223372036854775808]}`, s400, CodeInvalidValue, "params[0]: integer 9223372036854775808 is outside the 64-bit range."},
		{"integer too small", `{"sql":"x","params":[-9223372036854775809]}`, s400, CodeInvalidValue, "outside the 64-bit range"},
		{"float overflow", `{"sql":"x","params":[1e400]}`, s400, CodeInvalidValue, "params[0]: number 1e400 is outside the float64 range."},
		{"negative float overflow", `{"sql":"x","params":[1, -1.5e309]}`, s400, CodeInvalidValue, "params[1]"},
		{"named float overflow", `{"sql":"x","params":{":n":1e999}}`, s400, CodeInvalidValue, "params.n"},
		{"array inside params", `{"sql":"x","params":[[1]]}`, s422, CodeValidation, "params[0]: arrays are not SQL values."},
		{"array inside named params", `{"sql":"x","params":{"a":[1]}}`, s422, CodeValidation, "params.a"},
		{"object inside params", `{"sql":"x","params":[{"a":1}]}`, s422, CodeValidation, `{"$blob": "<base64>"}`},
		{"blob not a string", `{"sql":"x","params":[{"$blob":1}]}`, s422, CodeValidation, "params[0]"},
		{"blob with extra key", `{"sql":"x","params":[{"$blob":"AA==","x":1}]}`, s422, CodeValidation, "params[0]"},
		{"bad base64", `{"sql":"x","params":[{"$blob":"!!"}]}`, s400, CodeInvalidValue, "params[0]: \"$blob\" must be standard base64"},
		{"unpadded base64", `{"sql":"x","params":[{"$blob":"AP8"}]}`, s400, CodeInvalidValue, "base64"},
		{"url base64", `{"sql":"x","params":[{"$blob":"_-8="}]}`, s400, CodeInvalidValue, "base64"},
		{"params string", `{"sql":"x","params":"a"}`, s422, CodeValidation, `Field "params" must be an array or an object, not string.`},
		{"params number", `{"sql":"x","params":1}`, s422, CodeValidation, "not number"},
		{"params bool", `{"sql":"x","params":true}`, s422, CodeValidation, "not boolean"},
		{"body array", `[]`, s422, CodeValidation, "Request body must be a JSON object, not array."},
		{"body string", `"SELECT 1"`, s422, CodeValidation, "not string"},
		{"body null", `null`, s422, CodeValidation, "not null"},
		{"empty body", ``, s422, CodeValidation, "Request body is empty"},
		{"whitespace body", ` `, s400, CodeInvalidJSON, "Invalid JSON at byte 1"},
		{"invalid json", `{"sql":`, s400, CodeInvalidJSON, "Invalid JSON"},
		{"trailing data", `{"sql":"SELECT 1"} {}`, s400, CodeInvalidJSON, "unexpected data after"},
		{"nul in sql", `{"sql":"SELECT 1\u0000"}`, s400, CodeInvalidJSON, "NUL"},
		{"invalid utf8 in sql", "{\"sql\":\"SELECT '\xff'\"}", s400, CodeInvalidJSON, "UTF-8"},
		{"duplicate named with and without sigil", `{"sql":"x","params":{":x":1,"x":2}}`, s400, CodeInvalidValue, `Parameter "x" is given twice.`},
		{"duplicate named different sigils", `{"sql":"x","params":{"@x":1,"$x":2}}`, s400, CodeInvalidValue, "given twice"},
		{"duplicate named keys", `{"sql":"x","params":{"x":1,"x":2}}`, s400, CodeInvalidJSON, "duplicate key"},
		{"first error wins", `{"sql":1,"foo":2}`, s422, CodeValidation, `"sql" must be a string`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := decodeQuery([]byte(tc.body))
			ae := wantAPIError(t, err, tc.status, tc.code)
			if !strings.Contains(ae.detail, tc.detail) {
				t.Fatalf("detail %q, want it to contain %q", ae.detail, tc.detail)
			}
		})
	}
}

func FuzzDecodeQuery(f *testing.F) {
	for _, s := range []string{
		`{"sql":"SELECT 1"}`,
		`{"sql":"SELECT ?","params":[9007199254740993,1.5,1e3,"s",true,false,null,{"$blob":"AP8="}]}`,
		`{"sql":"SELECT :x","params":{"x":1,":y":2,"@z":3,"$w":4}}`,
		`{"sql":"x","params":{":x":1,"x":2}}`,
		`{"sql":"x","params":[9223372036854775808]}`,
		`{"sql":"x","params":[1e400]}`,
		`{"sql":"x","params":[[1]]}`,
		`{"sql":"x","params":[{"$blob":"!!"}]}`,
		`{"sql":" "}`, `{"SQL":"x"}`, `{"sql":"a","SQL":"b"}`, `[]`, ``, `{`, `{"sql":"\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		q, err := decodeQuery(body)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v is %T, want *apiError", err, err)
			}
			if ae.status != fasthttp.StatusBadRequest && ae.status != fasthttp.StatusUnprocessableEntity {
				t.Fatalf("status %d for %q", ae.status, body)
			}
			if ae.code == "" || ae.detail == "" {
				t.Fatalf("error without code or detail: %+v", ae)
			}
			if !utf8.ValidString(ae.detail) {
				t.Fatalf("detail %q is not valid UTF-8", ae.detail)
			}
			return
		}
		if strings.TrimSpace(q.SQL) == "" {
			t.Fatalf("accepted empty SQL from %q", body)
		}
		checkText := func(s string) {
			if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
				t.Fatalf("accepted text %q with NUL or invalid UTF-8 from %q", s, body)
			}
		}
		checkText(q.SQL)
		p := q.Params
		if p.IsNamed && p.Positional != nil || !p.IsNamed && p.Named != nil {
			t.Fatalf("params both named and positional: %#v", p)
		}
		vals := p.Positional
		for i, n := range p.Named {
			checkText(n.Name)
			for _, prev := range p.Named[:i] {
				if prev.Name == n.Name {
					t.Fatalf("named parameter %q twice", n.Name)
				}
			}
			vals = append(vals, n.Value)
		}
		for _, v := range vals {
			switch v.Kind {
			case forge.Text:
				checkText(v.Str)
			case forge.Float:
				if math.IsInf(v.Float, 0) || math.IsNaN(v.Float) {
					t.Fatalf("accepted non-finite float from %q", body)
				}
			case forge.Null, forge.Integer, forge.Blob:
			default:
				t.Fatalf("unknown kind %v", v.Kind)
			}
		}
	})
}

func TestDecodeTable(t *testing.T) {
	t.Parallel()
	pending := forge.TextValue("pending")
	null := forge.NullValue()
	one := forge.FloatValue(1.5)
	tests := []struct {
		name string
		body string
		want forge.TableSpec
	}{
		{
			name: "seed example",
			body: `{"table_name": "tasks", "columns": [{"name": "id", "type": "INTEGER", "primary_key": true}, {"name": "description", "type": "TEXT", "not_null": true}, {"name": "status", "type": "TEXT", "default": "pending"}]}`,
			want: forge.TableSpec{Name: "tasks", Columns: []forge.ColumnSpec{
				{Name: "id", Type: "INTEGER", PrimaryKey: true},
				{Name: "description", Type: "TEXT", NotNull: true},
				{Name: "status", Type: "TEXT", Default: &pending},
			}},
		},
		{
			name: "flags false and null, null default",
			body: `{"columns":[{"type":"REAL","name":"r","primary_key":false,"not_null":null,"unique":true,"default":null}],"table_name":"t"}`,
			want: forge.TableSpec{Name: "t", Columns: []forge.ColumnSpec{
				{Name: "r", Type: "REAL", Unique: true, Default: &null},
			}},
		},
		{
			name: "numeric default",
			body: `{"table_name":"t","columns":[{"name":"r","type":"REAL","default":1.5}]}`,
			want: forge.TableSpec{Name: "t", Columns: []forge.ColumnSpec{{Name: "r", Type: "REAL", Default: &one}}},
		},
		{
			name: "no columns decodes (CreateTable refuses later)",
			body: `{"table_name":"t","columns":[]}`,
			want: forge.TableSpec{Name: "t"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeTable([]byte(tc.body))
			if err != nil {
				t.Fatalf("decodeTable = %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("decodeTable =\n %#v\nwant\n %#v", got, tc.want)
			}
		})
	}
}

func TestDecodeTableErrors(t *testing.T) {
	t.Parallel()
	const (
		s400 = fasthttp.StatusBadRequest
		s422 = fasthttp.StatusUnprocessableEntity
	)
	tests := []struct {
		name   string
		body   string
		status int
		code   string
		detail string
	}{
		{"unknown top field", `{"table_name":"t","columns":[],"x":1}`, s400, CodeUnknownField, `Unknown field "x" in the table body.`},
		{"unknown column field", `{"table_name":"t","columns":[{"name":"a","type":"TEXT","autoincrement":true}]}`, s400, CodeUnknownField, `Unknown field "autoincrement" in columns[0].`},
		{"case-folded column field", `{"table_name":"t","columns":[{"name":"a","Name":"b","type":"TEXT"}]}`, s400, CodeInvalidJSON, "duplicate key"},
		{"missing table_name", `{"columns":[]}`, s422, CodeValidation, `Field "table_name" is required.`},
		{"missing columns", `{"table_name":"t"}`, s422, CodeValidation, `Field "columns" is required.`},
		{"table_name number", `{"table_name":1,"columns":[]}`, s422, CodeValidation, "table_name"},
		{"columns object", `{"table_name":"t","columns":{}}`, s422, CodeValidation, `Field "columns" must be an array.`},
		{"column not object", `{"table_name":"t","columns":["a"]}`, s422, CodeValidation, "columns[0] must be an object."},
		{"column missing name", `{"table_name":"t","columns":[{"type":"TEXT"}]}`, s422, CodeValidation, "columns[0].name is required."},
		{"column missing type", `{"table_name":"t","columns":[{"name":"a"}]}`, s422, CodeValidation, "columns[0].type is required."},
		{"column name number", `{"table_name":"t","columns":[{"name":1,"type":"TEXT"}]}`, s422, CodeValidation, "columns[0].name must be a string."},
		{"column type null", `{"table_name":"t","columns":[{"name":"a","type":null}]}`, s422, CodeValidation, "columns[0].type must be a string."},
		{"flag string", `{"table_name":"t","columns":[{"name":"a","type":"TEXT"},{"name":"b","type":"TEXT","not_null":"yes"}]}`, s422, CodeValidation, "columns[1].not_null must be a boolean."},
		{"flag number", `{"table_name":"t","columns":[{"name":"a","type":"TEXT","primary_key":1}]}`, s422, CodeValidation, "columns[0].primary_key must be a boolean."},
		{"unique object", `{"table_name":"t","columns":[{"name":"a","type":"TEXT","unique":{}}]}`, s422, CodeValidation, "columns[0].unique"},
		{"default array", `{"table_name":"t","columns":[{"name":"a","type":"TEXT","default":[]}]}`, s422, CodeValidation, "columns[0].default"},
		{"default too big", `{"table_name":"t","columns":[{"name":"a","type":"INTEGER","default":99999999999999999999}]}`, s400, CodeInvalidValue, "columns[0].default"},
		{"default bad blob", `{"table_name":"t","columns":[{"name":"a","type":"BLOB","default":{"$blob":"*"}}]}`, s400, CodeInvalidValue, "base64"},
		{"body array", `[]`, s422, CodeValidation, "must be a JSON object"},
		{"empty body", ``, s422, CodeValidation, "empty"},
		{"invalid json", `{"table_name":"t",}`, s400, CodeInvalidJSON, "Invalid JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := decodeTable([]byte(tc.body))
			ae := wantAPIError(t, err, tc.status, tc.code)
			if !strings.Contains(ae.detail, tc.detail) {
				t.Fatalf("detail %q, want it to contain %q", ae.detail, tc.detail)
			}
		})
	}
}

func TestDecodeRows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want []forge.Record
	}{
		{
			name: "two rows keep field order",
			body: `{"rows":[{"description":"write tests","status":"done","id":7},{"z":null,"a":true,"b":1.5,"c":{"$blob":"AP8="}}]}`,
			want: []forge.Record{
				{
					{Column: "description", Value: forge.TextValue("write tests")},
					{Column: "status", Value: forge.TextValue("done")},
					{Column: "id", Value: forge.IntValue(7)},
				},
				{
					{Column: "z", Value: forge.NullValue()},
					{Column: "a", Value: forge.IntValue(1)},
					{Column: "b", Value: forge.FloatValue(1.5)},
					{Column: "c", Value: forge.BlobValue([]byte{0x00, 0xff})},
				},
			},
		},
		{
			name: "empty row",
			body: `{"rows":[{}]}`,
			want: []forge.Record{{}},
		},
		{
			name: "big integer exact",
			body: `{"rows":[{"n":9007199254740993}]}`,
			want: []forge.Record{{{Column: "n", Value: forge.IntValue(9007199254740993)}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeRows([]byte(tc.body))
			if err != nil {
				t.Fatalf("decodeRows = %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("decodeRows =\n %#v\nwant\n %#v", got, tc.want)
			}
		})
	}
}

func TestDecodeRowsErrors(t *testing.T) {
	t.Parallel()
	const (
		s400 = fasthttp.StatusBadRequest
		s422 = fasthttp.StatusUnprocessableEntity
	)
	tests := []struct {
		name   string
		body   string
		status int
		code   string
		detail string
	}{
		{"unknown field", `{"rows":[],"table":"t"}`, s400, CodeUnknownField, `Unknown field "table" in the rows body.`},
		{"no rows", `{"rows":[]}`, s400, CodeNoRows, "No rows provided."},
		{"missing rows", `{}`, s422, CodeValidation, `Field "rows" is required.`},
		{"rows object", `{"rows":{"a":1}}`, s422, CodeValidation, `Field "rows" must be an array of objects.`},
		{"rows null", `{"rows":null}`, s422, CodeValidation, "array of objects"},
		{"row not object", `{"rows":[{"a":1},[1]]}`, s422, CodeValidation, "rows[1] must be an object."},
		{"row number", `{"rows":[1]}`, s422, CodeValidation, "rows[0] must be an object."},
		{"cell array", `{"rows":[{"a":[1]}]}`, s422, CodeValidation, "rows[0].a: arrays are not SQL values."},
		{"cell object", `{"rows":[{"a":{"b":1}}]}`, s422, CodeValidation, "rows[0].a"},
		{"cell integer overflow", `{"rows":[{"a":1},{"b":-99999999999999999999}]}`, s400, CodeInvalidValue, "rows[1].b"},
		{"cell bad blob", `{"rows":[{"a":{"$blob":"A"}}]}`, s400, CodeInvalidValue, "rows[0].a"},
		{"duplicate column", `{"rows":[{"a":1,"A":2}]}`, s400, CodeInvalidJSON, "duplicate key"},
		{"duplicate rows field", `{"rows":[],"Rows":[]}`, s400, CodeInvalidJSON, "duplicate key"},
		{"body array", `[{"a":1}]`, s422, CodeValidation, "must be a JSON object"},
		{"empty body", ``, s422, CodeValidation, "empty"},
		{"invalid json", `{"rows":[}`, s400, CodeInvalidJSON, "Invalid JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := decodeRows([]byte(tc.body))
			ae := wantAPIError(t, err, tc.status, tc.code)
			if !strings.Contains(ae.detail, tc.detail) {
				t.Fatalf("detail %q, want it to contain %q", ae.detail, tc.detail)
			}
		})
	}
}

// checkClientError fails t unless err is a client error of the decoders:
// an *apiError, 400 or 422, with a code and a valid UTF-8 detail.
func checkClientError(t *testing.T, err error, in []byte) {
	t.Helper()
	var ae *apiError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is %T, want *apiError", err, err)
	}
	if ae.status != fasthttp.StatusBadRequest && ae.status != fasthttp.StatusUnprocessableEntity {
		t.Fatalf("status %d for %q", ae.status, in)
	}
	if ae.code == "" || ae.detail == "" || !utf8.ValidString(ae.detail) {
		t.Fatalf("error without code or with a bad detail: %+v", ae)
	}
}

// checkValue fails t if v is not a value a client may bind.
func checkValue(t *testing.T, v forge.Value, in []byte) {
	t.Helper()
	switch v.Kind {
	case forge.Text:
		if strings.IndexByte(v.Str, 0) >= 0 || !utf8.ValidString(v.Str) {
			t.Fatalf("accepted text %q from %q", v.Str, in)
		}
	case forge.Float:
		if math.IsInf(v.Float, 0) || math.IsNaN(v.Float) {
			t.Fatalf("accepted a non-finite float from %q", in)
		}
	case forge.Null, forge.Integer, forge.Blob:
	default:
		t.Fatalf("unknown kind %v from %q", v.Kind, in)
	}
}

func checkName(t *testing.T, s string, in []byte) {
	t.Helper()
	if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
		t.Fatalf("accepted name %q from %q", s, in)
	}
}

// FuzzDecodeFilters: any PATCH body decodes into a "set" record of
// bindable values, or is refused as a client error.
func FuzzDecodeFilters(f *testing.F) {
	for _, s := range []string{`{"set":{"a":1}}`, `{"set":{}}`, `{"set":{"a":1,"A":2}}`, `{"set":[1]}`, `{"sets":{}}`,
		`{"set":{"a":{"$blob":"AA=="}}}`, `{"set":{"a":"\u0000"}}`, `{}`, `[]`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		set, err := decodeSet([]byte(body))
		if err != nil {
			checkClientError(t, err, []byte(body))
			return
		}
		if len(set) == 0 {
			t.Fatalf("%q: an empty set accepted", body)
		}
		for _, fl := range set {
			checkValue(t, fl.Value, []byte(body))
		}
	})
}

func FuzzDecodeTable(f *testing.F) {
	for _, s := range []string{
		`{"table_name":"t","columns":[{"name":"id","type":"INTEGER","primary_key":true}]}`,
		`{"table_name":"t","columns":[{"name":"a","type":"TEXT","not_null":true,"unique":null,"default":"x"}]}`,
		`{"table_name":"t","columns":[{"name":"a","type":"BLOB","default":{"$blob":"AP8="}}]}`,
		`{"table_name":"t","columns":[{"name":"a","type":"REAL","default":1e400}]}`,
		`{"table_name":"t","columns":[{"name":"a","type":"INT","default":9223372036854775808}]}`,
		`{"table_name":"t","columns":[{"name":"a","Name":"b","type":"INT"}]}`,
		`{"table_name":"t","columns":[{"name":"a\u0000","type":"INT"}]}`,
		`{"table_name":"t","columns":[1]}`, `{"table_name":"t"}`, `{"columns":[]}`, `{"table_name":1,"columns":[]}`,
		`{"table_name":"t","columns":[],"extra":1}`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		spec, err := decodeTable(body)
		if err != nil {
			checkClientError(t, err, body)
			return
		}
		checkName(t, spec.Name, body)
		for _, c := range spec.Columns {
			checkName(t, c.Name, body)
			checkName(t, c.Type, body)
			if c.Type == "" {
				t.Fatalf("column without a type from %q", body)
			}
			if c.Default != nil {
				checkValue(t, *c.Default, body)
			}
		}
	})
}

func FuzzDecodeRows(f *testing.F) {
	for _, s := range []string{
		`{"rows":[{"a":1,"b":"x"},{}]}`,
		`{"rows":[{"a":{"$blob":"AP8="},"b":null,"c":true,"d":1.5}]}`,
		`{"rows":[{"a":1,"A":2}]}`,
		`{"rows":[{"a":9223372036854775808}]}`,
		`{"rows":[{"a":[1]}]}`,
		`{"rows":[1]}`, `{"rows":{}}`, `{"Rows":[]}`, `{"rows":[],"rows":[]}`, `{"rows":[{"\u0000":1}]}`,
		`{"rows":[{"a":"\ud800"}]}`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rows, err := decodeRows(body)
		if err != nil {
			checkClientError(t, err, body)
			return
		}
		for _, r := range rows {
			for i, fl := range r {
				checkName(t, fl.Column, body)
				checkValue(t, fl.Value, body)
				for _, prev := range r[:i] {
					if strings.EqualFold(prev.Column, fl.Column) {
						t.Fatalf("keys %q and %q in one row, from %q", prev.Column, fl.Column, body)
					}
				}
			}
		}
	})
}
