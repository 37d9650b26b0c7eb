package apidoc

import (
	_ "embed"
	"net/http"

	"github.com/swaggest/swgui/v5/static"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
	"github.com/vearutop/statigz"
)

// page is the documentation page: Swagger UI 5 reading /openapi.json,
// "Try it out" on (requests go to the gateway that served the page), no
// validator badge (no call to elsewhere), no proxy.
//
//go:embed docs.html
var page []byte

// Docs serves GET /docs and its assets under /docs/: Swagger UI 5's files
// from github.com/swaggest/swgui/v5/static, gzip-compressed and embedded
// in the binary (no CDN, so it works on an air-gapped host), served
// compressed to a browser that accepts it (statigz). The page is this
// package's own, not swgui's template handler: html/template would keep
// every exported method of the binary alive (7 MB more).
func Docs() fasthttp.RequestHandler {
	assets := fasthttpadaptor.NewFastHTTPHandler(http.StripPrefix("/docs/", statigz.FileServer(static.FS)))
	return func(rc *fasthttp.RequestCtx) {
		switch string(rc.Path()) {
		case "/docs", "/docs/", "/docs/index.html":
			rc.SetStatusCode(fasthttp.StatusOK)
			rc.SetContentType("text/html; charset=utf-8")
			rc.SetBody(page)
		default:
			assets(rc)
		}
	}
}
