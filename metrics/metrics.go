// Package metrics is DB-Forge's adapter to Prometheus: the HTTP metrics of
// the gateway, the engine's and the backend's counters, and the Go runtime
// and process collectors, in one registry exposed in the Prometheus text
// format (GET /metrics). Prometheus types stop here: the gateway sees a
// func per route and an io.Writer, internal/app hands plain funcs over.
//
// Labels are bounded by construction: a route is its pattern (never the
// raw path, so never a database name), a method outside the usual few is
// OTHER, and a status is one of the codes the gateway answers.
package metrics

import (
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
)

// ContentType is the media type of WriteText's output.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// LatencyBuckets are the request-duration histogram's upper bounds, in
// seconds: from 100 µs (a point SELECT) to 30 s (the longest query
// timeout by default).
var LatencyBuckets = []float64{
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
}

// Registry holds every metric of one gateway process.
type Registry struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	bytes    *prometheus.CounterVec
}

// New makes a registry with the HTTP metrics and the Go runtime and
// process collectors.
func New() *Registry {
	r := &Registry{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "forge_http_requests_total",
			Help: "HTTP requests answered, by method, route pattern and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "forge_http_request_duration_seconds",
			Help:    "Time from a request's arrival in the handler to its answer, by method and route pattern.",
			Buckets: LatencyBuckets,
		}, []string{"method", "route"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "forge_http_response_body_bytes_total",
			Help: "Bytes of response bodies, by method and route pattern.",
		}, []string{"method", "route"}),
	}
	r.reg.MustRegister(r.requests, r.duration, r.bytes,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Method is the method label of m: the usual methods as themselves, any
// other as OTHER, so that a client cannot grow the label set.
func Method(m string) string {
	switch m {
	case "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS":
		return m
	}
	return "OTHER"
}

// Route returns the recorder of one route, made once when the route is
// registered: each call counts one answer with its status, its duration
// (d < 0: not timed, not in the histogram) and its body's size. It costs no map lookup of labels per request but
// the first of each status.
func (r *Registry) Route(method, pattern string) func(status int, d time.Duration, bodyBytes int) {
	method = Method(method)
	hist := r.duration.WithLabelValues(method, pattern)
	bytes := r.bytes.WithLabelValues(method, pattern)
	codes := &codeCounters{vec: r.requests, method: method, route: pattern}
	return func(status int, d time.Duration, bodyBytes int) {
		codes.get(status).Inc()
		if d >= 0 {
			hist.Observe(d.Seconds())
		}
		bytes.Add(float64(bodyBytes))
	}
}

// codeCounters are one route's request counters by status, in a map that
// is copied on write: statuses are few, and reads take no lock.
type codeCounters struct {
	vec           *prometheus.CounterVec
	method, route string
	m             atomic.Pointer[map[int]prometheus.Counter]
	mu            sync.Mutex
}

func (c *codeCounters) get(status int) prometheus.Counter {
	if m := c.m.Load(); m != nil {
		if ctr, ok := (*m)[status]; ok {
			return ctr
		}
	}
	if status < 100 || status > 599 {
		status = 0 // never a label fasthttp did not send
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if ctr, ok := (*old)[status]; ok {
			return ctr
		}
	}
	next := make(map[int]prometheus.Counter, 1+lenOf(old))
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	ctr := c.vec.WithLabelValues(c.method, c.route, strconv.Itoa(status))
	next[status] = ctr
	c.m.Store(&next)
	return ctr
}

func lenOf(m *map[int]prometheus.Counter) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

// Gauge registers a gauge whose value fn gives at each scrape. fn must be
// safe to call from any goroutine and quick.
func (r *Registry) Gauge(name, help string, fn func() float64) {
	r.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn))
}

// Counter registers a counter whose value fn gives at each scrape; the
// value must never go down.
func (r *Registry) Counter(name, help string, fn func() float64) {
	r.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, fn))
}

// Info registers a gauge of constant value 1 whose labels are the
// information, as Prometheus's *_info convention has it.
func (r *Registry) Info(name, help string, labels map[string]string) {
	r.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels},
		func() float64 { return 1 }))
}

// WriteText writes every metric in the Prometheus text format.
func (r *Registry) WriteText(w io.Writer) error {
	mfs, err := r.reg.Gather()
	if err != nil {
		return err
	}
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
			return err
		}
	}
	return nil
}

// Functions returns the recorder of function calls (package functions):
// calls by database, function and outcome (the error code, "ok" for a
// success), and their durations. Labels are bounded by the functions a
// database may have (FORGE_FUNCTION_MAX_PER_DB); a deleted function's
// series stay until the process restarts.
func (r *Registry) Functions() func(db, name, code string, d time.Duration) {
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "forge_function_calls_total",
		Help: "Function calls, by database, function and outcome (ok, FUNCTION_ERROR for the function's own 4xx/5xx, or the call's error code).",
	}, []string{"db", "function", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "forge_function_call_duration_seconds",
		Help:    "Time of a function call, its transaction's commit included, by database and function.",
		Buckets: LatencyBuckets,
	}, []string{"db", "function"})
	r.reg.MustRegister(calls, duration)
	return func(db, name, code string, d time.Duration) {
		if code == "" {
			code = "ok"
		}
		calls.WithLabelValues(db, name, code).Inc()
		duration.WithLabelValues(db, name).Observe(d.Seconds())
	}
}
