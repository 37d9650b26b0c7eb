package gateway

import (
	"context"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/auth"
)

// MCP serves the Model Context Protocol at POST /mcp (package agentmcp,
// adapted by internal/app). The route's guard has verified the request's
// key; the server is told who calls, and offers the tools that key may
// use. Each tool calls the gateway's own API with the caller's key, so
// the key's rights, rate limit and audit apply to every tool call.
type MCP interface {
	ServeMCP(rc *fasthttp.RequestCtx, caller MCPCaller)
}

// MCPCaller is the key behind a request of POST /mcp.
type MCPCaller struct {
	// Admin: the admin key, or no authentication at all (every route
	// is open).
	Admin bool
	// DB is a database key's database ("" for the admin key).
	DB string
	// Write: the key may write.
	Write bool
}

func hasMCP(s *Server) bool { return s.opts.MCP != nil }

// mcp hands the request to the MCP server with the key's rights.
func (s *Server) mcp(_ context.Context, rc *fasthttp.RequestCtx, _ noRequest) error {
	st := state(rc)
	caller := MCPCaller{Admin: true, Write: true}
	if s.auth.enforced() {
		caller = MCPCaller{Admin: st.scope == auth.ScopeAdmin, DB: st.db, Write: !st.readOnly}
	}
	s.opts.MCP.ServeMCP(rc, caller)
	return nil
}
