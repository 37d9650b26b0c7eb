package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/praetorian/db-forge/agentmcp"
	"github.com/praetorian/db-forge/config"
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

func newMCP(api *inProcessAPI, origins []string, ver string, audit bool) *mcpServer {
	srv := agentmcp.New(api, agentmcp.Options{Version: ver, Audit: audit}, func(r *http.Request) (agentmcp.Caller, bool) {
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
	// The tools' requests carry the /mcp request's id: the access log
	// (and the audit) tie each to the agent's call.
	if id := rc.Response.Header.Peek("X-Request-Id"); len(id) > 0 {
		creds["X-Request-Id"] = string(id)
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

// MCPBridge is `forge-gateway mcp --url URL`: the stdio bridge for MCP
// hosts that start servers as processes. It relays the protocol between
// stdin/stdout and a gateway's POST /mcp, with the key in FORGE_KEY. Logs
// go to errOut (stdout is the protocol's).
func MCPBridge(ctx context.Context, args, environ []string, in io.ReadCloser, out io.WriteCloser, errOut io.Writer) error {
	fl := flag.NewFlagSet("forge-gateway mcp", flag.ContinueOnError)
	fl.SetOutput(errOut)
	endpoint := fl.String("url", "http://127.0.0.1:8000/mcp", "the gateway's MCP endpoint (…/mcp; a URL without a path gets /mcp)")
	fl.Usage = func() {
		fmt.Fprintln(errOut, "usage: FORGE_KEY=<key> forge-gateway mcp [--url http://host:8000/mcp]\n\n"+
			"Relays the Model Context Protocol between stdin/stdout and a gateway's POST /mcp, for MCP hosts\n"+
			"that start servers as processes. The key (a database key or the admin key) comes from FORGE_KEY.")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return config.ErrHelp
		}
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("mcp: unexpected arguments %v", fl.Args())
	}
	u, err := url.Parse(*endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("mcp: --url must be an http(s) URL, not %q", *endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/mcp"
	}
	key := ""
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "FORGE_KEY="); ok {
			key = v
		}
	}
	if key == "" {
		return errors.New("mcp: FORGE_KEY is not set: give the bridge a database key or the admin key")
	}
	return agentmcp.Bridge(ctx, u.String(), key, in, out)
}
