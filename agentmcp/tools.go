package agentmcp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The tools' inputs. Database is the admin key's "database" argument; a
// database key's tools do not have it (their schemas leave it out, and
// an input that sends it anyway is refused by the schema).
type (
	dbArg struct {
		Database string `json:"database,omitempty" jsonschema:"the database's name"`
	}
	listInput struct {
		Prefix string `json:"prefix,omitempty" jsonschema:"only names that start with this"`
		Limit  int    `json:"limit,omitempty" jsonschema:"at most this many (1 to 1000)"`
	}
	nameInput struct {
		Name string `json:"name" jsonschema:"the database's name: lowercase letters, digits, _ and -"`
	}
	createInput struct {
		Name string   `json:"name" jsonschema:"the database's name: lowercase letters, digits, _ and -"`
		TTL  *float64 `json:"ttl,omitempty" jsonschema:"a lease in seconds: the database expires (to the trash) after it"`
	}
	schemaInput struct {
		dbArg
		Table string `json:"table,omitempty" jsonschema:"one table or view; all when absent"`
		Full  bool   `json:"full,omitempty" jsonschema:"the full JSON description (SQL text, index details) instead of the compact one"`
	}
	queryInput struct {
		dbArg
		SQL     string `json:"sql" jsonschema:"one SQL statement that reads (SELECT, WITH … SELECT, read-only PRAGMA)"`
		Params  any    `json:"params,omitempty" jsonschema:"parameters: an array for ?, an object for :name"`
		MaxRows int    `json:"max_rows,omitempty" jsonschema:"the most rows to answer (default 100)"`
	}
	executeInput struct {
		dbArg
		SQL     string `json:"sql" jsonschema:"one SQL statement that writes (INSERT, UPDATE, DELETE, CREATE, ALTER, DROP…)"`
		Params  any    `json:"params,omitempty" jsonschema:"parameters: an array for ?, an object for :name"`
		Confirm bool   `json:"confirm,omitempty" jsonschema:"run a DELETE or UPDATE without WHERE, or a DROP TABLE, for real (without it: a dry run)"`
	}
	batchStatement struct {
		SQL    string `json:"sql" jsonschema:"one SQL statement"`
		Params any    `json:"params,omitempty" jsonschema:"parameters: an array for ?, an object for :name"`
	}
	batchInput struct {
		dbArg
		Statements  []batchStatement `json:"statements" jsonschema:"the statements, in order"`
		Transaction *bool            `json:"transaction,omitempty" jsonschema:"all or nothing (default true)"`
		Confirm     bool             `json:"confirm,omitempty" jsonschema:"run DELETE or UPDATE without WHERE, or DROP TABLE, for real (without it: a dry run)"`
		MaxRows     int              `json:"max_rows,omitempty" jsonschema:"the most rows each statement answers (default 100)"`
	}
	explainInput struct {
		dbArg
		SQL    string `json:"sql" jsonschema:"the statement whose plan to show"`
		Params any    `json:"params,omitempty" jsonschema:"parameters: an array for ?, an object for :name"`
	}
	checkpointsInput struct {
		dbArg
	}
	checkpointInput struct {
		dbArg
		Name string `json:"name,omitempty" jsonschema:"the checkpoint's name (default: made of the time)"`
	}
	restoreInput struct {
		dbArg
		Name string `json:"name" jsonschema:"the checkpoint to restore"`
	}
	diffInput struct {
		dbArg
		Against string `json:"against" jsonschema:"checkpoint:<name> or db:<name>: what changed from it to now"`
		Summary bool   `json:"summary,omitempty" jsonschema:"counts only, no rows"`
		Limit   int    `json:"limit,omitempty" jsonschema:"rows of changes to show (1 to 1000, default 100)"`
		Cursor  string `json:"cursor,omitempty" jsonschema:"the next_cursor of the answer before, for the next page"`
	}
)

func (d dbArg) db() string { return d.Database }

type withDB interface{ db() string }

// toolSchemas makes each database tool's input schema twice: for a
// database key (no "database") and for the admin key (a required one).
func toolSchemas() map[string][2]*jsonschema.Schema {
	out := map[string][2]*jsonschema.Schema{}
	add := func(name string, s *jsonschema.Schema) {
		if s == nil {
			panic(fmt.Sprintf("agentmcp: no schema for %s", name))
		}
		forKey := s.CloneSchemas()
		delete(forKey.Properties, "database")
		forKey.Required = slices.DeleteFunc(forKey.Required, func(r string) bool { return r == "database" })
		forKey.PropertyOrder = slices.DeleteFunc(forKey.PropertyOrder, func(r string) bool { return r == "database" })
		admin := s.CloneSchemas()
		if !slices.Contains(admin.Required, "database") {
			admin.Required = append([]string{"database"}, admin.Required...)
		}
		out[name] = [2]*jsonschema.Schema{forKey, admin}
	}
	add("describe_schema", forType[schemaInput]())
	add("query", forType[queryInput]())
	add("execute", forType[executeInput]())
	add("batch", forType[batchInput]())
	add("explain", forType[explainInput]())
	add("list_checkpoints", forType[checkpointsInput]())
	add("create_checkpoint", forType[checkpointInput]())
	add("restore_checkpoint", forType[restoreInput]())
	add("diff", forType[diffInput]())
	add("list_functions", forType[functionsInput]())
	add("call_function", forType[callFunctionInput]())
	add("audit_log", forType[auditInput]())
	return out
}

func forType[T any]() *jsonschema.Schema {
	s, err := jsonschema.For[T](&jsonschema.ForOptions{})
	if err != nil {
		panic(fmt.Sprintf("agentmcp: schema of %T: %v", *new(T), err))
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// Annotations of the tools.
var (
	readOnlyTool = &mcp.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: ptr(false)}
	writeTool    = &mcp.ToolAnnotations{DestructiveHint: ptr(false), OpenWorldHint: ptr(false)}
	destructive  = &mcp.ToolAnnotations{DestructiveHint: ptr(true), OpenWorldHint: ptr(false)}
)

// addTools gives srv the tools of callers like c (the admin key, a key
// that may write, a read-only one). A tool call's own caller comes from
// its context (callerFrom).
func (s *Server) addTools(srv *mcp.Server, c Caller) {
	if c.Admin {
		mcp.AddTool(srv, &mcp.Tool{Name: "list_databases", Title: "List databases",
			Description: "Lists the databases: name, status, creation time.", Annotations: readOnlyTool},
			func(ctx context.Context, _ *mcp.CallToolRequest, in listInput) (*mcp.CallToolResult, any, error) {
				q := url.Values{}
				if in.Prefix != "" {
					q.Set("prefix", in.Prefix)
				}
				if in.Limit > 0 {
					q.Set("limit", strconv.Itoa(in.Limit))
				}
				path := "/admin/databases"
				if len(q) > 0 {
					path += "?" + q.Encode()
				}
				return s.call(ctx, callerFrom(ctx), "GET", path, nil, nil, true), nil, nil
			})
		mcp.AddTool(srv, &mcp.Tool{Name: "create_database", Title: "Create a database",
			Description: "Creates a database (or starts an existing one). ttl gives it a lease in seconds.",
			Annotations: &mcp.ToolAnnotations{DestructiveHint: ptr(false), IdempotentHint: true, OpenWorldHint: ptr(false)}},
			func(ctx context.Context, _ *mcp.CallToolRequest, in createInput) (*mcp.CallToolResult, any, error) {
				return s.createDatabase(ctx, callerFrom(ctx), in), nil, nil
			})
		mcp.AddTool(srv, &mcp.Tool{Name: "delete_database", Title: "Delete a database",
			Description: "Deletes a database, its data and its keys. Cannot be undone.", Annotations: destructive},
			func(ctx context.Context, _ *mcp.CallToolRequest, in nameInput) (*mcp.CallToolResult, any, error) {
				return s.call(ctx, callerFrom(ctx), "DELETE", "/admin/databases/"+url.PathEscape(in.Name), nil, nil, false), nil, nil
			})
	}
	ro := !c.Write
	dbTool(s, srv, c, &mcp.Tool{Name: "describe_schema", Title: "Describe the schema",
		Description: "The tables and views: columns (type, primary key, NOT NULL, default, references), indexes, " +
			"row counts. Compact text by default; full: true for the JSON description.",
		Annotations: readOnlyTool}, s.describeSchema)
	dbTool(s, srv, c, &mcp.Tool{Name: "query", Title: "Run a read-only query",
		Description: "Runs one SQL statement read-only (a statement that writes is refused: use execute) and " +
			"answers {columns, rows}, at most max_rows rows (default 100) within a byte cap; truncated says more exist.",
		Annotations: readOnlyTool}, s.query)
	if !ro {
		dbTool(s, srv, c, &mcp.Tool{Name: "execute", Title: "Execute a statement that writes",
			Description: "Runs one SQL statement that may write. A DELETE or UPDATE without WHERE, or a DROP TABLE, " +
				"answers a dry run (nothing written) until called again with confirm: true.",
			Annotations: destructive}, s.execute)
	}
	batchNote, batchAnn := " Statements may write; DELETE or UPDATE without WHERE and DROP TABLE need confirm: true.", destructive
	if ro {
		batchNote, batchAnn = " This key may only read.", readOnlyTool
	}
	dbTool(s, srv, c, &mcp.Tool{Name: "batch", Title: "Run several statements",
		Description: "Runs several SQL statements in order, in one transaction unless transaction: false." + batchNote,
		Annotations: batchAnn}, s.batch)
	dbTool(s, srv, c, &mcp.Tool{Name: "explain", Title: "Explain a query plan",
		Description: "SQLite's query plan of a statement (EXPLAIN QUERY PLAN): which indexes it uses, which tables it scans.",
		Annotations: readOnlyTool}, s.explain)
	if !ro {
		dbTool(s, srv, c, &mcp.Tool{Name: "list_checkpoints", Title: "List checkpoints",
			Description: "The database's checkpoints (named copies it can be restored to).", Annotations: readOnlyTool},
			s.listCheckpoints)
		dbTool(s, srv, c, &mcp.Tool{Name: "create_checkpoint", Title: "Create a checkpoint",
			Description: "Saves a named copy of the database, to restore later or diff against.", Annotations: writeTool},
			s.createCheckpoint)
		dbTool(s, srv, c, &mcp.Tool{Name: "restore_checkpoint", Title: "Restore a checkpoint",
			Description: "Puts the database back to a checkpoint. The state it replaces is saved as a checkpoint " +
				"named in the answer (restore that to undo).", Annotations: destructive},
			s.restoreCheckpoint)
	}
	dbTool(s, srv, c, &mcp.Tool{Name: "diff", Title: "Diff against a checkpoint or a database",
		Description: "Row-level changes from a checkpoint (against: checkpoint:<name>) or another database (db:<name>) to now.",
		Annotations: readOnlyTool}, s.diff)
	s.addFunctionTools(srv, c)
}

// dbTool adds a database tool: its schema for the caller, and the
// database it works on (the key's, or the admin's "database").
func dbTool[In withDB](s *Server, srv *mcp.Server, c Caller, t *mcp.Tool,
	h func(ctx context.Context, c Caller, db string, in In) *mcp.CallToolResult,
) {
	sch := s.schemas[t.Name]
	if c.Admin {
		t.InputSchema = sch[1]
	} else {
		t.InputSchema = sch[0]
	}
	mcp.AddTool(srv, t, func(ctx context.Context, _ *mcp.CallToolRequest, in In) (*mcp.CallToolResult, any, error) {
		c := callerFrom(ctx)
		db := c.DB
		if c.Admin {
			db = in.db()
		}
		if db == "" {
			return failure("Give the database's name in \"database\"."), nil, nil
		}
		return h(ctx, c, db, in), nil, nil
	})
}

func dbPath(db, rest string) string { return "/api/db/" + url.PathEscape(db) + rest }

// call runs one API request with the caller's key and answers its
// result: data (wrapped as untrusted) or the API's error.
func (s *Server) call(ctx context.Context, c Caller, method, path string, header map[string]string, body []byte, data bool) *mcp.CallToolResult {
	status, resp, err := s.do(ctx, c, method, path, header, body)
	if err != nil {
		return failure(err.Error())
	}
	if status >= 300 {
		return apiFailure(status, resp)
	}
	if !data {
		return text(string(resp))
	}
	return s.wrapped(resp, "")
}

func (s *Server) do(ctx context.Context, c Caller, method, path string, header map[string]string, body []byte) (int, []byte, error) {
	h := make(map[string]string, len(c.Credentials)+len(header)+1)
	for k, v := range c.Credentials {
		h[k] = v
	}
	for k, v := range header {
		h[k] = v
	}
	if body != nil {
		h["Content-Type"] = "application/json"
	}
	return s.api.Do(ctx, method, path, h, body)
}

func (s *Server) createDatabase(ctx context.Context, c Caller, in createInput) *mcp.CallToolResult {
	var body []byte
	if in.TTL != nil {
		body, _ = json.Marshal(map[string]float64{"ttl": *in.TTL})
	}
	status, resp, err := s.do(ctx, c, "POST", "/admin/databases/spawn/"+url.PathEscape(in.Name), nil, body)
	if err != nil {
		return failure(err.Error())
	}
	if status >= 300 {
		return apiFailure(status, resp)
	}
	// The new database's key is not for the model's context: the admin
	// key's tools reach the database by name.
	var m map[string]any
	if json.Unmarshal(resp, &m) == nil {
		delete(m, "api_key")
		resp, _ = json.Marshal(m)
	}
	return text(string(resp))
}

func (s *Server) listCheckpoints(ctx context.Context, c Caller, db string, _ checkpointsInput) *mcp.CallToolResult {
	return s.call(ctx, c, "GET", dbPath(db, "/checkpoints"), nil, nil, true)
}

func (s *Server) createCheckpoint(ctx context.Context, c Caller, db string, in checkpointInput) *mcp.CallToolResult {
	var body []byte
	if in.Name != "" {
		body, _ = json.Marshal(map[string]string{"name": in.Name})
	}
	return s.call(ctx, c, "POST", dbPath(db, "/checkpoints"), nil, body, false)
}

func (s *Server) restoreCheckpoint(ctx context.Context, c Caller, db string, in restoreInput) *mcp.CallToolResult {
	if in.Name == "" {
		return failure("Give the checkpoint's name in \"name\".")
	}
	return s.call(ctx, c, "POST", dbPath(db, "/checkpoints/"+url.PathEscape(in.Name)+"/restore"), nil, nil, false)
}

func (s *Server) diff(ctx context.Context, c Caller, db string, in diffInput) *mcp.CallToolResult {
	q := url.Values{"against": {in.Against}}
	if in.Summary {
		q.Set("summary", "1")
	}
	if in.Limit > 0 {
		q.Set("limit", strconv.Itoa(in.Limit))
	}
	if in.Cursor != "" {
		q.Set("cursor", in.Cursor)
	}
	return s.call(ctx, c, "GET", dbPath(db, "/diff?"+q.Encode()), nil, nil, true)
}
