package gateway

import (
	"context"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"
)

// The routes, declared once. Each endpoint says its method and pattern,
// what it needs of a key, whether it is a data-plane route of {db_name}
// (the per-database cap, and "the database exists" before "the request is
// valid"), the shape of its body, and its handler. The router, the guard,
// the metrics labels and the error adapter are derived from the entry
// (Server.routes); docs/API.md and the auth matrix are checked against it
// (routes_test.go, internal/app TestAuthMatrix), and so can an OpenAPI
// document or an MCP tool list be (Routes).
//
// A new route is one entry here, its declaration in the OpenAPI
// document's sources (apidoc/*.yaml), a request type with its binder
// (requests.go) if it takes input, and a handler of the shape
//
//	func (s *Server) name(ctx context.Context, rc *fasthttp.RequestCtx, req nameRequest) error
//
// that calls a port and writes the answer; an error it returns becomes
// the answer through the one mapping of errors.go.
var endpoints = []endpoint{
	// Public.
	{method: "GET", pattern: "/", need: needNothing, serve: route(bindNothing, (*Server).root)},
	{method: "GET", pattern: "/health", need: needNothing, serve: route(bindNothing, (*Server).health)},
	// The API's own description (docs.go): public, as it tells what the
	// routes are and nothing of the databases.
	{method: "GET", pattern: "/openapi.json", need: needNothing, only: hasOpenAPI, serve: route(bindNothing, (*Server).openAPI)},
	{method: "GET", pattern: "/docs", need: needNothing, only: hasDocs, serve: route(bindNothing, (*Server).docs)},
	{method: "GET", pattern: "/docs/{file}", need: needNothing, only: hasDocs, serve: route(bindNothing, (*Server).docs)},
	// The web console (console.go): public, as the page holds no data.
	{method: "GET", pattern: "/console", need: needNothing, only: hasConsole, serve: route(bindNothing, (*Server).console)},
	{method: "GET", pattern: "/console/{file}", need: needNothing, only: hasConsole, serve: route(bindNothing, (*Server).console)},
	// Operations: the admin key only.
	{method: "GET", pattern: "/metrics", need: needAdmin, only: hasMetrics, serve: route(bindNothing, (*Server).metrics)},
	// The control plane: the admin key only.
	{method: "POST", pattern: "/admin/databases/spawn/{db_name}", need: needAdmin, serve: route(bindSpawn, (*Server).spawn)},
	{method: "POST", pattern: "/admin/databases/prune/{db_name}", need: needAdmin, serve: route(bindDB, (*Server).prune)},
	{method: "GET", pattern: "/admin/databases", need: needAdmin, body: "filters", serve: route(bindList, (*Server).list)},
	{method: "GET", pattern: "/admin/databases/{db_name}", need: needAdmin, only: hasDetails, serve: route(bindDB, (*Server).details)},
	{method: "DELETE", pattern: "/admin/databases/{db_name}", need: needAdmin, serve: route(bindDB, (*Server).deleteDatabase)},
	{method: "POST", pattern: "/admin/databases/{db_name}/integrity-check", need: needAdmin, only: hasDamage,
		serve: route(bindDB, (*Server).integrityCheck)},
	{method: "POST", pattern: "/admin/databases/{db_name}/keys", need: needAdmin, only: hasKeys, body: "key",
		serve: route(bindKey, (*Server).createKey)},
	{method: "GET", pattern: "/admin/databases/{db_name}/keys", need: needAdmin, only: hasKeys,
		serve: route(bindDB, (*Server).listKeys)},
	{method: "DELETE", pattern: "/admin/databases/{db_name}/keys/{key_id}", need: needAdmin, only: hasKeys,
		serve: route(bindRevoke, (*Server).revokeKey)},
	// The data plane: a key of {db_name} (or the admin key). The query
	// route reads as far as the gateway knows; the engine refuses a
	// statement that may write when the key is read-only.
	{method: "POST", pattern: "/api/db/{db_name}/query", need: needRead, perDB: true, body: "query",
		serve: route(bindQuery, (*Server).query)},
	{method: "POST", pattern: "/api/db/{db_name}/batch", need: needRead, perDB: true, body: "batch",
		serve: route(bindBatch, (*Server).batch)},
	// Interactive transactions (transactions.go): a write one holds the
	// writer, so only a key that may write opens one (the handler says
	// so); a read-only key opens read-only ones, and ends its own.
	{method: "POST", pattern: "/api/db/{db_name}/transactions", need: needRead, perDB: true, body: "transaction",
		only: hasTransactions, serve: route(bindBegin, (*Server).beginTransaction)},
	{method: "POST", pattern: "/api/db/{db_name}/transactions/{tx_id}/commit", need: needRead, perDB: true,
		only: hasTransactions, serve: route(bindTx, (*Server).commitTransaction)},
	{method: "POST", pattern: "/api/db/{db_name}/transactions/{tx_id}/rollback", need: needRead, perDB: true,
		only: hasTransactions, serve: route(bindTx, (*Server).rollbackTransaction)},
	{method: "POST", pattern: "/api/db/{db_name}/tables", need: needWrite, perDB: true, body: "table",
		serve: route(bindTable, (*Server).createTable)},
	{method: "GET", pattern: "/api/db/{db_name}/tables/{table_name}/rows", need: needRead, perDB: true, body: "filters",
		serve: route(bindRows, (*Server).readRows)},
	{method: "POST", pattern: "/api/db/{db_name}/tables/{table_name}/rows", need: needWrite, perDB: true, body: "rows",
		serve: route(bindInsert, (*Server).insertRows)},
	// Exports, imports and checkpoints (moves.go): a key that may read
	// exports; checkpoints are managed by keys that may write.
	{method: "GET", pattern: "/api/db/{db_name}/export", need: needRead, perDB: true, body: "export", only: hasMoves,
		serve: route(bindExport, (*Server).export)},
	{method: "POST", pattern: "/api/db/{db_name}/import", need: needWrite, perDB: true, body: "import", only: hasMoves,
		serve: route(bindImport, (*Server).importData)},
	{method: "POST", pattern: "/api/db/{db_name}/checkpoints", need: needWrite, perDB: true, body: "checkpoint", only: hasMoves,
		serve: route(bindCreateCheckpoint, (*Server).createCheckpoint)},
	{method: "GET", pattern: "/api/db/{db_name}/checkpoints", need: needWrite, perDB: true, only: hasMoves,
		serve: route(bindDB, (*Server).listCheckpoints)},
	{method: "POST", pattern: "/api/db/{db_name}/checkpoints/{checkpoint}/restore", need: needWrite, perDB: true, only: hasMoves,
		serve: route(bindCheckpoint, (*Server).restoreCheckpoint)},
	{method: "DELETE", pattern: "/api/db/{db_name}/checkpoints/{checkpoint}", need: needWrite, perDB: true, only: hasMoves,
		serve: route(bindCheckpoint, (*Server).deleteCheckpoint)},
	// Row-level diffs (diff.go): a key that may read {db_name}; against
	// another database, also the admin key or a key of it (the handler).
	{method: "GET", pattern: "/api/db/{db_name}/diff", need: needRead, perDB: true, body: "diff", only: hasDiffs,
		serve: route(bindDiff, (*Server).diff)},
	// Rows and schema as a REST API (rows.go).
	{method: "PATCH", pattern: "/api/db/{db_name}/tables/{table_name}/rows", need: needWrite, perDB: true, body: "update",
		serve: route(bindRowsWrite, (*Server).updateRows)},
	{method: "DELETE", pattern: "/api/db/{db_name}/tables/{table_name}/rows", need: needWrite, perDB: true, body: "filters",
		serve: route(bindRowsWrite, (*Server).deleteRows)},
	{method: "GET", pattern: "/api/db/{db_name}/tables", need: needRead, perDB: true,
		serve: route(bindDBTable, (*Server).listTables)},
	{method: "GET", pattern: "/api/db/{db_name}/schema", need: needRead, perDB: true,
		serve: route(bindDBTable, (*Server).schema)},
	{method: "GET", pattern: "/api/db/{db_name}/tables/{table_name}", need: needRead, perDB: true,
		serve: route(bindDBTable, (*Server).describeTable)},
	{method: "DELETE", pattern: "/api/db/{db_name}/tables/{table_name}", need: needWrite, perDB: true,
		serve: route(bindDBTable, (*Server).dropTable)},
	// Functions (functions.go): keys that may write deploy and delete;
	// any key of the database lists and calls (a read-only key's call
	// may only read).
	{method: "PUT", pattern: "/api/db/{db_name}/functions/{name}", need: needWrite, perDB: true, body: "module", only: hasFunctions,
		serve: route(bindDeploy, (*Server).deployFunction)},
	{method: "GET", pattern: "/api/db/{db_name}/functions", need: needRead, perDB: true, only: hasFunctions,
		serve: route(bindDB, (*Server).listFunctions)},
	{method: "GET", pattern: "/api/db/{db_name}/functions/{name}", need: needRead, perDB: true, only: hasFunctions,
		serve: route(bindFunction, (*Server).getFunction)},
	{method: "DELETE", pattern: "/api/db/{db_name}/functions/{name}", need: needWrite, perDB: true, only: hasFunctions,
		serve: route(bindFunction, (*Server).deleteFunction)},
	{method: "POST", pattern: "/api/db/{db_name}/functions/{name}", need: needRead, perDB: true, body: "call", only: hasFunctions,
		serve: route(bindFunction, (*Server).invokeFunction)},
	// Leases and the trash of expired databases (leases.go): the admin's.
	{method: "POST", pattern: "/admin/databases/{db_name}/lease", need: needAdmin, body: "lease", only: hasLeases,
		serve: route(bindLease, (*Server).setLease)},
	{method: "GET", pattern: "/admin/trash", need: needAdmin, only: hasLeases,
		serve: route(bindNothing, (*Server).listTrash)},
	{method: "POST", pattern: "/admin/trash/{db_name}/restore", need: needAdmin, body: "lease", only: hasLeases,
		serve: route(bindRestore, (*Server).restoreFromTrash)},
	// The Model Context Protocol (mcp.go): any key; the tools offered
	// follow the key's rights, and each calls the routes above with it.
	{method: "POST", pattern: "/mcp", need: needKey, body: "mcp", only: hasMCP,
		serve: route(bindNothing, (*Server).mcp)},
	// The statement audit log (audit.go): a key that may write {db_name},
	// or the admin key.
	{method: "GET", pattern: "/api/db/{db_name}/audit", need: needWrite, perDB: true, body: "filters", only: hasAudit,
		serve: route(bindAudit, (*Server).auditLog)},
}

// endpoint is one route of the table.
type endpoint struct {
	method, pattern string
	// need is what the route needs of a request's key (auth.go); it also
	// picks the request's context: none but the server's for a public
	// route, AdminTimeout for an admin one, X-Query-Timeout (or the
	// engine's default) for a data route.
	need need
	// perDB marks a data-plane route of {db_name}: it takes a place under
	// MaxInflightPerDB, and a request refused as invalid (400, 422) is
	// answered 404 when its database does not exist.
	perDB bool
	// body names the request's input for documentation ("" = none):
	// query, table, rows, filters (the query string), update (filters
	// and a {"set": …} body), key.
	body string
	// only, when set, says whether the server has the route at all (a
	// route whose port is not configured does not exist: 404/405).
	only func(*Server) bool
	// serve builds the route's handler for a server, once.
	serve serveFunc
}

func hasMetrics(s *Server) bool { return s.opts.Metrics != nil }
func hasDamage(s *Server) bool  { return s.opts.Damage != nil }
func hasKeys(s *Server) bool    { return s.auth.Keys != nil }
func hasOpenAPI(s *Server) bool { return s.opts.OpenAPI != nil }
func hasDocs(s *Server) bool    { return s.opts.Docs != nil }
func hasDetails(s *Server) bool { return s.opts.Details != nil }

// serveFunc builds a route's handler for a server: a function that
// answers the request or returns the error to answer with.
type serveFunc func(s *Server, e *endpoint) func(rc *fasthttp.RequestCtx) error

// route is the one shape of every handler: bind the request (the route's
// parameters, body, query string: requests.go), make its context (from
// the entry's need), call h, which calls a port and writes the answer.
// Req travels by value and bind is a plain function, so a request type
// costs no allocation of its own.
func route[Req any](bind func(rc *fasthttp.RequestCtx) (Req, error),
	h func(s *Server, ctx context.Context, rc *fasthttp.RequestCtx, req Req) error,
) serveFunc {
	return func(s *Server, e *endpoint) func(rc *fasthttp.RequestCtx) error {
		newContext := s.contextFor(e.need)
		caller := s.opts.Audit != nil && e.need != needNothing
		return func(rc *fasthttp.RequestCtx) error {
			req, err := bind(rc)
			if err != nil {
				return err
			}
			ctx, cancel, err := newContext(rc)
			if err != nil {
				return err
			}
			if cancel != nil {
				defer cancel()
			}
			if caller {
				ctx = s.withCaller(ctx, rc, e.pattern)
			}
			return h(s, ctx, rc, req)
		}
	}
}

// routes builds the router from the table: for each route of this
// server, its handler, wrapped in the per-database cap (data routes), the
// guard of what it needs, and the labels of the access log and metrics.
func (s *Server) routes() *router.Router {
	r := router.New()
	r.RedirectFixedPath = false // never rewrite a database name's case
	r.HandleOPTIONS = true      // 204 with Allow, and CORS preflights (cors.go)
	r.GlobalOPTIONS = s.options
	for i := range endpoints {
		e := &endpoints[i]
		if e.only != nil && !e.only(s) {
			continue
		}
		h := s.answer(e.serve(s, e), e.perDB)
		if e.perDB {
			h = s.perDB(h)
		}
		if gated, notFound := leaseGated(e.pattern); gated && s.opts.Leases != nil {
			h = s.unexpired(notFound, h)
		}
		var obs observer
		if s.opts.Metrics != nil {
			obs = s.opts.Metrics.Route(e.method, e.pattern)
		}
		r.Handle(e.method, e.pattern, labelled(e.pattern, obs, s.guard(e.need, h)))
	}
	r.NotFound = func(rc *fasthttp.RequestCtx) {
		s.writeError(rc, newError(fasthttp.StatusNotFound, CodeRouteNotFound, "Not Found"))
	}
	r.MethodNotAllowed = func(rc *fasthttp.RequestCtx) {
		s.writeError(rc, newError(fasthttp.StatusMethodNotAllowed, CodeMethodNotAllowed, "Method Not Allowed"))
	}
	r.PanicHandler = s.recovered
	return r
}

// answer adapts a handler that returns its error: the error becomes the
// answer, through the one mapping of errors.go. On a data route it keeps
// the seed contract's order (existenceFirst).
func (s *Server) answer(h func(rc *fasthttp.RequestCtx) error, existence bool) fasthttp.RequestHandler {
	if existence {
		return func(rc *fasthttp.RequestCtx) {
			if err := h(rc); err != nil {
				s.writeError(rc, s.existenceFirst(rc, err))
			}
		}
	}
	return func(rc *fasthttp.RequestCtx) {
		if err := h(rc); err != nil {
			s.writeError(rc, err)
		}
	}
}

// Route describes one route of the gateway, for documents and tools
// derived from the route table (an OpenAPI document, an MCP tool list).
type Route struct {
	Method, Pattern string
	// Access is what the route needs: "public", "admin", "read" (a key
	// of {db_name}), "write" (a read-write key of {db_name}) or "key"
	// (any valid key); the admin key opens every route.
	Access string
	// PerDB marks a data-plane route of {db_name}.
	PerDB bool
	// Body names the request's input ("" = none): "query", "table",
	// "rows", "filters" (the query string), "update" (filters and a
	// {"set": …} body) or "key".
	Body string
	// Optional routes exist only when their port is configured
	// (metrics, damage, keys).
	Optional bool
}

// Routes lists every route the gateway can serve, in the table's order.
func Routes() []Route {
	out := make([]Route, len(endpoints))
	for i, e := range endpoints {
		out[i] = Route{Method: e.method, Pattern: e.pattern, Access: e.need.String(),
			PerDB: e.perDB, Body: e.body, Optional: e.only != nil}
	}
	return out
}

func (n need) String() string {
	switch n {
	case needNothing:
		return "public"
	case needAdmin:
		return "admin"
	case needRead:
		return "read"
	case needWrite:
		return "write"
	case needKey:
		return "key"
	}
	return "unknown"
}
