package gateway

import (
	"context"

	"github.com/valyala/fasthttp"
)

// GET /openapi.json and GET /docs: the API's description, built outside
// the gateway (package apidoc derives it from Routes) and handed in
// through Options.OpenAPI and Options.Docs. Both are public: they say
// what the routes are, nothing of the databases.

func (s *Server) openAPI(_ context.Context, rc *fasthttp.RequestCtx, _ noRequest) error {
	writeJSON(rc, fasthttp.StatusOK, s.opts.OpenAPI)
	return nil
}

// docs serves the interactive documentation: its page at /docs, its
// assets under /docs/.
func (s *Server) docs(_ context.Context, rc *fasthttp.RequestCtx, _ noRequest) error {
	s.opts.Docs(rc)
	return nil
}
