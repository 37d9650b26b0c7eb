package agentmcp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The tools of functions (docs/FUNCTIONS.md) and of the audit log.

type (
	functionsInput struct {
		dbArg
	}
	callFunctionInput struct {
		dbArg
		Name  string `json:"name" jsonschema:"the function's name (list_functions lists them)"`
		Input any    `json:"input,omitempty" jsonschema:"the request body, a JSON value the function reads (absent: an empty body)"`
	}
	auditInput struct {
		dbArg
		Since string `json:"since,omitempty" jsonschema:"records from this time on: RFC 3339 (2026-01-02T15:04:05Z) or seconds since 1970"`
		KeyID string `json:"key_id,omitempty" jsonschema:"only this key's records"`
		Limit int    `json:"limit,omitempty" jsonschema:"at most this many (1 to 1000, default 100)"`
	}
)

// callTool is call_function's annotations: it may write unless its key
// may only read (a read-only key's call runs in a read snapshot).
func callTool(readOnly bool) *mcp.ToolAnnotations {
	if readOnly {
		return &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: ptr(false)}
	}
	return destructive
}

// addFunctionTools gives srv list_functions and call_function, and
// audit_log to keys that may write when the gateway keeps the log.
func (s *Server) addFunctionTools(srv *mcp.Server, c Caller) {
	dbTool(s, srv, c, &mcp.Tool{Name: "list_functions", Title: "List functions",
		Description: "The database's functions (WebAssembly modules deployed to it): name, size, sha256, exports, " +
			"and the SQL function each is, if any.", Annotations: readOnlyTool}, s.listFunctions)
	note := " Its SQL runs in one transaction: committed when it answers 2xx, rolled back otherwise."
	if !c.Write {
		note = " This key may only read: the function's statements must all be read-only."
	}
	dbTool(s, srv, c, &mcp.Tool{Name: "call_function", Title: "Call a function",
		Description: "Calls a function of the database with input as its JSON request body and answers what it " +
			"answered (its status when not 200, its content)." + note, Annotations: callTool(!c.Write)}, s.callFunction)
	if c.Write && s.opts.Audit {
		dbTool(s, srv, c, &mcp.Tool{Name: "audit_log", Title: "Read the audit log",
			Description: "The database's statement audit log, newest first: each statement that wrote, when, " +
				"the key and request that sent it, the route, its outcome, the rows it changed and its SQL.",
			Annotations: readOnlyTool}, s.auditLog)
	}
}

func (s *Server) listFunctions(ctx context.Context, c Caller, db string, _ functionsInput) *mcp.CallToolResult {
	return s.call(ctx, c, "GET", dbPath(db, "/functions"), nil, nil, true)
}

func (s *Server) callFunction(ctx context.Context, c Caller, db string, in callFunctionInput) *mcp.CallToolResult {
	if in.Name == "" {
		return failure("Give the function's name in \"name\" (list_functions lists them).")
	}
	var body []byte
	if in.Input != nil {
		b, err := json.Marshal(in.Input)
		if err != nil {
			return failure("input is not JSON: " + err.Error())
		}
		body = b
	}
	status, resp, err := s.do(ctx, c, "POST", dbPath(db, "/functions/"+url.PathEscape(in.Name)), nil, body)
	if err != nil {
		return failure(err.Error())
	}
	tail := ""
	if !utf8.Valid(resp) {
		resp = []byte(base64.StdEncoding.EncodeToString(resp))
		tail = "The answer is not text: it is given in base64."
	}
	if status >= 300 {
		// The function's own error answer or the gateway's about the call:
		// either way its text may carry the function's data, so fenced.
		what := "HTTP " + strconv.Itoa(status)
		if code := errorCode(resp); code != "" {
			what += " " + code
		}
		r := s.wrapped(resp, strings.TrimSpace("The call failed ("+what+"): nothing it ran was committed. "+tail))
		r.IsError = true
		return r
	}
	if status != 200 {
		tail = strings.TrimSpace("HTTP " + strconv.Itoa(status) + ". " + tail)
	}
	return s.wrapped(resp, tail)
}

// errorCode is the code of an error answer {"error": {"code": …}}, or "".
func errorCode(body []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Error.Code) > 64 {
		return ""
	}
	for _, r := range e.Error.Code { // a code is the caller's to read: A-Z, 0-9, _ only
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '_' {
			return ""
		}
	}
	return e.Error.Code
}

func (s *Server) auditLog(ctx context.Context, c Caller, db string, in auditInput) *mcp.CallToolResult {
	q := url.Values{}
	if in.Since != "" {
		q.Set("since", in.Since)
	}
	if in.KeyID != "" {
		q.Set("key_id", in.KeyID)
	}
	if in.Limit > 0 {
		q.Set("limit", strconv.Itoa(in.Limit))
	}
	path := dbPath(db, "/audit")
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return s.call(ctx, c, "GET", path, nil, nil, true)
}
