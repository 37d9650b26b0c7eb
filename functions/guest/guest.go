// Package guest writes DB-Forge functions in Go: a handler registered in
// init, built with the standard toolchain as a WASI reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o fn.wasm .
//
// A function reads its request, runs SQL on its database (all of a
// call's statements in one transaction, committed when the handler
// succeeds) and answers JSON:
//
//	package main
//
//	import "github.com/praetorian/db-forge/functions/guest"
//
//	func init() {
//		guest.Handle(func(r *guest.Request) (any, error) {
//			var in struct{ Name string }
//			if err := r.JSON(&in); err != nil {
//				return nil, guest.Errorf(400, "BAD_INPUT", "%v", err)
//			}
//			return map[string]string{"hello": in.Name}, nil
//		})
//	}
//
//	func main() {}
//
// The ABI underneath is docs/FUNCTIONS.md; this package only wraps it.
// It imports the standard library alone.
package guest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// Request is a call's request.
type Request struct {
	// Body is the request body as the client sent it. Strings and
	// numbers read from it with Get share its bytes: copy the body
	// before writing to it.
	Body []byte
}

// JSON decodes the body into v (numbers as json.Number when v is an
// interface).
func (r *Request) JSON(v any) error {
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	return dec.Decode(v)
}

// Object reads the body as a JSON object (numbers as json.Number),
// without reflection: faster than JSON in WebAssembly.
func (r *Request) Object() (map[string]any, error) {
	v, err := ParseJSON(r.Body)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("guest: the body is not a JSON object")
	}
	return m, nil
}

// Get reads member key of the body's JSON object (numbers as
// json.Number) without building the object: found is false when it has
// none.
func (r *Request) Get(key string) (v any, found bool, err error) { return field(r.Body, key) }

// Handler answers a call. A nil error answers v: an Answer as it is,
// anything else as JSON with status 200; the call's statements are
// committed. An error rolls them back and answers it: an *Error with its
// status and code, any other error 500 FUNCTION_ERROR. r is valid during
// the call (the next call's request reuses it); its Body is the call's own.
type Handler func(r *Request) (any, error)

// Answer is an answer of any status, type and bytes. A status of 400 or
// more rolls the call's statements back, as an error does.
type Answer struct {
	Status      int
	ContentType string
	Body        []byte
}

// Error is an error answer: {"error": {"code": Code, "message": Message}}
// with Status (400–599).
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf makes an *Error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

var handler Handler

// current is the call's request (one call at a time; valid during it).
var current Request

// Handle sets the function's handler; call it from init.
func Handle(h Handler) { handler = h }

// Result is what a statement returned.
type Result struct {
	Columns []string `json:"columns"`
	// Rows hold numbers as json.Number, text as string, blobs as
	// map[string]any{"base64": ...} and NULL as nil.
	Rows         [][]any `json:"rows"`
	RowsAffected int64   `json:"rows_affected"`
	LastInsertID int64   `json:"last_insert_id"`
}

// Row is one row with its columns: answered as a JSON object in the
// columns' order (no map: the fast way to answer a row).
type Row struct {
	Columns []string
	Values  []any
}

// Row is row i with its columns.
func (r *Result) Row(i int) Row { return Row{Columns: r.Columns, Values: r.Rows[i]} }

// Objects are the rows as maps from column name to value.
func (r *Result) Objects() []map[string]any {
	out := make([]map[string]any, len(r.Rows))
	for i, row := range r.Rows {
		m := make(map[string]any, len(r.Columns))
		for j, c := range r.Columns {
			if j < len(row) {
				m[c] = row[j]
			}
		}
		out[i] = m
	}
	return out
}

// SQLError is a statement's failure: the code the HTTP API would answer
// (SQL_ERROR, READ_ONLY_KEY, SQL_NOT_AUTHORIZED, TRANSACTION_ABORTED, ...)
// and its message. The call goes on; the failed statement's effects are
// undone (all of the call's, for TRANSACTION_ABORTED).
type SQLError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *SQLError) Error() string { return e.Code + ": " + e.Message }

// Query runs a statement with positional parameters (nil, bool, integers,
// floats, string, []byte) in the call's transaction.
func Query(sql string, params ...any) (*Result, error) {
	p, err := positional(params)
	if err != nil {
		return nil, err
	}
	return query(sql, p)
}

// QueryRow runs a statement as Query does and gives its first row as a
// JSON object, its columns in order (numbers as numbers, text as
// strings, blobs as {"base64": …}, NULL as null), written by the host:
// an answer of it (return it from the handler) is passed on without
// being read in WebAssembly, the fast way to answer a row. ErrNoRows if
// the statement returned none. The statement runs to its end (give a
// SELECT a LIMIT); its other rows are not kept.
func QueryRow(sql string, params ...any) (RawJSON, error) {
	p, err := positional(params)
	if err != nil {
		return nil, err
	}
	n, ok := hostQuery(sql, p, true)
	out := make([]byte, n)
	hostResultRead(out)
	if !ok {
		return nil, sqlError(out)
	}
	if string(out) == "null" {
		return nil, ErrNoRows
	}
	return out, nil
}

// ErrNoRows is QueryRow's error for a statement that returned no row.
var ErrNoRows = errors.New("guest: the statement returned no row")

// RawJSON is JSON text, answered (or written into an answer) as it is:
// QueryRow's rows, or your own (not checked).
type RawJSON []byte

func positional(params []any) ([]byte, error) {
	var err error
	buf := scratch.params[:0]
	if len(params) > 0 {
		buf = append(buf, '[')
		for i, v := range params {
			if i > 0 {
				buf = append(buf, ',')
			}
			if buf, err = appendParam(buf, v); err != nil {
				return nil, err
			}
		}
		buf = append(buf, ']')
	}
	scratch.params = buf
	return buf, nil
}

// QueryNamed runs a statement with named parameters (:name, @name,
// $name; given without the sigil).
func QueryNamed(sql string, params map[string]any) (*Result, error) {
	var err error
	buf := append(scratch.params[:0], '{')
	first := true
	for k, v := range params {
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = appendStr(buf, k)
		buf = append(buf, ':')
		if buf, err = appendParam(buf, v); err != nil {
			return nil, err
		}
	}
	buf = append(buf, '}')
	scratch.params = buf
	return query(sql, buf)
}

// scratch holds buffers reused from call to call (an instance runs one
// call at a time): the parameters of a statement and the answer, both
// copied by the host before they are written again.
var scratch struct {
	params []byte
	answer []byte
}

// resultBlock is a small result in one allocation: the Result, room
// for a few columns and values, and the result's bytes (which its
// strings share). A larger result grows past it with appends.
type resultBlock struct {
	r    Result
	cols [4]string
	rows [1][]any
	vals [4]any
	strs [4]string
	buf  [128]byte
}

func query(sql string, params []byte) (*Result, error) {
	n, ok := hostQuery(sql, params, false)
	if !ok {
		out := make([]byte, n)
		hostResultRead(out)
		return nil, sqlError(out)
	}
	blk := &resultBlock{}
	var out []byte
	if n <= len(blk.buf) {
		out = blk.buf[:n]
	} else {
		out = make([]byte, n)
	}
	hostResultRead(out)
	if err := parseResult(out, blk); err != nil {
		return nil, err
	}
	return &blk.r, nil
}

// sqlError reads a statement's error.
func sqlError(out []byte) error {
	v, err := ParseJSON(out)
	if err != nil {
		return err
	}
	m, _ := v.(map[string]any)
	e, _ := m["error"].(map[string]any)
	code, _ := e["code"].(string)
	msg, _ := e["message"].(string)
	return &SQLError{Code: code, Message: msg}
}

// appendParam writes a statement's parameter: a []byte as {"base64": …}
// (a blob), anything else as JSON.
func appendParam(b []byte, v any) ([]byte, error) {
	if p, ok := v.([]byte); ok {
		b = append(b, `{"base64":"`...)
		b = base64.StdEncoding.AppendEncode(b, p)
		return append(b, `"}`...), nil
	}
	return AppendJSON(b, v)
}

// Log writes a line to the gateway's log (within the call's log bytes).
func Log(format string, args ...any) {
	hostLog([]byte(fmt.Sprintf(format, args...)))
}

// serve runs the handler on the call's request and answers; its result
// is the call's status.
func serve() int32 {
	current = Request{Body: hostRequest()}
	req := &current
	if handler == nil {
		return answerError(&Error{Status: 500, Code: "FUNCTION_ERROR", Message: "no handler: call guest.Handle in init"})
	}
	v, err := handler(req)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = &Error{Status: 500, Code: "FUNCTION_ERROR", Message: err.Error()}
		}
		return answerError(e)
	}
	if raw, ok := v.(RawJSON); ok { // as it is: no copy
		hostRespond(raw)
		return 200
	}
	if a, ok := v.(Answer); ok {
		if a.ContentType != "" {
			hostContentType(a.ContentType)
		}
		hostRespond(a.Body)
		if a.Status == 0 {
			return 200
		}
		return int32(a.Status)
	}
	b, err := AppendJSON(scratch.answer[:0], v)
	if err != nil {
		return answerError(&Error{Status: 500, Code: "FUNCTION_ERROR", Message: "answer: " + err.Error()})
	}
	hostRespond(b)
	scratch.answer = b[:0]
	return 200
}

func answerError(e *Error) int32 {
	status := e.Status
	if status < 400 || status > 599 {
		status = 500
	}
	b, _ := AppendJSON(nil, map[string]any{"detail": e.Message, "error": map[string]any{"code": e.Code}})
	hostRespond(b)
	return int32(status)
}
