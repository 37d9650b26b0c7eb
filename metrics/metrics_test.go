package metrics

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape parses WriteText's output with Prometheus's own text parser.
func scrape(t *testing.T, r *Registry) map[string]*dto.MetricFamily {
	t.Helper()
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(&buf)
	if err != nil {
		t.Fatalf("the output does not parse as the Prometheus text format: %v\n%s", err, buf.String())
	}
	return mfs
}

// find is the metric of family name whose labels include want.
func find(mfs map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	mf := mfs[name]
	if mf == nil {
		return nil
	}
next:
	for _, m := range mf.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

func TestRouteRecordsCountsDurationsAndBytes(t *testing.T) {
	r := New()
	q := r.Route("POST", "/api/db/{db_name}/query")
	q(200, 300*time.Microsecond, 100)
	q(200, 2*time.Millisecond, 50)
	q(404, 100*time.Microsecond, 10)
	q(599, time.Millisecond, 0)
	r.Route("GET", "/")(200, -1, 5) // untimed: counted, not in the histogram

	mfs := scrape(t, r)
	cases := []struct {
		code string
		want float64
	}{{"200", 2}, {"404", 1}, {"599", 1}}
	for _, c := range cases {
		m := find(mfs, "forge_http_requests_total", map[string]string{"method": "POST", "route": "/api/db/{db_name}/query", "code": c.code})
		if m == nil || m.GetCounter().GetValue() != c.want {
			t.Errorf("requests code %s = %v, want %v", c.code, m, c.want)
		}
	}
	h := find(mfs, "forge_http_request_duration_seconds", map[string]string{"method": "POST", "route": "/api/db/{db_name}/query"})
	if h == nil {
		t.Fatal("no duration histogram of the query route")
	}
	if got := h.GetHistogram().GetSampleCount(); got != 4 {
		t.Errorf("histogram count = %d, want 4", got)
	}
	if got, want := h.GetHistogram().GetSampleSum(), 0.0034; got < want-1e-9 || got > want+1e-9 {
		t.Errorf("histogram sum = %v, want %v", got, want)
	}
	// 0.0001 and 0.0003 are ≤ 0.0005; 0.001 is ≤ 0.001; 0.002 ≤ 0.0025.
	for _, b := range h.GetHistogram().GetBucket() {
		want := map[float64]uint64{0.0001: 1, 0.00025: 1, 0.0005: 2, 0.001: 3, 0.0025: 4, 30: 4}
		if w, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != w {
			t.Errorf("bucket le=%v = %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
		}
	}
	b := find(mfs, "forge_http_response_body_bytes_total", map[string]string{"method": "POST", "route": "/api/db/{db_name}/query"})
	if b == nil || b.GetCounter().GetValue() != 160 {
		t.Errorf("body bytes = %v, want 160", b)
	}
	root := find(mfs, "forge_http_request_duration_seconds", map[string]string{"method": "GET", "route": "/"})
	if root == nil || root.GetHistogram().GetSampleCount() != 0 {
		t.Errorf("an untimed answer went into the histogram: %v", root)
	}
	if m := find(mfs, "forge_http_requests_total", map[string]string{"method": "GET", "route": "/", "code": "200"}); m == nil || m.GetCounter().GetValue() != 1 {
		t.Errorf("untimed answer not counted: %v", m)
	}
}

func TestStatusOutsideHTTPIsCodeZero(t *testing.T) {
	r := New()
	obs := r.Route("GET", "/x")
	for _, st := range []int{-1, 0, 42, 600, 1 << 20} {
		obs(st, time.Millisecond, 0)
	}
	mfs := scrape(t, r)
	if m := find(mfs, "forge_http_requests_total", map[string]string{"route": "/x", "code": "0"}); m == nil || m.GetCounter().GetValue() != 5 {
		t.Fatalf("code 0 = %v, want 5", m)
	}
	if n := len(mfs["forge_http_requests_total"].GetMetric()); n != 1 {
		t.Errorf("%d series, want 1", n)
	}
}

func TestMethodLabelIsBounded(t *testing.T) {
	cases := map[string]string{
		"GET": "GET", "POST": "POST", "PUT": "PUT", "DELETE": "DELETE", "PATCH": "PATCH",
		"HEAD": "HEAD", "OPTIONS": "OPTIONS", "get": "OTHER", "BREW": "OTHER", "": "OTHER",
		strings.Repeat("X", 1000): "OTHER",
	}
	for in, want := range cases {
		if got := Method(in); got != want {
			t.Errorf("Method(%.20q) = %q, want %q", in, got, want)
		}
	}
}

func TestFuncsInfoAndRuntimeCollectors(t *testing.T) {
	r := New()
	n := 3.0
	r.Gauge("forge_test_gauge", "A gauge.", func() float64 { return n })
	r.Counter("forge_test_total", "A counter.", func() float64 { return 7 })
	r.Info("forge_test_info", "Info.", map[string]string{"backend": "local"})
	n = 4
	mfs := scrape(t, r)
	if m := find(mfs, "forge_test_gauge", nil); m == nil || m.GetGauge().GetValue() != 4 {
		t.Errorf("gauge = %v, want 4 (read at scrape time)", m)
	}
	if mfs["forge_test_total"].GetType() != dto.MetricType_COUNTER || find(mfs, "forge_test_total", nil).GetCounter().GetValue() != 7 {
		t.Errorf("counter = %v", mfs["forge_test_total"])
	}
	if m := find(mfs, "forge_test_info", map[string]string{"backend": "local"}); m == nil || m.GetGauge().GetValue() != 1 {
		t.Errorf("info = %v", m)
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if mfs[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	for name, mf := range mfs {
		if mf.GetHelp() == "" {
			t.Errorf("%s has no HELP", name)
		}
	}
}

// Concurrent recording of new statuses and scrapes: run with -race.
func TestConcurrentRecordingAndScrapes(t *testing.T) {
	r := New()
	obs := r.Route("POST", "/q")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				obs(200+(g+i)%5, time.Microsecond, 1)
			}
		}()
	}
	for range 20 {
		var buf bytes.Buffer
		if err := r.WriteText(&buf); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	mfs := scrape(t, r)
	total := 0.0
	for _, m := range mfs["forge_http_requests_total"].GetMetric() {
		total += m.GetCounter().GetValue()
	}
	if total != 8000 {
		t.Fatalf("counted %v, want 8000", total)
	}
}
