package app

import (
	"testing"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// BenchmarkHandlerInsertConcurrent is forge-bench's insert scenario without
// the network: single-row INSERTs from 16 goroutines (on 2 cores) through
// the whole handler chain with authentication on, so that most of them
// wait in the writer queue and share group commits. Issue 17's regression
// was here: the queued write's wait (a timer and a select each), the
// request headers read by a normalizing Peek, and meta's extra calls into
// the instance (docs/PERFORMANCE.md).
func BenchmarkHandlerInsertConcurrent(b *testing.B) {
	srv, authz := benchServer(b, zap.NewNop(), true, true)
	h := srv.Handler()
	body := []byte(`{"sql":"INSERT INTO kv (name, score) VALUES (?, ?)","params":["x", 1.5]}`)
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var ctx fasthttp.RequestCtx
		for pb.Next() {
			if queryOnce(&ctx, h, authz, body) != 200 {
				b.Errorf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
				return
			}
		}
	})
}
