package app_test

import (
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/praetorian/db-forge/internal/contracttest"
)

// series is the Prometheus text of GET /metrics as name{labels} → value.
func series(t *testing.T, c contracttest.Client) (map[string]float64, string) {
	t.Helper()
	r := c.Do(t, "GET", "/metrics", nil)
	if r.Status != 200 {
		t.Fatalf("GET /metrics = %d %s", r.Status, r.Raw)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type = %q", ct)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(r.Raw), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample line %q", line)
		}
		out[line[:i]] = v
	}
	return out, string(r.Raw)
}

// TestMetrics: what the gateway answered is what /metrics says, by route
// pattern and never by database name, with bounded labels whatever the
// client sends; the engine's and the process's figures are there.
func TestMetrics(t *testing.T) {
	g := start(t, t.TempDir())
	admin := g.client()
	contracttest.Expect(t, admin.Do(t, "POST", "/admin/databases/spawn/secretname", nil), 201, "")
	for range 3 {
		contracttest.Expect(t, admin.Do(t, "POST", "/api/db/secretname/query", `{"sql": "SELECT 1"}`), 200, "")
	}
	contracttest.ExpectError(t, admin.Do(t, "POST", "/api/db/secretname/query", `{"sql": "SELEC 1"}`), 400, "*")
	contracttest.ExpectError(t, admin.Do(t, "GET", "/no/such/secretpath", nil), 404, "Not Found")
	contracttest.ExpectError(t, admin.WithKey("").Do(t, "GET", "/admin/databases", nil), 401, "*")

	// Methods nobody routes, and a request fasthttp cannot read.
	raw := func(req string) string {
		conn, err := net.Dial("tcp", strings.TrimPrefix(g.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(conn)
		status, _, _ := strings.Cut(string(b), "\r\n")
		return status
	}
	for _, m := range []string{"BREW", "XYZZY1", "XYZZY2"} {
		if st := raw(m + " /secretpath HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); !strings.Contains(st, " 404 ") {
			t.Fatalf("%s: %q", m, st)
		}
	}
	if st := raw("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\nConnection: close\r\n\r\n"); !strings.Contains(st, " 400 ") {
		t.Fatalf("malformed request: %q", st)
	}

	got, text := series(t, admin)
	want := map[string]float64{
		`forge_http_requests_total{code="200",method="POST",route="/api/db/{db_name}/query"}`:                 3,
		`forge_http_requests_total{code="400",method="POST",route="/api/db/{db_name}/query"}`:                 1,
		`forge_http_requests_total{code="201",method="POST",route="/admin/databases/spawn/{db_name}"}`:        1,
		`forge_http_requests_total{code="401",method="GET",route="/admin/databases"}`:                         1,
		`forge_http_requests_total{code="404",method="GET",route="unmatched"}`:                                1,
		`forge_http_requests_total{code="400",method="OTHER",route="transport_error"}`:                        1,
		`forge_http_request_duration_seconds_count{method="POST",route="/api/db/{db_name}/query"}`:            4,
		`forge_http_request_duration_seconds_bucket{method="POST",route="/api/db/{db_name}/query",le="+Inf"}`: 4,
		`forge_engine_open_databases`:         2, // secretname and the key table
		`forge_http_requests_in_flight`:       1, // this scrape
		`forge_backend_info{backend="local"}`: 1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	var other float64
	for k, v := range got {
		if strings.HasPrefix(k, "forge_http_requests_total{") && strings.Contains(k, `method="OTHER",route="unmatched"`) {
			other += v
		}
	}
	if other != 3 {
		t.Errorf("unrouted odd methods counted %v times under OTHER, want 3", other)
	}
	for _, s := range []string{"secretname", "secretpath", "BREW", "XYZZY"} {
		if strings.Contains(text, s) {
			t.Errorf("/metrics names %q: a label carries client input", s)
		}
	}
	for _, name := range []string{"forge_engine_opened_total", "forge_engine_evicted_total", "forge_engine_faults_total",
		"forge_engine_write_batches_total", "forge_engine_batched_writes_total", "forge_engine_redone_writes_total",
		"process_resident_memory_bytes", "go_goroutines"} {
		if _, ok := got[name]; !ok {
			t.Errorf("no %s", name)
		}
	}

	// The scrape itself is counted by the next one.
	got, _ = series(t, admin)
	if k := `forge_http_requests_total{code="200",method="GET",route="/metrics"}`; got[k] != 1 {
		t.Errorf("%s = %v, want 1", k, got[k])
	}
}
