// Command ceiling-sqlite is the second ceiling of the benchmark: a bare
// fasthttp server that runs the point SELECT (and the single-row INSERT) on
// the same engine as the gateway, with none of its generality: no routing,
// no JSON parsing beyond finding the id, no logging, statements prepared
// once per connection, readers in a small pool and one writer.
//
// It accepts the gateway's own request bodies: a body starting with
// {"sql":"INSERT inserts a fixed row; any other is a point SELECT of the
// last integer in the body. It prints "listening <addr>" once ready.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/bench/ceiling"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	path := flag.String("db", "", "database file (created and seeded if empty)")
	rows := flag.Int("rows", 10000, "rows of the table")
	pool := flag.Int("readers", 2, "reader connections, beside the one writer")
	cache := flag.String("cache", "", "wazero compilation cache directory")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile here until SIGTERM (to compare with the gateway's)")
	flag.Parse()
	if *cpuprofile != "" {
		stop, err := profile(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ceiling-sqlite:", err)
			os.Exit(1)
		}
		defer stop()
	}
	if err := run(*listen, *path, *rows, *pool, *cache); err != nil {
		fmt.Fprintln(os.Stderr, "ceiling-sqlite:", err)
		os.Exit(1)
	}
}

func run(listen, path string, rows, readers int, cache string) error {
	if path == "" {
		return fmt.Errorf("-db is required")
	}
	if err := ceiling.Init(cache); err != nil {
		return err
	}
	open := func() (*ceiling.Point, error) {
		db, err := ceiling.Open(path)
		if err != nil {
			return nil, err
		}
		return ceiling.NewPoint(db)
	}
	first, err := ceiling.Open(path)
	if err != nil {
		return err
	}
	if err := ceiling.Seed(first, rows); err != nil {
		return err
	}
	writerPoint, err := ceiling.NewPoint(first)
	if err != nil {
		return err
	}
	writer := make(chan *ceiling.Point, 1)
	writer <- writerPoint
	pool := make(chan *ceiling.Point, readers)
	for range readers {
		p, err := open()
		if err != nil {
			return err
		}
		pool <- p
	}

	bufs := sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}
	insertPrefix := []byte(`{"sql":"INSERT`)
	inserted := []byte(`{"message":"Query executed successfully.","rows_affected":1}`)
	handler := func(ctx *fasthttp.RequestCtx) {
		body := ctx.PostBody()
		if bytes.HasPrefix(body, insertPrefix) {
			p := <-writer
			err := p.Insert("x", 1.5)
			writer <- p
			if err != nil {
				ctx.Error(err.Error(), fasthttp.StatusBadRequest)
				return
			}
			ctx.SetContentType("application/json")
			ctx.SetBody(inserted)
			return
		}
		id, ok := lastInt(body)
		if !ok {
			ctx.Error("no id", fasthttp.StatusBadRequest)
			return
		}
		var p *ceiling.Point
		fromWriter := false
		select { // an idle reader, else the idle writer, else the first back
		case p = <-pool:
		default:
			select {
			case p = <-pool:
			case p = <-writer:
				fromWriter = true
			}
		}
		buf := bufs.Get().(*[]byte)
		b, err := p.SelectJSON((*buf)[:0], id)
		if fromWriter {
			writer <- p
		} else {
			pool <- p
		}
		if err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadRequest)
			return
		}
		ctx.SetContentType("application/json")
		ctx.SetBody(b)
		*buf = b
		bufs.Put(buf)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	fmt.Println("listening", ln.Addr())
	srv := &fasthttp.Server{Handler: handler, MaxRequestBodySize: 8 << 20}
	return srv.Serve(ln)
}

// profile writes a CPU profile to path; the server stops profiling and
// exits on SIGTERM or SIGINT.
func profile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, err
	}
	stop := func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-sig
		stop()
		os.Exit(0)
	}()
	return stop, nil
}

// lastInt is the last run of digits in b: the id of {"sql":"…","params":[42]}.
func lastInt(b []byte) (int64, bool) {
	end := bytes.LastIndexFunc(b, func(r rune) bool { return r >= '0' && r <= '9' })
	if end < 0 {
		return 0, false
	}
	start := end
	for start > 0 && b[start-1] >= '0' && b[start-1] <= '9' {
		start--
	}
	n, err := strconv.ParseInt(string(b[start:end+1]), 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}
