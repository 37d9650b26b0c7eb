package apidoc

import (
	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5emb"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// Docs serves GET /docs: Swagger UI 5 with its assets embedded in the
// binary (github.com/swaggest/swgui, gzip-compressed: no CDN, so it works
// on an air-gapped host), reading the document at /openapi.json. Its
// "Try it out" sends requests to the gateway that served the page; the
// Authorize button takes an API key (Bearer or X-API-Key). Its proxy is
// off: the page never makes the gateway fetch a URL.
func Docs() fasthttp.RequestHandler {
	h := v5emb.NewHandlerWithConfig(swgui.Config{
		Title:       "DB-Forge API",
		SwaggerJSON: "/openapi.json",
		BasePath:    "/docs/",
		ShowTopBar:  false,
		SettingsUI: map[string]string{
			"tryItOutEnabled":        "true",
			"persistAuthorization":   "false",
			"displayRequestDuration": "true",
		},
	})
	return fasthttpadaptor.NewFastHTTPHandler(h)
}
