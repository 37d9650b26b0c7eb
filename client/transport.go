package client

import (
	"bytes"
	"io"
	"net/http"
)

// RoundTripper is an http.RoundTripper that sends requests as the
// client sends its own: with its key (Authorization: Bearer, unless the
// request has one), its User-Agent, through its *http.Client, and
// repeated with its backoff when the gateway refused them before they
// ran (429 TOO_MANY_REQUESTS or RATE_LIMITED, 503 SERVER_BUSY or
// SHUTTING_DOWN) if their body can be read again (GetBody). Any other
// answer is returned as it came, for the caller to read: it is how a
// protocol client of its own (the MCP SDK's streamable transport, in
// the forge-gateway mcp bridge) talks to the gateway with the SDK's key
// and policy.
func (c *Client) RoundTripper() http.RoundTripper { return roundTripper{c} }

type roundTripper struct{ c *Client }

func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	c := rt.c
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		r := req.Clone(ctx)
		if attempt > 0 && req.Body != nil && req.Body != http.NoBody {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r.Body = body
		}
		if c.key != "" && r.Header.Get("Authorization") == "" {
			r.Header.Set("Authorization", "Bearer "+c.key)
		}
		if c.userAgent != "" {
			r.Header.Set("User-Agent", c.userAgent)
		}
		resp, err := c.http.Do(r)
		if err != nil || resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
			return resp, err
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		e := newError(resp, b)
		repeatable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
		// As a request with a body held whole: only refusals are repeated.
		if !repeatable || !c.mayRetry(request{}, attempt, e) {
			return resp, nil
		}
		if err := c.sleep(ctx, attempt, e.RetryAfter); err != nil {
			return nil, err
		}
	}
}
