package app_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// BenchmarkMCPQuery: what the MCP layer costs over the plain API. A point
// SELECT as the query tool (the SDK's client over HTTP: /mcp, then the
// in-process /query) against the same SELECT as POST /query, one at a
// time, interleaved so that the machine's noise falls on both alike.
// Reports each one's latency and their ratio.
func BenchmarkMCPQuery(b *testing.B) {
	g := start(b, b.TempDir(), "FORGE_LOG_LEVEL=warn")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	post := func(path, body string) []byte {
		req, _ := http.NewRequest("POST", g.url+path, bytes.NewReader([]byte(body)))
		req.Header.Set("X-API-Key", g.adminKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			b.Fatalf("%s: %d %s", path, resp.StatusCode, out)
		}
		return out
	}
	post("/admin/databases/spawn/bench", "")
	post("/api/db/bench/query", `{"sql": "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"}`)
	post("/api/db/bench/query", `{"sql": "INSERT INTO t SELECT value, 'name ' || value FROM generate_series(1, 1000)"}`)
	mc := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil)
	s, err := mc.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: g.url + "/mcp", DisableStandaloneSSE: true,
		HTTPClient: &http.Client{Transport: bearerRT{key: g.adminKey, next: client.Transport}}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	args := map[string]any{"database": "bench", "sql": "SELECT id, name FROM t WHERE id = ?", "params": []any{500}}
	const body = `{"sql": "SELECT id, name FROM t WHERE id = ?", "params": [500]}`
	var viaMCP, viaAPI time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		res, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: "query", Arguments: args})
		if err != nil || res.IsError {
			b.Fatal(err, res)
		}
		t1 := time.Now()
		post("/api/db/bench/query", body)
		t2 := time.Now()
		viaMCP += t1.Sub(t0)
		viaAPI += t2.Sub(t1)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(viaMCP.Microseconds())/n, "mcp-µs/op")
	b.ReportMetric(float64(viaAPI.Microseconds())/n, "api-µs/op")
	b.ReportMetric(float64(viaMCP)/float64(viaAPI), "mcp/api")
}
