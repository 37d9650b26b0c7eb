package app

import (
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

func BenchmarkTmpIdemHandler(b *testing.B) {
	insert := []byte(`{"sql":"INSERT INTO kv (name, score) VALUES (?, ?)","params":["x", 1.5]}`)
	for _, key := range []bool{false, true} {
		b.Run("key="+onOff(key), func(b *testing.B) {
			srv, _ := benchServer(b, zap.NewNop(), false, true)
			h := srv.Handler()
			var seq atomic.Int64
			b.SetParallelism(8)
			b.ReportAllocs()
			b.ResetTimer()
			c0 := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				var ctx fasthttp.RequestCtx
				var k []byte
				for pb.Next() {
					ctx.Request.Reset()
					ctx.Response.Reset()
					ctx.Request.Header.SetMethod("POST")
					ctx.Request.SetRequestURI("/api/db/bench/query")
					if key {
						k = strconv.AppendInt(append(k[:0], "bench-"...), seq.Add(1), 10)
						ctx.Request.Header.SetBytesV("Idempotency-Key", k)
					}
					ctx.Request.SetBody(insert)
					h(&ctx)
					if ctx.Response.StatusCode() != 200 {
						b.Errorf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
						return
					}
				}
			})
			b.ReportMetric(float64((cpuTime()-c0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}
