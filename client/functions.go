package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Functions: WebAssembly modules deployed to a database and called over
// HTTP (docs/API.md, Functions; docs/FUNCTIONS.md).

// ContentTypeWasm is a module's media type.
const ContentTypeWasm = "application/wasm"

// Function describes a deployed function.
type Function struct {
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	SHA256  string    `json:"sha256"`
	Created time.Time `json:"created"`
	Exports []string  `json:"exports"`
	// SQLFunction is set when the function is also a scalar SQL function
	// of its database.
	SQLFunction *SQLFunction `json:"sql_function,omitempty"`
}

// SQLFunction makes a function a scalar function of its database's SQL
// (docs/FUNCTIONS.md, SQL functions): SELECT name(…) calls it once per
// row. Args is its number of arguments (-1: any).
type SQLFunction struct {
	Name          string `json:"name"`
	Args          int    `json:"args"`
	Deterministic bool   `json:"deterministic"`
}

// DeployOptions are options of a deploy.
type DeployOptions struct {
	// SQLFunction also registers the module as a scalar SQL function.
	SQLFunction *SQLFunction
}

// DeployFunction stores module (a WebAssembly module, read whole) as
// function name of the database, replacing one of the name: created is
// false when it replaced one. A key that may write.
func (db *DB) DeployFunction(ctx context.Context, name string, module io.Reader, o *DeployOptions) (f *Function, created bool, err error) {
	b, err := io.ReadAll(module)
	if err != nil {
		return nil, false, fmt.Errorf("db-forge: reading the module: %w", err)
	}
	return db.DeployFunctionBytes(ctx, name, b, o)
}

// DeployFunctionBytes is DeployFunction of a module held in memory.
// A deploy replaces the function whole, so it is repeated after a lost
// connection (as a GET is); created then tells of the last attempt.
func (db *DB) DeployFunctionBytes(ctx context.Context, name string, module []byte, o *DeployOptions) (*Function, bool, error) {
	if err := need(db.name, name); err != nil {
		return nil, false, err
	}
	if module == nil {
		module = []byte{}
	}
	r := request{method: http.MethodPut, path: db.path("functions", name), bytes: module, contentType: ContentTypeWasm, idempotent: true}
	if o != nil && o.SQLFunction != nil {
		sf, err := json.Marshal(o.SQLFunction)
		if err != nil {
			return nil, false, fmt.Errorf("db-forge: encoding sql_function: %w", err)
		}
		r.query = url.Values{"sql_function": {string(sf)}}
	}
	var out Function
	resp, err := db.c.call(ctx, r, &out)
	if err != nil {
		return nil, false, err
	}
	return &out, resp.StatusCode == http.StatusCreated, nil
}

// Functions lists the database's functions by name.
func (db *DB) Functions(ctx context.Context) ([]Function, error) {
	if err := need(db.name); err != nil {
		return nil, err
	}
	var out struct {
		Functions []Function `json:"functions"`
	}
	_, err := db.c.call(ctx, request{method: http.MethodGet, path: db.path("functions"), idempotent: true}, &out)
	return out.Functions, err
}

// Function describes function name.
func (db *DB) Function(ctx context.Context, name string) (*Function, error) {
	if err := need(db.name, name); err != nil {
		return nil, err
	}
	var out Function
	if _, err := db.c.call(ctx, request{method: http.MethodGet, path: db.path("functions", name), idempotent: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteFunction deletes function name. A key that may write.
func (db *DB) DeleteFunction(ctx context.Context, name string) error {
	if err := need(db.name, name); err != nil {
		return err
	}
	_, err := db.c.call(ctx, request{method: http.MethodDelete, path: db.path("functions", name), idempotent: true}, nil)
	return err
}

// FunctionAnswer is what a function call answered: the status, media
// type and bytes the function gave (or the gateway's error about the call).
type FunctionAnswer struct {
	Status      int
	ContentType string
	Body        []byte
	// RequestID is the answer's X-Request-Id.
	RequestID string
}

// CallOptions are options of a function call.
type CallOptions struct {
	// ContentType of the body (default application/json).
	ContentType string
	// Timeout is the call's X-Query-Timeout (0: the gateway's).
	Timeout time.Duration
}

// CallFunction calls function name with body. Whenever the gateway
// answered, the answer is returned; when its status is 4xx or 5xx (the
// function's own error answer, which rolled its statements back, or the
// gateway's about the call: FUNCTION_NOT_FOUND, FUNCTION_TRAPPED, …)
// err is also the *Error of that answer, so that errors.Is works on its
// code. A call is not repeated after a lost connection (it may have
// committed); only when the gateway refused it before it ran.
func (db *DB) CallFunction(ctx context.Context, name string, body []byte, o *CallOptions) (*FunctionAnswer, error) {
	if err := need(db.name, name); err != nil {
		return nil, err
	}
	if body == nil {
		body = []byte{}
	}
	r := request{method: http.MethodPost, path: db.path("functions", name), bytes: body,
		contentType: "application/json", anyStatus: true, header: http.Header{}}
	if o != nil {
		if o.ContentType != "" {
			r.contentType = o.ContentType
		}
		if o.Timeout > 0 {
			r.header.Set("X-Query-Timeout", strconv.FormatInt(o.Timeout.Milliseconds(), 10))
		}
	}
	resp, err := db.c.do(ctx, r)
	if resp == nil {
		return nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, rerr := buf.ReadFrom(resp.Body); rerr != nil && err == nil {
		return nil, fmt.Errorf("db-forge: reading the answer: %w", rerr)
	}
	return &FunctionAnswer{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"),
		Body: buf.Bytes(), RequestID: resp.Header.Get("X-Request-Id")}, err
}
