package gateway

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/forge"
)

// Functions (package functions; docs/FUNCTIONS.md): WebAssembly modules
// deployed to a database and called over HTTP. The routes are in the
// table of routes.go; this file holds their port, binders and handlers.

// Functions is the port of functions (package functions' *Service).
type Functions interface {
	// Deploy stores module as function name of db; created is false
	// when it replaced one.
	Deploy(ctx context.Context, db, name string, module []byte, sqlFn *forge.SQLFunction) (forge.FunctionInfo, bool, error)
	List(ctx context.Context, db string) ([]forge.FunctionInfo, error)
	Get(ctx context.Context, db, name string) (forge.FunctionInfo, error)
	Delete(ctx context.Context, db, name string) error
	// Invoke calls function name of db with body; readOnly: every
	// statement of the call must be read-only.
	Invoke(ctx context.Context, db, name string, body []byte, readOnly bool) (forge.FunctionAnswer, error)
}

func hasFunctions(s *Server) bool { return s.opts.Functions != nil }

// mediaWasm is a deploy's body.
const mediaWasm = "application/wasm"

// functionRequest: the routes of /api/db/{db_name}/functions/{name}.
type functionRequest struct {
	db, name string
	// sqlFn: a deploy's ?sql_function={"name": …, "args": n,
	// "deterministic": bool}.
	sqlFn *forge.SQLFunction
}

func bindFunction(rc *fasthttp.RequestCtx) (functionRequest, error) {
	db, err := dbName(rc)
	name, _ := rc.UserValue("name").(string)
	return functionRequest{db: db, name: name}, err
}

// bindDeploy: the body must be a module (application/wasm).
func bindDeploy(rc *fasthttp.RequestCtx) (functionRequest, error) {
	req, err := bindFunction(rc)
	if err != nil {
		return req, err
	}
	mt, err := mediaType(rc)
	if err != nil {
		return req, err
	}
	if mt != mediaWasm {
		return req, unsupportedMedia("A function is deployed as a WebAssembly module: send it with Content-Type: application/wasm.")
	}
	if raw := rc.QueryArgs().Peek("sql_function"); raw != nil {
		if req.sqlFn, err = decodeSQLFunction(raw); err != nil {
			return req, err
		}
	}
	return req, nil
}

// decodeSQLFunction reads ?sql_function: {"name": "slugify", "args": 1,
// "deterministic": true}, strictly (name required; args 0 by default).
func decodeSQLFunction(raw []byte) (*forge.SQLFunction, error) {
	v, err := parseJSON(raw)
	if err != nil || v.kind != jObject {
		return nil, invalidValue(`Parameter "sql_function" must be a JSON object: {"name": "slugify", "args": 1, "deterministic": true}.`)
	}
	f := &forge.SQLFunction{}
	for _, m := range v.obj {
		switch m.key {
		case "name":
			if m.val.kind != jString {
				return nil, invalidValue(`sql_function "name" must be a string.`)
			}
			f.Name = m.val.s
		case "args":
			n, err := strconv.Atoi(m.val.s)
			if m.val.kind != jNumber || err != nil {
				return nil, invalidValue(`sql_function "args" must be a whole number.`)
			}
			f.Args = n
		case "deterministic":
			if m.val.kind != jBool {
				return nil, invalidValue(`sql_function "deterministic" must be true or false.`)
			}
			f.Deterministic = m.val.b
		default:
			return nil, invalidValue(`sql_function has an unknown member %q (name, args, deterministic).`, m.key)
		}
	}
	if f.Name == "" {
		return nil, invalidValue(`sql_function needs a "name".`)
	}
	return f, nil
}

func appendFunction(b []byte, f forge.FunctionInfo) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, f.Name)
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, f.Size, 10)
	b = append(b, `,"sha256":`...)
	b = appendString(b, f.SHA256)
	b = append(b, `,"created":"`...)
	b = f.Created.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","exports":[`...)
	for i, e := range f.Exports {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, e)
	}
	b = append(b, ']')
	if f.SQLFunction != nil {
		b = append(b, `,"sql_function":{"name":`...)
		b = appendString(b, f.SQLFunction.Name)
		b = append(b, `,"args":`...)
		b = strconv.AppendInt(b, int64(f.SQLFunction.Args), 10)
		b = append(b, `,"deterministic":`...)
		b = strconv.AppendBool(b, f.SQLFunction.Deterministic)
		b = append(b, '}')
	}
	return append(b, '}')
}

func (s *Server) deployFunction(ctx context.Context, rc *fasthttp.RequestCtx, req functionRequest) error {
	info, created, err := s.opts.Functions.Deploy(ctx, req.db, req.name, rc.PostBody(), req.sqlFn)
	if err != nil {
		return err
	}
	status := fasthttp.StatusOK
	if created {
		status = fasthttp.StatusCreated
	}
	writeJSON(rc, status, appendFunction(nil, info))
	return nil
}

func (s *Server) listFunctions(ctx context.Context, rc *fasthttp.RequestCtx, req dbRequest) error {
	fs, err := s.opts.Functions.List(ctx, req.db)
	if err != nil {
		return err
	}
	b := []byte(`{"functions":[`)
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendFunction(b, f)
	}
	writeJSON(rc, fasthttp.StatusOK, append(b, "]}"...))
	return nil
}

func (s *Server) getFunction(ctx context.Context, rc *fasthttp.RequestCtx, req functionRequest) error {
	f, err := s.opts.Functions.Get(ctx, req.db, req.name)
	if err != nil {
		return err
	}
	writeJSON(rc, fasthttp.StatusOK, appendFunction(nil, f))
	return nil
}

func (s *Server) deleteFunction(ctx context.Context, rc *fasthttp.RequestCtx, req functionRequest) error {
	if err := s.opts.Functions.Delete(ctx, req.db, req.name); err != nil {
		return err
	}
	writeJSON(rc, fasthttp.StatusOK, messageBody("Function deleted.", "db_name", req.db, "function", req.name))
	return nil
}

// invokeFunction answers what the function answered: its status, type
// and bytes (a 4xx or 5xx of its own rolled its statements back).
func (s *Server) invokeFunction(ctx context.Context, rc *fasthttp.RequestCtx, req functionRequest) error {
	ans, err := s.opts.Functions.Invoke(ctx, req.db, req.name, rc.PostBody(), readOnly(rc))
	if err != nil {
		return err
	}
	rc.SetStatusCode(ans.Status)
	if ans.ContentType != "" {
		rc.SetContentType(ans.ContentType)
	}
	rc.SetBody(ans.Body)
	return nil
}

// functionRule answers a *forge.FunctionError with its own status and code.
func functionRule(err error) *apiError {
	var fe *forge.FunctionError
	if errors.As(err, &fe) {
		return newError(fe.Status, fe.Code, fe.Message)
	}
	return nil
}

// functionCodes are the codes functionRule answers (errors_test.go).
var functionCodes = []string{
	forge.CodeFunctionNotFound, forge.CodeFunctionInvalid, forge.CodeFunctionTimeout, forge.CodeFunctionTrapped,
	forge.CodeFunctionMemoryLimit, forge.CodeFunctionOutputLimit, forge.CodeFunctionLimit,
}
