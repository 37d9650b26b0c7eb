package client_test

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/praetorian/db-forge/client"
)

// TestRoundTripper: a request of another protocol client carries the
// key, is repeated after a refusal (429) with its body, and any other
// answer comes back as it is; against the gateway, an MCP initialize.
func TestRoundTripper(t *testing.T) {
	var mu sync.Mutex
	var bodies, auths []string
	answers := []int{429, 200}
	srv := newScriptedServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		bodies, auths = append(bodies, string(b)), append(auths, r.Header.Get("Authorization"))
		status := 401
		if len(answers) > 0 {
			status, answers = answers[0], answers[1:]
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"detail":"d","error":{"code":"RATE_LIMITED","message":"d"}}`)
	})
	hc := &http.Client{Transport: client.New(srv, client.WithKey("k1"), client.WithRetries(3, time.Millisecond, 5*time.Millisecond)).RoundTripper()}
	resp, err := hc.Post(srv+"/mcp", "application/json", strings.NewReader(`{"a":1}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("post: %v %v", resp, err)
	}
	resp.Body.Close()
	mu.Lock()
	if len(bodies) != 2 || bodies[1] != `{"a":1}` || auths[0] != "Bearer k1" || auths[1] != "Bearer k1" {
		t.Errorf("tries %q, auth %q", bodies, auths)
	}
	mu.Unlock()
	resp, err = hc.Post(srv+"/mcp", "application/json", strings.NewReader(`{}`))
	if err != nil || resp.StatusCode != 401 {
		t.Fatalf("a 401 comes back as it is: %v %v", resp, err)
	}
	if b, _ := io.ReadAll(resp.Body); !strings.Contains(string(b), "RATE_LIMITED") {
		t.Errorf("its body: %s", b)
	}
	resp.Body.Close()

	// The gateway's /mcp with the admin key.
	key := spawn(t, "rt1")
	gw := &http.Client{Transport: client.New(gatewayURL, client.WithKey(key)).RoundTripper()}
	req, _ := http.NewRequest("POST", gatewayURL+"/mcp", strings.NewReader(
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err = gw.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"serverInfo"`) {
		t.Fatalf("initialize: %d %s", resp.StatusCode, b)
	}
}
