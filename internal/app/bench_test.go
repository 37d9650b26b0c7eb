package app

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"testing"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
	"go.uber.org/zap"

	"github.com/praetorian/db-forge/auth"
	"github.com/praetorian/db-forge/batch"
	"github.com/praetorian/db-forge/gateway"
	"github.com/praetorian/db-forge/idem"
	"github.com/praetorian/db-forge/metrics"
	"github.com/praetorian/db-forge/orchestrator/local"
	"github.com/praetorian/db-forge/tables"
	"github.com/praetorian/db-forge/volumes"
	"github.com/praetorian/db-forge/wasm"
)

// benchServer wires the real engine, backend and gateway (no access log:
// zap.NewNop unless given) over a data dir holding one database "bench"
// with a table of 10,000 rows. With withAuth the gateway enforces
// authentication as app.Run wires it (the key database in the engine, a
// rate limiter too generous to refuse anything, so that its cost is
// measured), and authz is the Authorization header of bench's read-write
// key from its spawn; without, there are no keys and authz is "".
// withMetrics records every answer in a Prometheus registry, as app.Run
// does.
func benchServer(b *testing.B, logger *zap.Logger, withAuth, withMetrics bool) (srv *gateway.Server, authz string) {
	b.Helper()
	vol, err := volumes.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	metaPath := vol.SystemPath(metaFile)
	if err := ensureMetaFile(metaPath); err != nil {
		b.Fatal(err)
	}
	eng, err := wasm.New(wasm.Config{CacheDir: sharedCacheDir()}, withMeta(vol.Resolve, metaPath), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = eng.Close(b.Context()) })
	var a gateway.Auth
	admin := ""
	if withAuth {
		admin = "bench-admin-key-0123456789abcdef0123456789abcdef"
		keys, err := auth.New(b.Context(), keyStore{e: eng}, auth.Options{Admin: mustAdminKey(b, admin)})
		if err != nil {
			b.Fatal(err)
		}
		a = gateway.Auth{Keys: keys, Databases: vol, Limiter: auth.NewLimiter(auth.LimitConfig{Rate: 1e12, Burst: 1 << 40})}
		admin = "Bearer " + admin
	}
	opts := gateway.Options{Auth: a, Databases: vol, Idempotency: idempotency{idem.New(eng, 0), tables.New(eng), batch.New(eng, batch.Config{})}}
	if withMetrics {
		opts.Metrics = metrics.New()
	}
	srv = gateway.New(opts, newGatewayEngine(eng, 0), local.New(vol), logger)
	h := srv.Handler()
	spawned := do(b, h, "POST", "/admin/databases/spawn/bench", "", admin, 201)
	if withAuth {
		var r struct {
			APIKey string `json:"api_key"`
		}
		if err := json.Unmarshal(spawned, &r); err != nil || r.APIKey == "" {
			b.Fatalf("spawn: %s", spawned)
		}
		authz = "Bearer " + r.APIKey
	}
	do(b, h, "POST", "/api/db/bench/query", `{"sql":"CREATE TABLE kv (id INTEGER PRIMARY KEY, name TEXT, score REAL)"}`, authz, 200)
	do(b, h, "POST", "/api/db/bench/query",
		`{"sql":"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 10000) INSERT INTO kv SELECT i, 'name-' || i, i * 0.5 FROM n"}`, authz, 200)
	return srv, authz
}

// mustAdminKey is key as EnsureAdminKey returns it from FORGE_ADMIN_KEY.
func mustAdminKey(b *testing.B, key string) auth.Secret {
	s, _, err := auth.EnsureAdminKey(key, "")
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// do sends one request with the Authorization header authz ("" = none)
// and returns the body.
func do(b *testing.B, h fasthttp.RequestHandler, method, uri, body, authz string, want int) []byte {
	b.Helper()
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(uri)
	if authz != "" {
		ctx.Request.Header.Set("Authorization", authz)
	}
	ctx.Request.SetBodyString(body)
	h(&ctx)
	if ctx.Response.StatusCode() != want {
		b.Fatalf("%s %s: %d %s", method, uri, ctx.Response.StatusCode(), ctx.Response.Body())
	}
	return append([]byte(nil), ctx.Response.Body()...)
}

// queryOnce sends body to POST /api/db/bench/query through h, reusing ctx,
// with the Authorization header authz ("" = none), and returns the status.
func queryOnce(ctx *fasthttp.RequestCtx, h fasthttp.RequestHandler, authz string, body []byte) int {
	ctx.Request.Reset()
	ctx.Response.Reset()
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/api/db/bench/query")
	if authz != "" {
		ctx.Request.Header.Set("Authorization", authz)
	}
	ctx.Request.SetBody(body)
	h(ctx)
	return ctx.Response.StatusCode()
}

// pointSelects are query bodies of random point SELECTs.
func pointSelects() [][]byte {
	bodies := make([][]byte, 1024)
	for i := range bodies {
		bodies[i] = fmt.Appendf(nil, `{"sql":"SELECT id, name, score FROM kv WHERE id = ?","params":[%d]}`, 1+rand.IntN(10000))
	}
	return bodies
}

// BenchmarkHandlerPointSelect calls the handler chain directly (routing,
// authentication, decoding, engine, encoding), without the network, from
// every core at once; auth=on adds the bearer token, its verification,
// the policy and the rate limiter to each request.
func BenchmarkHandlerPointSelect(b *testing.B) {
	for _, withAuth := range []bool{false, true} {
		b.Run("auth="+onOff(withAuth), func(b *testing.B) {
			srv, authz := benchServer(b, zap.NewNop(), withAuth, true)
			h := srv.Handler()
			bodies := pointSelects()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var ctx fasthttp.RequestCtx
				i := rand.IntN(len(bodies))
				for pb.Next() {
					i++
					if queryOnce(&ctx, h, authz, bodies[i%len(bodies)]) != 200 {
						b.Errorf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
						return
					}
				}
			})
		})
	}
}

// BenchmarkHandlerPointSelectSerial is one request at a time: the
// difference between auth=on and auth=off is the latency authentication
// adds to a request.
// Likewise metrics=on against metrics=off.
func BenchmarkHandlerPointSelectSerial(b *testing.B) {
	for _, c := range []struct{ auth, metrics bool }{{false, false}, {true, false}, {true, true}} {
		b.Run("auth="+onOff(c.auth)+"/metrics="+onOff(c.metrics), func(b *testing.B) {
			srv, authz := benchServer(b, zap.NewNop(), c.auth, c.metrics)
			h := srv.Handler()
			bodies := pointSelects()
			var ctx fasthttp.RequestCtx
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				if queryOnce(&ctx, h, authz, bodies[i%len(bodies)]) != 200 {
					b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
				}
			}
		})
	}
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// BenchmarkHandlerInsert is a single-row autocommit INSERT per request.
func BenchmarkHandlerInsert(b *testing.B) {
	srv, _ := benchServer(b, zap.NewNop(), false, true)
	h := srv.Handler()
	body := []byte(`{"sql":"INSERT INTO kv (name, score) VALUES (?, ?)","params":["x", 1.5]}`)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var ctx fasthttp.RequestCtx
		for pb.Next() {
			if queryOnce(&ctx, h, "", body) != 200 {
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
	srv, _ := benchServer(b, logger, false, true)
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

// BenchmarkHandlerIdempotency is a single-row INSERT and a point SELECT,
// one request at a time, without and with an Idempotency-Key (a new key
// per request): what the idempotency record costs (docs/PERFORMANCE.md).
func BenchmarkHandlerIdempotency(b *testing.B) {
	insert := []byte(`{"sql":"INSERT INTO kv (name, score) VALUES (?, ?)","params":["x", 1.5]}`)
	for _, c := range []struct {
		name string
		key  bool
	}{{"insert/key=off", false}, {"insert/key=on", true}, {"select/key=off", false}, {"select/key=on", true}} {
		b.Run(c.name, func(b *testing.B) {
			srv, _ := benchServer(b, zap.NewNop(), false, true)
			h := srv.Handler()
			bodies := pointSelects()
			if c.name[:6] == "insert" {
				bodies = [][]byte{insert}
			}
			var ctx fasthttp.RequestCtx
			var key []byte
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				ctx.Request.Reset()
				ctx.Response.Reset()
				ctx.Request.Header.SetMethod("POST")
				ctx.Request.SetRequestURI("/api/db/bench/query")
				if c.key {
					key = strconv.AppendInt(append(key[:0], "bench-"...), int64(i), 10)
					ctx.Request.Header.SetBytesV("Idempotency-Key", key)
				}
				ctx.Request.SetBody(bodies[i%len(bodies)])
				h(&ctx)
				if ctx.Response.StatusCode() != 200 {
					b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}
