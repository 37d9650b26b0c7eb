package app

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/gateway"
	"github.com/praetorian/db-forge/orchestrator/local"
	"github.com/praetorian/db-forge/volumes"
	"github.com/praetorian/db-forge/wasm"
)

// BenchmarkBatchInsert100 is the batch route's goal: a batch of 100
// single-row INSERTs through the gateway's handler (decode, the batch
// package, a Write unit, the encoder) at ≥ 0.8× the rate of the same 100
// INSERTs in one Write unit called in process. Both run in the same
// process on the same kind of database; "ratio" is reported by the
// handler case against the fastest in-process run before it.
func BenchmarkBatchInsert100(b *testing.B) {
	vol, err := volumes.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	eng, err := wasm.New(wasm.Config{CacheDir: sharedCacheDir()}, vol.Resolve, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = eng.Close(context.Background()) })
	srv := gateway.New(gateway.Options{Databases: vol}, newGatewayEngine(eng, 0), local.New(vol), zap.NewNop())
	h := srv.Handler()
	do(b, h, "POST", "/admin/databases/spawn/bench", "", "", 201)
	do(b, h, "POST", "/api/db/bench/query", `{"sql":"CREATE TABLE kv (id INTEGER PRIMARY KEY, name TEXT, score REAL)"}`, "", 200)

	const n = 100
	const sql = "INSERT INTO kv (name, score) VALUES (?, ?)"
	var body strings.Builder
	body.WriteString(`{"statements":[`)
	for i := range n {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"sql":%q,"params":["name-%d",%d.5]}`, sql, i, i)
	}
	body.WriteString(`]}`)
	batchBody := []byte(body.String())

	// inProcess: ns per batch of the in-process case, its fastest run
	// (with -count=N every in-process run comes before the first handler
	// run): "ratio" is then the handler against the engine at its best,
	// not against whichever run happened to be last.
	var inProcess float64
	b.Run("in-process", func(b *testing.B) {
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			err := eng.Write(ctx, "bench", func(tx forge.Tx) error {
				for i := range n {
					q := forge.Statement{SQL: sql, Params: forge.Params{Positional: []forge.Value{
						forge.TextValue("name"), forge.FloatValue(float64(i) + 0.5)}}}
					if _, err := tx.Run(ctx, q, nil); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		if inProcess == 0 || per < inProcess {
			inProcess = per
		}
		b.ReportMetric(n*1e9/per, "rows/s")
	})
	b.Run("handler", func(b *testing.B) {
		var ctx fasthttp.RequestCtx
		b.ReportAllocs()
		for b.Loop() {
			ctx.Request.Reset()
			ctx.Response.Reset()
			ctx.Request.Header.SetMethod("POST")
			ctx.Request.SetRequestURI("/api/db/bench/batch")
			ctx.Request.SetBody(batchBody)
			h(&ctx)
			if ctx.Response.StatusCode() != 200 {
				b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
		}
		per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(n*1e9/per, "rows/s")
		if inProcess > 0 {
			b.ReportMetric(inProcess/per, "ratio")
		}
	})
}
