package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client talks to one gateway. It is safe for concurrent use; make one
// and share it.
type Client struct {
	base       string // without a trailing slash
	key        string
	http       *http.Client
	userAgent  string
	retries    int
	minBackoff time.Duration
	maxBackoff time.Duration
	// idempotency: writes get a generated Idempotency-Key.
	idempotency bool
}

// Option configures a Client.
type Option func(*Client)

// WithKey sets the API key sent with every request (Authorization:
// Bearer): the admin key, or a key of a database.
func WithKey(key string) Option { return func(c *Client) { c.key = key } }

// WithHTTPClient sets the *http.Client the requests go through (its
// Transport, proxies, TLS). The default is a client without a timeout:
// every call's context bounds it.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithRetries sets how many times a request that may be repeated is
// retried (default 3; 0 turns retries off), and the backoff: the first
// wait is min, doubled each time up to max, with jitter; a Retry-After
// from the server wins when it is longer (up to max).
func WithRetries(n int, min, max time.Duration) Option {
	return func(c *Client) { c.retries, c.minBackoff, c.maxBackoff = n, min, max }
}

// WithoutIdempotencyKeys stops the client from generating an
// Idempotency-Key for writes (the gateway records each keyed write's
// answer for FORGE_IDEMPOTENCY_TTL); such writes are then not retried.
func WithoutIdempotencyKeys() Option { return func(c *Client) { c.idempotency = false } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client of the gateway at baseURL (e.g.
// "http://localhost:8000").
func New(baseURL string, opts ...Option) *Client {
	c := &Client{base: strings.TrimRight(baseURL, "/"), http: &http.Client{},
		userAgent: "db-forge-go-client", retries: 3, idempotency: true,
		minBackoff: 100 * time.Millisecond, maxBackoff: 5 * time.Second}
	for _, o := range opts {
		o(c)
	}
	return c
}

// BaseURL is the gateway's URL the client was made with.
func (c *Client) BaseURL() string { return c.base }

// request is one call: everything do needs to send it, and to know
// whether it may be sent again.
type request struct {
	method string
	path   string // already escaped
	query  url.Values
	header http.Header
	// json is marshalled as the body (nil: no body), unless body or
	// bytes is set.
	json any
	// bytes is a body held whole (it may be sent again) of contentType.
	bytes []byte
	// body streams a body of contentType; a request with one is never
	// retried (it cannot be read twice).
	body        io.Reader
	contentType string
	// idempotent: the request may be repeated (GET, DELETE, a write
	// with an Idempotency-Key).
	idempotent bool
	// anyStatus: do answers a 4xx or 5xx as a response too (after its
	// retries), with its body unread, instead of an *Error.
	anyStatus bool
}

// pathOf joins escaped path segments: pathOf("api", "db", name, "query").
func pathOf(segs ...string) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// newIdempotencyKey is a random key for a write the client may repeat.
func newIdempotencyKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "sdk-" + hex.EncodeToString(b[:])
}

// do sends r, retrying as allowed, and returns the response of a 2xx
// answer with its body unread (the caller closes it); any other answer
// is an *Error.
func (c *Client) do(ctx context.Context, r request) (*http.Response, error) {
	payload := r.bytes
	if r.json != nil && r.body == nil && r.bytes == nil {
		b, err := json.Marshal(r.json)
		if err != nil {
			return nil, fmt.Errorf("db-forge: encoding the request: %w", err)
		}
		payload = b
	}
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	for attempt := 0; ; attempt++ {
		var body io.Reader
		switch {
		case r.body != nil:
			body = r.body
		case payload != nil:
			body = bytes.NewReader(payload)
		}
		req, err := http.NewRequestWithContext(ctx, r.method, u, body)
		if err != nil {
			return nil, fmt.Errorf("db-forge: %w", err)
		}
		for k, v := range r.header {
			req.Header[k] = v
		}
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		if c.userAgent != "" {
			req.Header.Set("User-Agent", c.userAgent)
		}
		switch {
		case (r.body != nil || r.bytes != nil) && r.contentType != "":
			req.Header.Set("Content-Type", r.contentType)
		case payload != nil:
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.http.Do(req)
		var wait time.Duration
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if !c.mayRetry(r, attempt, nil) {
				return nil, fmt.Errorf("db-forge: %s %s: %w", r.method, r.path, err)
			}
		} else {
			if resp.StatusCode < 300 {
				return resp, nil
			}
			limit := int64(1 << 20)
			if r.anyStatus { // the answer is the caller's, whole
				limit = math.MaxInt64
			}
			b, _ := io.ReadAll(io.LimitReader(resp.Body, limit))
			resp.Body.Close()
			e := newError(resp, b)
			if !c.mayRetry(r, attempt, e) {
				if r.anyStatus {
					resp.Body = io.NopCloser(bytes.NewReader(b))
					return resp, e
				}
				return nil, e
			}
			wait = e.RetryAfter
		}
		if err := c.sleep(ctx, attempt, wait); err != nil {
			return nil, err
		}
	}
}

// mayRetry says whether r may be sent again after its attempt failed
// with e (nil: the connection failed, no answer). Any request may be
// repeated when the gateway refused it before it ran (429, 503
// SERVER_BUSY or SHUTTING_DOWN); an idempotent one also after a lost
// connection and the other errors a retry cures (503, 504, 409
// IDEMPOTENCY_IN_PROGRESS).
func (c *Client) mayRetry(r request, attempt int, e *Error) bool {
	if attempt >= c.retries || r.body != nil {
		return false
	}
	if e != nil {
		switch e.Code {
		case "TOO_MANY_REQUESTS", "RATE_LIMITED", "SERVER_BUSY", "SHUTTING_DOWN":
			return true
		}
	}
	if !r.idempotent {
		return false
	}
	if e == nil {
		return true
	}
	switch e.Code {
	case "DATABASE_BUSY", "BACKEND_UNAVAILABLE", "IDEMPOTENCY_IN_PROGRESS", "QUERY_TIMEOUT", "REQUEST_CANCELED":
		return true
	}
	return false
}

// sleep waits before the retry after attempt: exponential backoff with
// jitter, or the server's Retry-After when longer, at most maxBackoff.
func (c *Client) sleep(ctx context.Context, attempt int, retryAfter time.Duration) error {
	d := time.Duration(float64(c.minBackoff) * math.Pow(2, float64(attempt)))
	if d > c.maxBackoff || d <= 0 {
		d = c.maxBackoff
	}
	d = d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
	if retryAfter > d {
		d = retryAfter
	}
	if d > c.maxBackoff {
		d = c.maxBackoff
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryAfter reads a Retry-After header of whole seconds.
func retryAfter(h http.Header) time.Duration {
	s := h.Get("Retry-After")
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// call sends r and decodes a JSON answer into out (nil: discard it).
func (c *Client) call(ctx context.Context, r request, out any) (*http.Response, error) {
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp, nil
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("db-forge: reading the answer: %w", err)
	}
	if err := jsonUnmarshal(b, out); err != nil {
		return nil, fmt.Errorf("db-forge: decoding the answer of %s %s: %w", r.method, r.path, err)
	}
	return resp, nil
}

// jsonUnmarshal decodes keeping numbers exact (json.Number in any).
func jsonUnmarshal(b []byte, out any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(out)
}

// errNoName guards against an empty path segment that would make
// another route.
var errNoName = errors.New("db-forge: empty name")

func need(names ...string) error {
	for _, n := range names {
		if n == "" {
			return errNoName
		}
	}
	return nil
}
