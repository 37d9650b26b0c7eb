package app

import (
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// BenchmarkIdempotency is issue 11's cost goal for idempotent retries:
// the idempotency record (and meta, which every answer carries) cost less
// than 10 % of single-INSERT and point-SELECT throughput. Sixteen clients
// send requests to a real gateway on a loopback TCP port, in rounds that
// alternate a phase without an Idempotency-Key and a phase with one (a new
// key per request), so that both are measured in the same moments of a
// noisy machine. Each iteration is one round of each phase; "off-req/s"
// and "on-req/s" are the phases' throughputs over the whole run, and
// "ratio" is on/off (goal ≥ 0.9).
//
//	go test -run=NONE -bench=Idempotency -count=3 ./internal/app
func BenchmarkIdempotency(b *testing.B) {
	const clients = 16
	const perPhase = 1600 // requests per phase, over all clients
	insert := []byte(`{"sql":"INSERT INTO kv (name, score) VALUES (?, ?)","params":["x", 1.5]}`)
	// insert-uuid: keys of 32 random hex digits, as clients' UUIDs, where
	// insert's are numbered.
	for _, kind := range []string{"insert", "insert-uuid", "select"} {
		b.Run(kind, func(b *testing.B) {
			srv, _ := benchServer(b, zap.NewNop(), false, true)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			go func() { _ = srv.Serve(ln) }()
			b.Cleanup(func() { _ = srv.Shutdown(b.Context()) })
			client := &fasthttp.HostClient{Addr: ln.Addr().String(), MaxConns: clients}
			bodies := pointSelects()
			if kind != "select" {
				bodies = [][]byte{insert}
			}
			var seq atomic.Int64 // keys are never reused
			// phase sends perPhase requests from the clients and returns
			// how long they took.
			phase := func(withKey bool) time.Duration {
				var wg sync.WaitGroup
				var next atomic.Int64
				start := time.Now()
				for range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
						defer fasthttp.ReleaseRequest(req)
						defer fasthttp.ReleaseResponse(resp)
						req.Header.SetMethod("POST")
						req.SetRequestURI("http://bench/api/db/bench/query")
						var key []byte
						i := rand.IntN(len(bodies))
						for next.Add(1) <= perPhase {
							i++
							if withKey && kind == "insert-uuid" {
								key = strconv.AppendUint(strconv.AppendUint(key[:0], rand.Uint64(), 16), rand.Uint64(), 16)
								req.Header.SetBytesV("Idempotency-Key", key)
							} else if withKey {
								key = strconv.AppendInt(append(key[:0], "bench-"...), seq.Add(1), 10)
								req.Header.SetBytesV("Idempotency-Key", key)
							}
							req.SetBody(bodies[i%len(bodies)])
							if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
								b.Errorf("%v %d %s", err, resp.StatusCode(), resp.Body())
								return
							}
						}
					}()
				}
				wg.Wait()
				return time.Since(start)
			}
			// measured runs phase and adds its time and the process's CPU
			// time to *wall and *cpu.
			measured := func(withKey bool, wall, cpu *time.Duration) {
				c0 := cpuTime()
				*wall += phase(withKey)
				*cpu += cpuTime() - c0
			}
			// A keyed write first: the database has its records table, as
			// a client's that uses keys does.
			req := fasthttp.AcquireRequest()
			req.Header.SetMethod("POST")
			req.SetRequestURI("http://bench/api/db/bench/query")
			req.Header.Set("Idempotency-Key", "bench-setup")
			req.SetBody(insert)
			resp := fasthttp.AcquireResponse()
			if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
				b.Fatalf("%v %d %s", err, resp.StatusCode(), resp.Body())
			}
			fasthttp.ReleaseRequest(req)
			fasthttp.ReleaseResponse(resp)
			phase(true)
			var off, on, offCPU, onCPU time.Duration
			round := 0
			for b.Loop() {
				round++
				if round%2 == 0 {
					measured(false, &off, &offCPU)
					measured(true, &on, &onCPU)
				} else {
					measured(true, &on, &onCPU)
					measured(false, &off, &offCPU)
				}
			}
			n := float64(round * perPhase)
			b.ReportMetric(n/off.Seconds(), "off-req/s")
			b.ReportMetric(n/on.Seconds(), "on-req/s")
			b.ReportMetric(off.Seconds()/on.Seconds(), "ratio")
			// CPU per request of the whole process (clients included):
			// on a machine short of cores, what the ratio follows.
			b.ReportMetric(float64(offCPU.Microseconds())/n, "off-cpu-µs/req")
			b.ReportMetric(float64(onCPU.Microseconds())/n, "on-cpu-µs/req")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIdempotencyServer is BenchmarkIdempotency without the network
// and its client: the handler chain called from 16 goroutines, so that
// "cpu-µs/op" is what the server spends on a request, with and without a
// key (a new key per request: "on" numbers them, as one client's counter
// would; "random" is 32 random hex digits, as a UUID, which scatter over
// any index on the key).
func BenchmarkIdempotencyServer(b *testing.B) {
	insert := []byte(`{"sql":"INSERT INTO kv (name, score) VALUES (?, ?)","params":["x", 1.5]}`)
	for _, kind := range []string{"insert", "select"} {
		for _, key := range []string{"off", "on", "random"} {
			b.Run(kind+"/key="+key, func(b *testing.B) {
				srv, _ := benchServer(b, zap.NewNop(), false, true)
				h := srv.Handler()
				bodies := pointSelects()
				if kind == "insert" {
					bodies = [][]byte{insert}
				}
				var seq atomic.Int64
				b.SetParallelism(8) // 16 goroutines on 2 cores
				b.ReportAllocs()
				b.ResetTimer()
				c0 := cpuTime()
				b.RunParallel(func(pb *testing.PB) {
					var ctx fasthttp.RequestCtx
					var k []byte
					i := rand.IntN(len(bodies))
					for pb.Next() {
						i++
						ctx.Request.Reset()
						ctx.Response.Reset()
						ctx.Request.Header.SetMethod("POST")
						ctx.Request.SetRequestURI("/api/db/bench/query")
						switch key {
						case "on":
							k = strconv.AppendInt(append(k[:0], "bench-"...), seq.Add(1), 10)
							ctx.Request.Header.SetBytesV("Idempotency-Key", k)
						case "random":
							k = strconv.AppendUint(strconv.AppendUint(k[:0], rand.Uint64(), 16), rand.Uint64(), 16)
							ctx.Request.Header.SetBytesV("Idempotency-Key", k)
						}
						ctx.Request.SetBody(bodies[i%len(bodies)])
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
}
