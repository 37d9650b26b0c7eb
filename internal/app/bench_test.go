package app

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
	"go.uber.org/zap"

	"github.com/praetorian/db-forge/gateway"
	"github.com/praetorian/db-forge/orchestrator/local"
	"github.com/praetorian/db-forge/volumes"
	"github.com/praetorian/db-forge/wasm"
)

// benchServer wires the real engine, backend and gateway (no auth yet, no
// access log: zap.NewNop) over a data dir holding one database "bench" with
// a table of 10,000 rows.
func benchServer(b *testing.B, logger *zap.Logger) *gateway.Server {
	b.Helper()
	vol, err := volumes.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	eng, err := wasm.New(wasm.Config{CacheDir: sharedCacheDir()}, vol.Resolve, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = eng.Close(b.Context()) })
	srv := gateway.New(gateway.Options{}, eng, local.New(vol), logger)
	h := srv.Handler()
	do(b, h, "POST", "/admin/databases/spawn/bench", "", 201)
	do(b, h, "POST", "/api/db/bench/query", `{"sql":"CREATE TABLE kv (id INTEGER PRIMARY KEY, name TEXT, score REAL)"}`, 200)
	do(b, h, "POST", "/api/db/bench/query",
		`{"sql":"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 10000) INSERT INTO kv SELECT i, 'name-' || i, i * 0.5 FROM n"}`, 200)
	return srv
}

func do(b *testing.B, h fasthttp.RequestHandler, method, uri, body string, want int) {
	b.Helper()
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(uri)
	ctx.Request.SetBodyString(body)
	h(&ctx)
	if ctx.Response.StatusCode() != want {
		b.Fatalf("%s %s: %d %s", method, uri, ctx.Response.StatusCode(), ctx.Response.Body())
	}
}

// BenchmarkHandlerPointSelect calls the handler chain directly (routing,
// decoding, engine, encoding), without the network.
func BenchmarkHandlerPointSelect(b *testing.B) {
	h := benchServer(b, zap.NewNop()).Handler()
	bodies := make([][]byte, 1024)
	for i := range bodies {
		bodies[i] = fmt.Appendf(nil, `{"sql":"SELECT id, name, score FROM kv WHERE id = ?","params":[%d]}`, 1+rand.IntN(10000))
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var ctx fasthttp.RequestCtx
		i := rand.IntN(len(bodies))
		for pb.Next() {
			ctx.Request.Reset()
			ctx.Response.Reset()
			ctx.Request.Header.SetMethod("POST")
			ctx.Request.SetRequestURI("/api/db/bench/query")
			ctx.Request.SetBody(bodies[i%len(bodies)])
			i++
			h(&ctx)
			if ctx.Response.StatusCode() != 200 {
				b.Errorf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
				return
			}
		}
	})
}

// BenchmarkHandlerInsert is a single-row autocommit INSERT per request.
func BenchmarkHandlerInsert(b *testing.B) {
	h := benchServer(b, zap.NewNop()).Handler()
	body := []byte(`{"sql":"INSERT INTO kv (name, score) VALUES (?, ?)","params":["x", 1.5]}`)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var ctx fasthttp.RequestCtx
		for pb.Next() {
			ctx.Request.Reset()
			ctx.Response.Reset()
			ctx.Request.Header.SetMethod("POST")
			ctx.Request.SetRequestURI("/api/db/bench/query")
			ctx.Request.SetBody(body)
			h(&ctx)
			if ctx.Response.StatusCode() != 200 {
				b.Errorf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
				return
			}
		}
	})
}

// BenchmarkHTTPPointSelect goes through a real fasthttp server and client
// over an in-memory listener, with the JSON access log on (to io.Discard).
func BenchmarkHTTPPointSelect(b *testing.B) {
	logger := zap.New(zapcoreDiscard())
	srv := benchServer(b, logger)
	ln := fasthttputil.NewInmemoryListener()
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Shutdown(b.Context()) })
	client := &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }, MaxConnsPerHost: 64}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetMethod("POST")
		req.SetRequestURI("http://bench/api/db/bench/query")
		for pb.Next() {
			req.SetBodyString(fmt.Sprintf(`{"sql":"SELECT id, name, score FROM kv WHERE id = ?","params":[%d]}`, 1+rand.IntN(10000)))
			if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
				b.Errorf("%v %d %s", err, resp.StatusCode(), resp.Body())
				return
			}
		}
	})
}
