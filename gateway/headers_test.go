package gateway

import (
	"bufio"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestPeekHeaderFindsEveryCase: the headers the gateway reads with
// peekHeader are found whatever case the client sent their names in, as
// Header.Peek finds them (a key that is not canonical would find nothing).
func TestPeekHeaderFindsEveryCase(t *testing.T) {
	keys := map[string][]byte{
		headerRequestID: keyRequestID, headerAuthorization: keyAuthorization, headerAPIKey: keyAPIKey,
		headerQueryTimeout: keyQueryTimeout, fasthttp.HeaderAccept: keyAccept,
		headerIdempotencyKey: keyIdempotencyKey, headerTransaction: keyTransaction,
	}
	for _, spell := range []func(string) string{strings.ToLower, strings.ToUpper, func(s string) string { return s }} {
		var raw strings.Builder
		raw.WriteString("POST /api/db/x/query HTTP/1.1\r\nHost: h\r\n")
		for name := range keys {
			raw.WriteString(spell(name) + ": v-" + name + "\r\n")
		}
		raw.WriteString("Content-Length: 0\r\n\r\n")
		var rc fasthttp.RequestCtx
		if err := rc.Request.Read(bufio.NewReader(strings.NewReader(raw.String()))); err != nil {
			t.Fatal(err)
		}
		for name, key := range keys {
			got, want := string(peekHeader(&rc, key)), "v-"+name
			if got != want || string(rc.Request.Header.Peek(name)) != want {
				t.Errorf("%s sent as %q: peekHeader %q, Peek %q, want %q", name, spell(name), got, rc.Request.Header.Peek(name), want)
			}
		}
		if v := peekHeader(&rc, canonicalHeader("X-Absent")); v != nil {
			t.Errorf("absent header: %q, want nil", v)
		}
	}
}
