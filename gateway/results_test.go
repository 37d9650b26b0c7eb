package gateway

import (
	"bytes"
	"context"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/praetorian/db-forge/forge"
)

// encodeAll runs columns and rows through an encoder with opt, as the
// engine would (stopping at forge.ErrStop), and returns the body.
func encodeAll(t *testing.T, opt resultOptions, columns []string, rows []fakeRow) (string, bool) {
	t.Helper()
	e := getEncoder()
	defer putEncoder(e)
	e.opt = opt
	if err := e.Columns(columns); err != nil {
		t.Fatal(err)
	}
	n := int64(0)
	for _, r := range rows {
		err := e.Row(r)
		if errors.Is(err, forge.ErrStop) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return string(e.finish(forge.Result{ReturnsRows: true, RowsAffected: n})), e.truncated
}

// escapingRow holds every value that a format must escape or mark.
var escapingRow = fakeRow{
	forge.IntValue(math.MinInt64),
	forge.IntValue(9007199254740993),
	forge.FloatValue(1100),
	forge.FloatValue(math.Inf(-1)),
	forge.TextValue("a,b \"q\"\r\nline|pipe*<br>\\"),
	forge.TextValue(""),
	forge.NullValue(),
	forge.TextValue("NULL"),
	forge.TextValue("*NULL*"),
	forge.BlobValue([]byte{0, 0xff, 'x'}),
	forge.TextValue("bad\xffutf8\x01"),
}

var escapingCols = []string{"min", "big", "f", "inf", "text", "empty", "null", "null_text", "null_stars", "blob", "bad|name"}

// TestFormatEscaping: every format's golden answer for the values that
// need care: CSV quotes and newlines, Markdown pipes, NULL against the
// text "NULL" and the empty string, BLOBs, integers beyond 2^53,
// infinities, invalid UTF-8 and control characters.
func TestFormatEscaping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opt  resultOptions
		want string
	}{
		{"csv", resultOptions{format: formatCSV, formatSet: true},
			"min,big,f,inf,text,empty,null,null_text,null_stars,blob,bad|name\r\n" +
				"-9223372036854775808,9007199254740993,1100.0,-Infinity,\"a,b \"\"q\"\"\r\nline|pipe*<br>\\\",\"\",,NULL,*NULL*,base64:AP94,bad\uFFFDutf8\x01\r\n"},
		{"markdown", resultOptions{format: formatMarkdown, formatSet: true},
			"| min | big | f | inf | text | empty | null | null_text | null_stars | blob | bad\\|name |\n" +
				"| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n" +
				"| -9223372036854775808 | 9007199254740993 | 1100.0 | -Infinity | a,b \"q\"<br>line\\|pipe\\*\\<br>\\\\ |  | *NULL* | NULL | \\*NULL\\* | *base64:AP94* | bad\uFFFDutf8\uFFFD |\n"},
		{"ndjson objects", resultOptions{format: formatNDJSON, formatSet: true},
			`{"min":-9223372036854775808,"big":9007199254740993,"f":1100.0,"inf":"-Infinity","text":"a,b \"q\"\r\nline|pipe*<br>\\","empty":"","null":null,"null_text":"NULL","null_stars":"*NULL*","blob":{"$blob":"AP94"},"bad|name":"bad\ufffdutf8\u0001"}` + "\n" +
				`{"$end":{"rows_affected":1}}` + "\n"},
		{"ndjson arrays", resultOptions{format: formatNDJSON, formatSet: true, arrays: true},
			`{"columns":["min","big","f","inf","text","empty","null","null_text","null_stars","blob","bad|name"]}` + "\n" +
				`[-9223372036854775808,9007199254740993,1100.0,"-Infinity","a,b \"q\"\r\nline|pipe*<br>\\","",null,"NULL","*NULL*",{"$blob":"AP94"},"bad\ufffdutf8\u0001"]` + "\n" +
				`{"$end":{"rows_affected":1}}` + "\n"},
		{"json arrays", resultOptions{arrays: true},
			`{"columns":["min","big","f","inf","text","empty","null","null_text","null_stars","blob","bad|name"],"rows":[` +
				`[-9223372036854775808,9007199254740993,1100.0,"-Infinity","a,b \"q\"\r\nline|pipe*<br>\\","",null,"NULL","*NULL*",{"$blob":"AP94"},"bad\ufffdutf8\u0001"]` +
				`],"rows_affected":1}`},
		{"json objects, format named", resultOptions{formatSet: true},
			`{"data":[{"min":-9223372036854775808,"big":9007199254740993,"f":1100.0,"inf":"-Infinity","text":"a,b \"q\"\r\nline|pipe*<br>\\","empty":"","null":null,"null_text":"NULL","null_stars":"*NULL*","blob":{"$blob":"AP94"},"bad|name":"bad\ufffdutf8\u0001"}],"rows_affected":1}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, _ := encodeAll(t, tc.opt, escapingCols, []fakeRow{escapingRow})
			if got != tc.want {
				t.Fatalf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
	// The default path and the options path write the same JSON.
	plain, _ := encodeAll(t, resultOptions{}, escapingCols, []fakeRow{escapingRow})
	named, _ := encodeAll(t, resultOptions{formatSet: true}, escapingCols, []fakeRow{escapingRow})
	if plain != named {
		t.Fatalf("default %s\nnamed %s", plain, named)
	}
}

// TestResultCaps: max_rows stops one row beyond, max_bytes before the row
// that would pass it, with the tail counted; truncated only when more
// existed.
func TestResultCaps(t *testing.T) {
	t.Parallel()
	rows := []fakeRow{intRow(1), intRow(2), intRow(3)}
	cols := []string{"id"}
	tests := []struct {
		name      string
		opt       resultOptions
		want      string
		truncated bool
	}{
		{"max_rows below", resultOptions{capRows: true, maxRows: 2}, `{"data":[{"id":1},{"id":2}],"rows_affected":2,"truncated":true}`, true},
		{"max_rows exact", resultOptions{capRows: true, maxRows: 3}, `{"data":[{"id":1},{"id":2},{"id":3}],"rows_affected":3,"truncated":false}`, false},
		{"max_rows zero", resultOptions{capRows: true, maxRows: 0}, `{"data":[],"rows_affected":0,"truncated":true}`, true},
		{"arrays max_rows", resultOptions{capRows: true, maxRows: 1, arrays: true}, `{"columns":["id"],"rows":[[1]],"rows_affected":1,"truncated":true}`, true},
		{"csv max_rows", resultOptions{capRows: true, maxRows: 1, format: formatCSV}, "id\r\n1\r\n", true},
		{"markdown max_rows", resultOptions{capRows: true, maxRows: 1, format: formatMarkdown}, "| id |\n| --- |\n| 1 |\n" + mdTruncated, true},
		{"ndjson max_rows", resultOptions{capRows: true, maxRows: 1, format: formatNDJSON}, "{\"id\":1}\n{\"$end\":{\"rows_affected\":1,\"truncated\":true}}\n", true},
		{"max_bytes fits all", resultOptions{maxBytes: 1000}, `{"data":[{"id":1},{"id":2},{"id":3}],"rows_affected":3,"truncated":false}`, false},
		{"csv max_bytes", resultOptions{maxBytes: 9, format: formatCSV}, "id\r\n1\r\n", true},
		{"csv max_bytes exact", resultOptions{maxBytes: 10, format: formatCSV}, "id\r\n1\r\n2\r\n", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, truncated := encodeAll(t, tc.opt, cols, rows)
			if got != tc.want || truncated != tc.truncated {
				t.Fatalf("got %q (truncated %v), want %q (%v)", got, truncated, tc.want, tc.truncated)
			}
			if tc.opt.maxBytes > 0 && len(got) > tc.opt.maxBytes {
				t.Fatalf("%d bytes, over max_bytes %d", len(got), tc.opt.maxBytes)
			}
		})
	}
	// Every max_bytes keeps the body within it, once the envelope fits.
	for _, f := range []format{formatJSON, formatNDJSON, formatCSV, formatMarkdown} {
		for mb := 1; mb < 200; mb++ {
			o := resultOptions{maxBytes: mb, format: f, formatSet: true}
			got, _ := encodeAll(t, o, cols, rows)
			empty, _ := encodeAll(t, resultOptions{maxBytes: 1, format: f, formatSet: true}, cols, nil)
			if len(got) > mb && len(got) > len(empty)+tailReserve(f, 1) {
				t.Fatalf("%s max_bytes %d: %d bytes: %q", formatNames[f], mb, len(got), got)
			}
		}
	}
}

func TestDecodeQueryOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want resultOptions
		code string // "" = ok
	}{
		{`{"sql":"x"}`, resultOptions{}, ""},
		{`{"sql":"x","max_rows":10,"max_bytes":4096}`, resultOptions{capRows: true, maxRows: 10, maxBytes: 4096}, ""},
		{`{"max_rows":0,"sql":"x"}`, resultOptions{capRows: true}, ""},
		{`{"sql":"x","shape":"arrays","format":"csv"}`, resultOptions{arrays: true, format: formatCSV, formatSet: true}, ""},
		{`{"sql":"x","shape":"objects","format":"json"}`, resultOptions{formatSet: true}, ""},
		{`{"sql":"x","max_rows":-1}`, resultOptions{}, CodeInvalidValue},
		{`{"sql":"x","max_rows":1.5}`, resultOptions{}, CodeInvalidValue},
		{`{"sql":"x","max_rows":"10"}`, resultOptions{}, CodeInvalidValue},
		{`{"sql":"x","max_rows":2147483648}`, resultOptions{}, CodeInvalidValue},
		{`{"sql":"x","max_bytes":0}`, resultOptions{}, CodeInvalidValue},
		{`{"sql":"x","shape":"rows"}`, resultOptions{}, CodeInvalidValue},
		{`{"sql":"x","format":"CSV"}`, resultOptions{}, CodeInvalidValue},
		{`{"sql":"x","format":"text/csv"}`, resultOptions{}, CodeInvalidValue},
		{`{"sql":"x","size":1}`, resultOptions{}, CodeUnknownField},
		{`{"sql":"x","max_rows":1,"max_rows":2}`, resultOptions{}, CodeInvalidJSON},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			t.Parallel()
			_, got, err := decodeQueryRequest([]byte(tc.body))
			if tc.code != "" {
				var ae *apiError
				if !errors.As(err, &ae) || ae.code != tc.code {
					t.Fatalf("err %v, want %s", err, tc.code)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestDecodeRowsArgs(t *testing.T) {
	t.Parallel()
	p := func(kv ...string) []forge.QueryParam {
		var out []forge.QueryParam
		for i := 0; i < len(kv); i += 2 {
			out = append(out, forge.QueryParam{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	tests := []struct {
		query  string
		params []forge.QueryParam
		opt    resultOptions
		buffer bool
		code   string
	}{
		{"a=1", p("a", "1"), resultOptions{}, false, ""},
		// Pages and counts are the engine's, and buffered.
		{"a=1&_size=5", p("a", "1", "_size", "5"), resultOptions{}, true, ""},
		{"limit=5", p("limit", "5"), resultOptions{}, true, ""},
		{"_count=1&_sort=a", p("_count", "1", "_sort", "a"), resultOptions{}, true, ""},
		{"_max_bytes=100&_shape=arrays&_format=ndjson", []forge.QueryParam{}, resultOptions{maxBytes: 100, arrays: true, format: formatNDJSON, formatSet: true}, false, ""},
		// The escape: a column named like an option is the engine's.
		{"__max_bytes=3", p("__max_bytes", "3"), resultOptions{}, false, ""},
		{"_id=3", p("_id", "3"), resultOptions{}, false, ""},
		{"_max_bytes=0", nil, resultOptions{}, false, CodeInvalidValue},
		{"_format=xml", nil, resultOptions{}, false, CodeInvalidValue},
		{"_format=csv&_format=csv", nil, resultOptions{}, false, CodeInvalidValue},
		{"_shape=", nil, resultOptions{}, false, CodeInvalidValue},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			t.Parallel()
			var args fasthttp.Args
			args.Parse(tc.query)
			params, opt, buffer, err := decodeRowsArgs(&args)
			if tc.code != "" {
				wantAPIError(t, err, fasthttp.StatusBadRequest, tc.code)
				return
			}
			if err != nil || opt != tc.opt || buffer != tc.buffer || !reflect.DeepEqual(params, tc.params) {
				t.Fatalf("got %#v %+v %v %v", params, opt, buffer, err)
			}
		})
	}
}

func TestNegotiate(t *testing.T) {
	t.Parallel()
	tests := map[string]format{
		"":                                     formatJSON,
		"*/*":                                  formatJSON,
		"application/json":                     formatJSON,
		"text/csv":                             formatCSV,
		"TEXT/CSV; charset=utf-8":              formatCSV,
		"application/x-ndjson":                 formatNDJSON,
		"application/ndjson":                   formatNDJSON,
		"text/markdown":                        formatMarkdown,
		"text/html, */*;q=0.8":                 formatJSON,
		"text/csv;q=0.5, text/markdown":        formatMarkdown,
		"text/csv;q=0, application/json":       formatJSON,
		"text/csv;q=0":                         formatJSON,
		"application/xml":                      formatJSON, // nothing we have: JSON
		"text/markdown, text/csv":              formatMarkdown,
		"text/csv;q=bad, application/x-ndjson": formatNDJSON,
	}
	for in, want := range tests {
		if got := negotiate([]byte(in)); got != want {
			t.Errorf("negotiate(%q) = %s, want %s", in, formatNames[got], formatNames[want])
		}
	}
}

// rowsEngine answers every query with n rows of (i, 'row-i'), or fails
// with failAt's error after that many rows.
type rowsEngine struct {
	Engine
	n, failAt int
	err       error
}

func (e rowsEngine) Query(ctx context.Context, _ string, _ forge.Statement, w forge.RowWriter) (forge.Result, error) {
	if e.n < 0 {
		return forge.Result{RowsAffected: 3}, nil
	}
	res := forge.Result{ReturnsRows: true}
	if err := w.Columns([]string{"id", "name"}); err != nil {
		return res, err
	}
	for i := range e.n {
		if e.err != nil && i == e.failAt {
			return res, e.err
		}
		err := w.Row(fakeRow{forge.IntValue(int64(i)), forge.TextValue("row-" + string(rune('a'+i%26)))})
		if errors.Is(err, forge.ErrStop) {
			return res, nil
		}
		if err != nil {
			return res, err
		}
		res.RowsAffected++
	}
	return res, ctx.Err()
}

// ReadRows pages as package tables does with _size: the writer hears
// the page size, and a page that holds fewer rows than there are says
// where the next starts.
func (e rowsEngine) ReadRows(ctx context.Context, _, _ string, params []forge.QueryParam, w forge.RowWriter) (forge.Result, forge.Page, error) {
	var page forge.Page
	for _, p := range params {
		if p.Key == "_size" {
			n, _ := strconv.Atoi(p.Value)
			w.(forge.PageSizer).PageSize(n)
			page.Paged = true
		}
	}
	res, err := e.Query(ctx, "", forge.Statement{}, w)
	if page.Paged && int(res.RowsAffected) < e.n {
		page.More, page.Next = true, "next-token"
	}
	return res, page, err
}

func serveOnce(h fasthttp.RequestHandler, method, uri, body, accept string) *fasthttp.RequestCtx {
	var rc fasthttp.RequestCtx
	rc.Request.Header.SetMethod(method)
	rc.Request.SetRequestURI(uri)
	rc.Request.SetBodyString(body)
	if accept != "" {
		rc.Request.Header.Set("Accept", accept)
	}
	h(&rc)
	return &rc
}

// TestFormatHandlers: the routes with options, buffered and streamed,
// with an error before and after the first chunk.
func TestFormatHandlers(t *testing.T) {
	t.Parallel()
	const many = 5000 // far past the first chunk
	boom := &forge.SQLError{Code: "SQLITE_ERROR", Message: "boom"}
	tests := []struct {
		name, method, uri, body, accept string
		eng                             rowsEngine
		status                          int
		ctype, truncated                string
		check                           func(t *testing.T, body string)
	}{
		{"query default unchanged", "POST", "/api/db/d/query", `{"sql":"x"}`, "", rowsEngine{n: 2}, 200, "application/json", "",
			func(t *testing.T, b string) {
				// The seed's fields, byte for byte, then the meta object
				// every /query answer carries (an addition).
				if !strings.HasPrefix(b, `{"data":[{"id":0,"name":"row-a"},{"id":1,"name":"row-b"}],"rows_affected":2,"meta":{`) {
					t.Fatal(b)
				}
			}},
		{"query accept csv", "POST", "/api/db/d/query", `{"sql":"x"}`, "text/csv", rowsEngine{n: 2}, 200, contentTypes[formatCSV], "",
			func(t *testing.T, b string) {
				if b != "id,name\r\n0,row-a\r\n1,row-b\r\n" {
					t.Fatalf("%q", b)
				}
			}},
		{"body format wins over accept", "POST", "/api/db/d/query", `{"sql":"x","format":"json","max_rows":1}`, "text/csv", rowsEngine{n: 2}, 200, "application/json", "true",
			func(t *testing.T, b string) {
				if b != `{"data":[{"id":0,"name":"row-a"}],"rows_affected":1,"truncated":true,"meta":{"duration_ms":0,"changes":0,"last_insert_id":0,"rows_written":0,"vm_steps":0,"full_scan_steps":0}}` {
					t.Fatal(b)
				}
			}},
		{"rows get _size arrays", "GET", "/api/db/d/tables/t/rows?_size=1&_shape=arrays", "", "", rowsEngine{n: 3}, 200, "application/json", "true",
			func(t *testing.T, b string) {
				if b != `{"columns":["id","name"],"rows":[[0,"row-a"]],"rows_affected":1,"truncated":true,"next":"next-token"}` {
					t.Fatal(b)
				}
			}},
		{"streamed ndjson", "POST", "/api/db/d/query", `{"sql":"x","format":"ndjson"}`, "", rowsEngine{n: many}, 200, contentTypes[formatNDJSON], "",
			func(t *testing.T, b string) {
				lines := strings.Split(strings.TrimSuffix(b, "\n"), "\n")
				if len(lines) != many+1 || lines[many] != `{"$end":{"rows_affected":5000,"meta":{"duration_ms":0,"changes":0,"last_insert_id":0,"rows_written":0,"vm_steps":0,"full_scan_steps":0}}}` {
					t.Fatalf("%d lines, last %q", len(lines), lines[len(lines)-1])
				}
			}},
		{"error before the first chunk", "POST", "/api/db/d/query", `{"sql":"x","format":"ndjson"}`, "", rowsEngine{n: 10, failAt: 5, err: boom}, 400, "application/json", "",
			func(t *testing.T, b string) {
				if !strings.Contains(b, `"code":"SQL_ERROR"`) {
					t.Fatal(b)
				}
			}},
		{"ndjson error mid-stream", "POST", "/api/db/d/query", `{"sql":"x","format":"ndjson"}`, "", rowsEngine{n: many, failAt: many - 1, err: boom}, 200, contentTypes[formatNDJSON], "",
			func(t *testing.T, b string) {
				if !strings.HasSuffix(b, `{"$error":{"code":"SQL_ERROR","message":"SQL Error: boom","status":400}}`+"\n") {
					t.Fatalf("ends %q", b[len(b)-100:])
				}
			}},
		{"markdown error mid-stream", "GET", "/api/db/d/tables/t/rows?_format=markdown", "", "", rowsEngine{n: many, failAt: many - 1, err: boom}, 200, contentTypes[formatMarkdown], "",
			func(t *testing.T, b string) {
				if !strings.HasSuffix(b, "\n*Error: SQL_ERROR: SQL Error: boom*\n") {
					t.Fatalf("ends %q", b[len(b)-100:])
				}
			}},
		{"non-row statement answers JSON", "POST", "/api/db/d/query", `{"sql":"x","format":"csv"}`, "", rowsEngine{n: -1}, 200, "application/json", "",
			func(t *testing.T, b string) {
				if b != `{"message":"Query executed successfully.","rows_affected":3,"meta":{"duration_ms":0,"changes":0,"last_insert_id":0,"rows_written":0,"vm_steps":0,"full_scan_steps":0}}` {
					t.Fatal(b)
				}
			}},
		{"bad option", "POST", "/api/db/d/query", `{"sql":"x","format":"xml"}`, "", rowsEngine{}, 400, "application/json", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := New(Options{}, tc.eng, nil, zap.NewNop())
			rc := serveOnce(s.Handler(), tc.method, tc.uri, tc.body, tc.accept)
			body := string(rc.Response.Body()) // reads a stream whole
			if rc.Response.StatusCode() != tc.status || string(rc.Response.Header.ContentType()) != tc.ctype {
				t.Fatalf("%d %s: %.200s", rc.Response.StatusCode(), rc.Response.Header.ContentType(), body)
			}
			if got := string(rc.Response.Header.Peek(headerTruncated)); got != tc.truncated {
				t.Fatalf("X-Truncated %q, want %q", got, tc.truncated)
			}
			if tc.check != nil {
				tc.check(t, body)
			}
			checkDocumented(t, rc)
		})
	}
}

// TestFormatCSVCutMidStream: a CSV stream that fails after its first chunk
// has no place for an error: its body fails, so that the client's HTTP
// library reports an incomplete answer rather than a short table.
func TestFormatCSVCutMidStream(t *testing.T) {
	t.Parallel()
	s := New(Options{}, rowsEngine{n: 5000, failAt: 4000, err: forge.ErrTimeout}, nil, zap.NewNop())
	rc := serveOnce(s.Handler(), "POST", "/api/db/d/query", `{"sql":"x","format":"csv"}`, "")
	if !rc.Response.IsBodyStream() {
		t.Fatal("not streamed")
	}
	var out bytes.Buffer
	err := rc.Response.BodyWriteTo(&out)
	if err == nil || !errors.Is(err, forge.ErrTimeout) {
		t.Fatalf("body error %v, want the statement's", err)
	}
	if !strings.HasPrefix(out.String(), "id,name\r\n0,row-a\r\n") {
		t.Fatalf("%.100q", out.String())
	}
}

// FuzzDecodeQueryOptions: the query body with result options never panics,
// answers only client errors, and a body it takes decodes the same
// statement as without its options.
func FuzzDecodeQueryOptions(f *testing.F) {
	for _, s := range []string{
		`{"sql":"x","max_rows":10}`, `{"sql":"x","max_bytes":1,"shape":"arrays"}`, `{"sql":"x","format":"markdown"}`,
		`{"sql":"x","max_rows":1e3}`, `{"sql":"x","format":null}`, `{"sql":"x","shape":["arrays"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		q, opt, err := decodeQueryRequest(body)
		if err != nil {
			checkClientError(t, err, body)
			return
		}
		if opt.capRows && (opt.maxRows < 0 || opt.maxRows > maxCap) || opt.maxBytes < 0 || opt.maxBytes > maxCap ||
			int(opt.format) >= len(formatNames) {
			t.Fatalf("%q: options out of range: %+v", body, opt)
		}
		strict, err := decodeQueryStrict(body)
		if err != nil || !reflect.DeepEqual(q, strict) {
			t.Fatalf("%q: %+v / %+v, %v", body, q, strict, err)
		}
	})
}

// FuzzDecodeSelectArgs: any query string splits into the engine's
// parameters and the gateway's result options without panic: every
// parameter is one or the other.
func FuzzDecodeSelectArgs(f *testing.F) {
	for _, s := range []string{"a=1&_size=2", "__max_bytes=1&_shape=arrays", "_format=csv&_format=csv", "_max_bytes=99999999999", "_x=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, query string) {
		var args fasthttp.Args
		args.Parse(query)
		params, _, _, err := decodeRowsArgs(&args)
		if err != nil {
			checkClientError(t, err, []byte(query))
			return
		}
		options := 0
		for k := range args.All() {
			for _, o := range rowsResultOptions {
				if string(k) == o.param {
					options++
				}
			}
		}
		if len(params)+options != args.Len() {
			t.Fatalf("%q: %d parameters and %d options of %d", query, len(params), options, args.Len())
		}
	})
}

// FuzzNegotiate: any Accept header picks a format, JSON unless it names
// another.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"text/csv", "*/*;q=0.1, text/markdown;q=0.2", ";;,,q=", "text/csv;q=1e400"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		got := negotiate([]byte(accept))
		if int(got) >= len(formatNames) {
			t.Fatalf("%q: format %d", accept, got)
		}
		a := strings.ToLower(accept)
		named := map[format]bool{
			formatJSON:     true,
			formatNDJSON:   strings.Contains(a, "ndjson") || strings.Contains(a, "jsonl"),
			formatCSV:      strings.Contains(a, "text/csv") || strings.Contains(a, "text/*"),
			formatMarkdown: strings.Contains(a, "text/markdown"),
		}
		if !named[got] {
			t.Fatalf("%q: %s without naming it", accept, formatNames[got])
		}
	})
}

// decodeQueryRequest is decodeQueryBody's result options alone (the body's
// other options, dry_run and max_changes, have tests of their own).
func decodeQueryRequest(body []byte) (forge.Statement, resultOptions, error) {
	q, opt, err := decodeQueryBody(body)
	return q, opt.result, err
}
