package gateway

import (
	"bytes"
	"context"
	"strings"

	"github.com/valyala/fasthttp"
)

// GET /console and GET /console/{file}: the web console, a page and its
// assets built outside the gateway (package console) and handed in
// through Options.Console. Public: the page holds no data; it asks the
// API for everything, with the key the user signs in with, which it
// sends as a header (never in a URL or a cookie).

// Console is what the gateway needs of the console's files.
type Console interface {
	// ConsoleFile is the file of that name ("" = the page) and whether
	// there is one.
	ConsoleFile(name string) (ConsoleFile, bool)
}

// ConsoleFile is one file of the console, ready to send.
type ConsoleFile struct {
	Body        []byte
	Gzip        []byte // Body gzip-compressed; nil: send Body
	ContentType string
	ETag        string // quoted
}

// consoleCSP is the console's Content-Security-Policy: scripts, styles
// and API calls from this origin only (no inline script or style, no
// eval, no third party), images from here or data: URLs, no plugin, no
// form posted anywhere, no <base>, and no framing (frame-ancestors, and
// X-Frame-Options for older browsers).
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// consoleHeaders go with every answer of the console, errors included.
var consoleHeaders = [...][2]string{
	{"Content-Security-Policy", consoleCSP},
	{"X-Frame-Options", "DENY"},
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "no-referrer"},
	{"Cross-Origin-Opener-Policy", "same-origin"},
	// Revalidated at each load (the ETag makes that a 304): a new
	// gateway's console is never mixed with an old one's cached module.
	{"Cache-Control", "no-cache"},
}

func hasConsole(s *Server) bool { return s.opts.Console != nil }

// console serves the page at /console and its files under /console/:
// gzip-compressed to a browser that accepts it, 304 for a file the
// browser has (If-None-Match), 404 ROUTE_NOT_FOUND for any other name.
func (s *Server) console(_ context.Context, rc *fasthttp.RequestCtx, _ noRequest) error {
	for _, h := range consoleHeaders {
		rc.Response.Header.Set(h[0], h[1])
	}
	name, _ := rc.UserValue("file").(string)
	f, ok := s.opts.Console.ConsoleFile(name)
	if !ok {
		return newError(fasthttp.StatusNotFound, CodeRouteNotFound, "Not Found")
	}
	// The compressed answer is another representation: its own tag.
	gz := f.Gzip != nil && rc.Request.Header.HasAcceptEncoding("gzip")
	plainTag, gzTag := f.ETag, strings.TrimSuffix(f.ETag, `"`)+`-gz"`
	tag := plainTag
	if gz {
		tag = gzTag
	}
	rc.Response.Header.Set("ETag", tag)
	rc.Response.Header.Set("Vary", "Accept-Encoding")
	if inm := rc.Request.Header.Peek("If-None-Match"); len(inm) > 0 &&
		(bytes.Contains(inm, []byte(plainTag)) || bytes.Contains(inm, []byte(gzTag))) {
		rc.SetStatusCode(fasthttp.StatusNotModified)
		return nil
	}
	rc.SetStatusCode(fasthttp.StatusOK)
	rc.SetContentType(f.ContentType)
	if gz {
		rc.Response.Header.Set("Content-Encoding", "gzip")
		rc.SetBody(f.Gzip)
		return nil
	}
	rc.SetBody(f.Body)
	return nil
}
