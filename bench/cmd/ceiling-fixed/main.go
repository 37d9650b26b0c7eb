// Command ceiling-fixed is the first ceiling of the benchmark: a bare
// fasthttp server that answers every request with the fixed JSON body of a
// point SELECT. Nothing served over HTTP on this machine can be faster.
// It prints "listening <addr>" once it accepts connections.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"

	"github.com/valyala/fasthttp"
)

var body = []byte(`{"data":[{"id":1,"name":"name-1","score":0.5}],"rows_affected":1}`)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ceiling-fixed:", err)
		os.Exit(1)
	}
	fmt.Println("listening", ln.Addr())
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
	}, MaxRequestBodySize: 8 << 20}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "ceiling-fixed:", err)
		os.Exit(1)
	}
}
