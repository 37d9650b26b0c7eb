package gateway

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/forge"
)

// The rows and schema routes as a REST API (docs/API.md, "Rows" and
// "Schema"): the query string goes to the engine's port raw, but for the
// result options the gateway keeps (_max_bytes, _shape, _format); the
// port (package tables) decodes filters, sort, columns and pages, and
// checks them against the table.

// RowsPort is what the rows and schema routes need of the engine
// (package tables' Service); Engine embeds it.
type RowsPort interface {
	// ReadRows streams the rows params select to w; the Page says what
	// the answer carries besides them (next, count).
	ReadRows(ctx context.Context, db, table string, params []forge.QueryParam, w forge.RowWriter) (forge.Result, forge.Page, error)
	UpdateRows(ctx context.Context, db, table string, params []forge.QueryParam, set forge.Record) (int64, error)
	DeleteRows(ctx context.Context, db, table string, params []forge.QueryParam) (int64, error)
	// InsertRowsWith is InsertRows with an upsert, and the stored rows
	// written to w when opt.Return.
	InsertRowsWith(ctx context.Context, db, table string, rows []forge.Record, opt forge.InsertOptions, w forge.RowWriter) (int64, error)
	ListTables(ctx context.Context, db string) ([]forge.TableSummary, error)
	// Schema describes every table and view (table "") or one.
	Schema(ctx context.Context, db, table string, verbose bool) ([]forge.TableSchema, error)
	// DropTable drops a table or view; it returns its declared name.
	DropTable(ctx context.Context, db, table string) (string, error)
}

// Headers of a rows answer in every format.
const (
	headerNext       = "X-Next"        // the next page's token
	headerTotalCount = "X-Total-Count" // _count=1
)

// rowsRequest: GET, PATCH and DELETE /api/db/{db_name}/tables/{table_name}/rows.
type rowsRequest struct {
	db, table string
	params    []forge.QueryParam
	result    resultOptions
	// buffer: the answer may carry a page or a count, which a streamed
	// answer (its headers gone before its end) could not.
	buffer bool
	set    forge.Record // PATCH
}

// rowsResultOptions are the result options of the rows route's query
// string, by parameter, with their body field.
var rowsResultOptions = [...]struct{ param, field string }{
	{"_max_bytes", "max_bytes"}, {"_shape", "shape"}, {"_format", "format"},
}

// pagingParams are the parameters that may make an answer a page or add
// a count (limit only when the table has no such column: the engine
// decides; the answer is buffered either way).
var pagingParams = []string{"_size", "_max_rows", "_next", "_count", "limit"}

// decodeRowsArgs splits a rows route's query string into the result
// options and the parameters the engine decodes.
func decodeRowsArgs(args *fasthttp.Args) ([]forge.QueryParam, resultOptions, bool, error) {
	var opt resultOptions
	if args.Len() == 0 {
		return nil, opt, false, nil
	}
	params := make([]forge.QueryParam, 0, args.Len())
	var seen []string
	buffer := false
	for k, v := range args.All() {
		key := string(k)
		field := ""
		for _, o := range rowsResultOptions {
			if key == o.param {
				field = o.field
			}
		}
		if field == "" {
			if slices.Contains(pagingParams, key) {
				buffer = true
			}
			params = append(params, forge.QueryParam{Key: key, Value: string(v)})
			continue
		}
		if slices.Contains(seen, field) {
			return nil, opt, false, invalidValue("Query parameter %q repeats an option given before.", key)
		}
		seen = append(seen, field)
		if _, err := opt.set(field, key, jvalue{s: string(v)}, true); err != nil {
			return nil, opt, false, err
		}
	}
	return params, opt, buffer, nil
}

func bindRows(rc *fasthttp.RequestCtx) (rowsRequest, error) {
	db, err := dbName(rc)
	if err != nil {
		return rowsRequest{}, err
	}
	params, opt, buffer, err := decodeRowsArgs(rc.QueryArgs())
	opt.resolveFormat(rc)
	table, _ := rc.UserValue("table_name").(string)
	return rowsRequest{db: db, table: table, params: params, result: opt, buffer: buffer}, err
}

func bindRowsWrite(rc *fasthttp.RequestCtx) (rowsRequest, error) {
	db, err := dbName(rc)
	if err != nil {
		return rowsRequest{}, err
	}
	table, _ := rc.UserValue("table_name").(string)
	req := rowsRequest{db: db, table: table}
	for k, v := range rc.QueryArgs().All() {
		req.params = append(req.params, forge.QueryParam{Key: string(k), Value: string(v)})
	}
	if string(rc.Method()) == fasthttp.MethodPatch {
		req.set, err = decodeSet(rc.PostBody())
	}
	return req, err
}

// decodeSet decodes PATCH's body {"set": {"col": value, ...}}.
func decodeSet(body []byte) (forge.Record, error) {
	v, err := parseBody(body)
	if err != nil {
		return nil, err
	}
	var set forge.Record
	have := false
	for _, m := range v.obj {
		if m.key != "set" {
			return nil, unknownField("the update body", m.key)
		}
		if m.val.kind != jObject {
			return nil, invalidShape("Field \"set\" must be an object of column values.")
		}
		have = true
		set = make(forge.Record, len(m.val.obj))
		for i, f := range m.val.obj {
			val, err := decodeValue(f.val, path{"set", -1, f.key})
			if err != nil {
				return nil, err
			}
			set[i] = forge.Field{Column: f.key, Value: val}
		}
	}
	if !have {
		return nil, invalidShape("Field \"set\" is required.")
	}
	if len(set) == 0 {
		return nil, invalidShape("Field \"set\" needs at least one column.")
	}
	return set, nil
}

// PageSize makes the encoder cap its answer at a page (forge.PageSizer):
// the answer then says "truncated", as with _size before pages.
func (e *rowsEncoder) PageSize(n int) {
	e.opt.capRows, e.opt.maxRows = true, n
}

// readRows answers GET …/rows. Without any parameter it is the seed's
// answer; a page adds "next", _count adds "count".
func (s *Server) readRows(ctx context.Context, rc *fasthttp.RequestCtx, req rowsRequest) error {
	var page forge.Page
	run := func(ctx context.Context, w forge.RowWriter) (forge.Result, error) {
		res, p, err := s.engine.ReadRows(ctx, req.db, req.table, req.params, w)
		page = p
		return res, err
	}
	if req.result.streams() && !req.buffer {
		return s.writeResult(ctx, rc, req.result, false, run)
	}
	enc := getEncoder()
	defer putEncoder(enc)
	enc.opt = req.result
	enc.setLimits(s.opts.MaxResponseBytes)
	res, err := run(ctx, enc)
	if err != nil {
		return err
	}
	if page.More {
		enc.truncated = true
	}
	body := enc.finish(res)
	if page.Paged || page.Counted {
		body = appendPage(body, enc.opt.format, page)
	}
	if page.Next != "" {
		rc.Response.Header.Set(headerNext, page.Next)
	}
	if page.Counted {
		rc.Response.Header.Set(headerTotalCount, strconv.FormatInt(page.Count, 10))
	}
	if enc.opt.capped() {
		rc.Response.Header.Set(headerTruncated, strconv.FormatBool(enc.truncated))
	}
	rc.SetStatusCode(fasthttp.StatusOK)
	rc.SetContentType(contentTypes[enc.opt.format])
	rc.SetBody(body)
	return nil
}

// appendPage adds "next" (a page) and "count" (_count) to a JSON body's
// object, or to NDJSON's last line; CSV and Markdown carry them in the
// headers alone.
func appendPage(body []byte, f format, page forge.Page) []byte {
	var tail string
	switch f {
	case formatJSON:
		tail = "}"
	case formatNDJSON:
		tail = "}}\n"
	default:
		return body
	}
	n := len(body) - len(tail)
	if n < 0 || string(body[n:]) != tail {
		return body
	}
	b := body[:n]
	if page.Paged {
		b = append(b, `,"next":`...)
		if page.Next == "" {
			b = append(b, "null"...)
		} else {
			b = appendString(b, page.Next)
		}
	}
	if page.Counted {
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, page.Count, 10)
	}
	return append(b, tail...)
}

// updateRows answers PATCH …/rows.
func (s *Server) updateRows(ctx context.Context, rc *fasthttp.RequestCtx, req rowsRequest) error {
	n, err := s.engine.UpdateRows(ctx, req.db, req.table, req.params, req.set)
	if err != nil {
		return err
	}
	writeJSON(rc, fasthttp.StatusOK, affectedBody(n))
	return nil
}

// deleteRows answers DELETE …/rows.
func (s *Server) deleteRows(ctx context.Context, rc *fasthttp.RequestCtx, req rowsRequest) error {
	n, err := s.engine.DeleteRows(ctx, req.db, req.table, req.params)
	if err != nil {
		return err
	}
	writeJSON(rc, fasthttp.StatusOK, affectedBody(n))
	return nil
}

func affectedBody(n int64) []byte {
	b := append([]byte(`{"rows_affected":`), strconv.FormatInt(n, 10)...)
	return append(b, '}')
}

// insertRowsWith answers POST …/rows with "upsert" or "return".
func (s *Server) insertRowsWith(ctx context.Context, rc *fasthttp.RequestCtx, req insertRequest) error {
	enc := getEncoder()
	defer putEncoder(enc)
	enc.limit = s.opts.MaxResponseBytes
	var w forge.RowWriter
	if req.opt.Return {
		w = enc
	}
	n, err := s.engine.InsertRowsWith(ctx, req.db, req.table, req.rows, req.opt, w)
	if err != nil {
		return err
	}
	writeJSON(rc, fasthttp.StatusCreated, insertedWithBody(n, req.opt, enc))
	return nil
}

// insertedWithBody is the seed's insert answer, with "data" (the stored
// rows) when the request asked for them.
func insertedWithBody(n int64, opt forge.InsertOptions, enc *rowsEncoder) []byte {
	b := insertedBody(n)
	if !opt.Return {
		return b
	}
	b = b[:len(b)-1]
	b = append(b, `,"data":[`...)
	if len(enc.buf) > len(`{"data":[`) {
		b = append(b, enc.buf[len(`{"data":[`):]...)
	}
	return append(b, "]}"...)
}

// dbTableRequest: a route of {db_name} and {table_name} without a body;
// verbose is GET's ?verbose=1.
type dbTableRequest struct {
	db, table string
	verbose   bool
}

func bindDBTable(rc *fasthttp.RequestCtx) (dbTableRequest, error) {
	db, err := dbName(rc)
	if err != nil {
		return dbTableRequest{}, err
	}
	req := dbTableRequest{db: db}
	req.table, _ = rc.UserValue("table_name").(string)
	for k, v := range rc.QueryArgs().All() {
		if string(k) != "verbose" || string(rc.Method()) != fasthttp.MethodGet {
			return req, invalidValue("Unknown query parameter %q: this route takes verbose=1 alone.", k)
		}
		switch string(v) {
		case "1", "true":
			req.verbose = true
		case "0", "false":
		default:
			return req, invalidValue("Query parameter \"verbose\" must be 1 or 0.")
		}
	}
	return req, nil
}

// tablesBody is GET /api/db/{db_name}/tables's answer.
type tablesBody struct {
	Tables []forge.TableSummary `json:"tables"`
}

// schemaBody is GET /api/db/{db_name}/schema's answer.
type schemaBody struct {
	Tables []forge.TableSchema `json:"tables"`
}

func writeJSONValue(rc *fasthttp.RequestCtx, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	writeJSON(rc, status, b)
	return nil
}

func (s *Server) listTables(ctx context.Context, rc *fasthttp.RequestCtx, req dbTableRequest) error {
	list, err := s.engine.ListTables(ctx, req.db)
	if err != nil {
		return err
	}
	if list == nil {
		list = []forge.TableSummary{}
	}
	return writeJSONValue(rc, fasthttp.StatusOK, tablesBody{Tables: list})
}

func (s *Server) schema(ctx context.Context, rc *fasthttp.RequestCtx, req dbTableRequest) error {
	list, err := s.engine.Schema(ctx, req.db, "", req.verbose)
	if err != nil {
		return err
	}
	if list == nil {
		list = []forge.TableSchema{}
	}
	return writeJSONValue(rc, fasthttp.StatusOK, schemaBody{Tables: list})
}

func (s *Server) describeTable(ctx context.Context, rc *fasthttp.RequestCtx, req dbTableRequest) error {
	list, err := s.engine.Schema(ctx, req.db, req.table, req.verbose)
	if err != nil {
		return err
	}
	if len(list) != 1 {
		return forge.ErrTableNotFound
	}
	return writeJSONValue(rc, fasthttp.StatusOK, list[0])
}

func (s *Server) dropTable(ctx context.Context, rc *fasthttp.RequestCtx, req dbTableRequest) error {
	name, err := s.engine.DropTable(ctx, req.db, req.table)
	if err != nil {
		return err
	}
	writeJSON(rc, fasthttp.StatusOK, messageBody("Table '"+name+"' dropped.", "table_name", name))
	return nil
}

// decodeInsertOption decodes one of the insert body's options; ok is
// false when m is none of them.
func decodeInsertOption(m jmember, opt *forge.InsertOptions) (ok bool, err error) {
	switch m.key {
	case "upsert", "return":
		if m.val.kind != jBool && m.val.kind != jNull {
			return true, invalidShape("Field %q must be a boolean.", m.key)
		}
		if m.key == "upsert" {
			opt.Upsert = m.val.b
		} else {
			opt.Return = m.val.b
		}
		return true, nil
	case "on_conflict":
		if m.val.kind != jArray || len(m.val.arr) == 0 {
			return true, invalidShape("Field \"on_conflict\" must be a non-empty array of column names.")
		}
		opt.OnConflict = make([]string, len(m.val.arr))
		for i, c := range m.val.arr {
			if c.kind != jString {
				return true, invalidShape("on_conflict[%d] must be a column name.", i)
			}
			opt.OnConflict[i] = c.s
		}
		return true, nil
	}
	return false, nil
}

// insertOptionsSet reports whether an insert asked for more than the
// seed's insert.
func insertOptionsSet(o forge.InsertOptions) bool {
	return o.Upsert || o.Return || len(o.OnConflict) > 0
}
