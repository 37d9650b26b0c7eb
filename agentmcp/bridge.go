package agentmcp

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/praetorian/db-forge/client"
)

// Bridge relays the protocol between a host that speaks it on a
// process's stdin and stdout (in, out) and the gateway's POST /mcp at
// endpoint, with key as its bearer token: each message the host writes
// goes to the endpoint, each answer back to the host. It returns when the
// host closes in (nil), or ctx ends, or the endpoint cannot be reached.
// The HTTP exchange goes through the Go SDK (package client): its key,
// User-Agent and retries of the requests the gateway refused before
// running them (429, 503 SERVER_BUSY).
func Bridge(ctx context.Context, endpoint, key string, in io.ReadCloser, out io.WriteCloser) error {
	sdk := client.New(endpoint, client.WithKey(key), client.WithUserAgent("forge-gateway-mcp"))
	remote := &mcp.StreamableClientTransport{
		Endpoint:             endpoint,
		HTTPClient:           &http.Client{Transport: sdk.RoundTripper()},
		DisableStandaloneSSE: true, // the endpoint is stateless: no stream of its own
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rconn, err := remote.Connect(ctx)
	if err != nil {
		return err
	}
	defer rconn.Close()
	lconn, err := (&mcp.IOTransport{Reader: in, Writer: out}).Connect(ctx)
	if err != nil {
		return err
	}
	defer lconn.Close()
	errc := make(chan error, 2)
	relay := func(from, to mcp.Connection) {
		for {
			msg, err := from.Read(ctx)
			if err != nil {
				errc <- err
				return
			}
			if err := to.Write(ctx, msg); err != nil {
				errc <- err
				return
			}
		}
	}
	go relay(lconn, rconn)
	go relay(rconn, lconn)
	err = <-errc
	if errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) || errors.Is(err, mcp.ErrConnectionClosed) {
		return nil
	}
	return err
}
