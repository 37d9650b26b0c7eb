package app

import (
	"context"
	"net"
	"net/http"
	"strings"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/praetorian/db-forge/agentmcp"
	"github.com/praetorian/db-forge/gateway"
)

// mcpServer adapts package agentmcp to the gateway's MCP port: the
// Origin/Host check, the caller's key, and the SDK's net/http handler run
// on the request through fasthttp's adaptor. Its tools call the gateway's
// own handler in process (inProcessAPI).
type mcpServer struct {
	origins []string
	serve   fasthttp.RequestHandler
}

// mcpCallerKey is the request's user value holding its caller, which the
// adaptor's http.Request reads through its context (the RequestCtx).
type mcpCallerKey struct{}

func newMCP(api *inProcessAPI, origins []string, ver string) *mcpServer {
	srv := agentmcp.New(api, agentmcp.Options{Version: ver}, func(r *http.Request) (agentmcp.Caller, bool) {
		c, ok := r.Context().Value(mcpCallerKey{}).(agentmcp.Caller)
		return c, ok
	})
	return &mcpServer{origins: origins, serve: fasthttpadaptor.NewFastHTTPHandler(srv)}
}

func (m *mcpServer) ServeMCP(rc *fasthttp.RequestCtx, caller gateway.MCPCaller) {
	loopback := false
	if a, ok := rc.LocalAddr().(*net.TCPAddr); ok {
		loopback = a.IP.IsLoopback()
	}
	if err := agentmcp.CheckOrigin(string(rc.Request.Header.Peek("Origin")), string(rc.Host()), loopback, m.origins); err != nil {
		rc.SetStatusCode(fasthttp.StatusForbidden)
		rc.SetContentType("application/json")
		rc.SetBodyString(`{"detail": "` + err.Error() + `.", "error": {"code": "FORBIDDEN", "message": "` +
			err.Error() + `.", "status": 403}}`)
		return
	}
	creds := map[string]string{}
	for _, h := range []string{"Authorization", "X-API-Key"} {
		if v := rc.Request.Header.Peek(h); len(v) > 0 {
			creds[h] = string(v)
		}
	}
	// The answers are JSON, never a stream: a client that accepts JSON
	// (or anything) need not also name text/event-stream, which the SDK
	// asks of every request.
	if accept := string(rc.Request.Header.Peek("Accept")); !strings.Contains(accept, "text/event-stream") {
		rc.Request.Header.Set("Accept", "application/json, text/event-stream")
	}
	rc.SetUserValue(mcpCallerKey{}, agentmcp.Caller{Admin: caller.Admin, DB: caller.DB, Write: caller.Write, Credentials: creds})
	m.serve(rc)
	rc.RemoveUserValue(mcpCallerKey{})
}

// inProcessAPI runs the gateway's own handler on a fresh request, with no
// socket: an MCP tool's call goes through the same guard, limits,
// metrics and access log as a client's.
type inProcessAPI struct {
	handler fasthttp.RequestHandler // set once the gateway is built
}

func (a *inProcessAPI) Do(_ context.Context, method, path string, header map[string]string, body []byte) (int, []byte, error) {
	var req fasthttp.Request
	req.Header.SetMethod(method)
	req.SetRequestURI(path)
	req.Header.SetHost("localhost")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if body != nil {
		req.SetBody(body)
	}
	var rc fasthttp.RequestCtx
	rc.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, nil)
	a.handler(&rc)
	resp := rc.Response.Body() // reads a streamed body whole
	return rc.Response.StatusCode(), append([]byte(nil), resp...), nil
}
