package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Request is one request the load generator sends. A Source hands out
// shared, precomputed Requests: their fields must not change while a load
// runs.
type Request struct {
	Method string
	Path   string // path and query, "/api/db/bench/query"
	Body   []byte
	Want   int // the expected status; any other counts as an error
	// Auth, if set, is the request's Authorization header ("Bearer
	// <key>", a database's own key, say) instead of the Load's Bearer.
	Auth string
}

// Source picks the next request of one worker; it is called only from that
// worker's goroutine, with that worker's random source.
type Source func(r *rand.Rand) *Request

// Load is one closed-loop run: Conns workers, each with one connection and
// one request in flight at a time, for Duration (or until Requests requests
// have been measured), after Warmup.
type Load struct {
	Name      string        // shown in the progress line
	Addr      string        // host:port, on the loopback
	Conns     int           // workers and connections; default 1
	Duration  time.Duration // measured time; or, when 0,
	Requests  int64         // measured requests
	Warmup    time.Duration // requests before the measured part, not recorded
	Timeout   time.Duration // per request; default 30s
	NewSource func(worker int) Source
	Bearer    string    // if set, every request carries "Authorization: Bearer <Bearer>"
	Seed      uint64    // random seed of worker 0 (worker i uses Seed+i)
	Progress  io.Writer // progress lines while it runs; nil for none
	// OnMeasure, if set, is called when the measured part starts and again
	// when it ends (to sample the server's CPU time, say).
	OnMeasure func(start bool)
}

// Result is what a run measured. Latencies are of the successful requests
// only: a refusal (a 429 answered in microseconds) or a timeout would
// otherwise pull the percentiles of the work that was done down or up.
// Failed requests are counted apart, by status.
type Result struct {
	Requests   int64            `json:"requests"`         // measured requests, errors included
	OK         int64            `json:"ok"`               // of which with the expected status
	Errors     map[string]int64 `json:"errors,omitempty"` // the others, by status ("503"), or "transport"
	FirstError string           `json:"first_error,omitempty"`
	Seconds    float64          `json:"seconds"`
	Throughput float64          `json:"throughput"` // OK requests per second
	Latency    Latency          `json:"latency"`    // of the OK requests only
	Hist       *Histogram       `json:"-"`          // of the OK requests only
}

// ErrorCount is the number of requests that did not get their expected status.
func (r Result) ErrorCount() int64 {
	var n int64
	for _, c := range r.Errors {
		n += c
	}
	return n
}

const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

type worker struct {
	hist     Histogram
	ok       int64
	errors   map[string]int64
	firstErr string
}

// Run drives the load and returns its measurements. It stops early, with
// what it measured so far, when ctx ends.
func (l Load) Run(ctx context.Context) (Result, error) {
	if l.NewSource == nil || l.Addr == "" {
		return Result{}, errors.New("load: Addr and NewSource are required")
	}
	if l.Duration <= 0 && l.Requests <= 0 {
		return Result{}, errors.New("load: a Duration or a Requests count is required")
	}
	conns := max(l.Conns, 1)
	timeout := l.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	client := &fasthttp.HostClient{
		Addr:                l.Addr,
		MaxConns:            conns,
		ReadTimeout:         timeout,
		WriteTimeout:        timeout,
		MaxIdleConnDuration: time.Minute,
		MaxResponseBodySize: 64 << 20,
	}
	defer client.CloseIdleConnections()

	var (
		phase    atomic.Int32
		measured atomic.Int64 // requests started in the measured phase
		done     atomic.Int64 // requests finished in the measured phase
		failed   atomic.Int64
		wg       sync.WaitGroup
	)
	if l.Warmup <= 0 {
		phase.Store(phaseMeasure)
	}
	auth := ""
	if l.Bearer != "" {
		auth = "Bearer " + l.Bearer
	}
	workers := make([]*worker, conns)
	for i := range workers {
		w := &worker{errors: map[string]int64{}}
		workers[i] = w
		src := l.NewSource(i)
		rng := rand.New(rand.NewPCG(l.Seed+uint64(i), 0x9e3779b97f4a7c15))
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			sent := "" // the Authorization header req carries
			for {
				p := phase.Load()
				if p == phaseStop {
					return
				}
				if p == phaseMeasure && l.Requests > 0 && measured.Add(1) > l.Requests {
					phase.Store(phaseStop)
					return
				}
				r := src(rng)
				req.Header.SetMethod(r.Method)
				// Request.SetRequestURI, not Header.SetRequestURI: the client parses
				// the URI of a request once and writes that parsed URI from then
				// on, so the header alone would send every request to the path of
				// the worker's first one.
				req.SetRequestURI(r.Path)
				req.Header.SetHost(l.Addr)
				if want := cmp.Or(r.Auth, auth); want != sent {
					req.Header.Set("Authorization", want)
					sent = want
				}
				if len(r.Body) > 0 {
					req.Header.SetContentType("application/json")
					req.SetBodyRaw(r.Body)
				} else {
					req.ResetBody()
				}
				start := time.Now()
				err := client.Do(req, resp)
				lat := time.Since(start)
				if p != phaseMeasure {
					if err != nil {
						time.Sleep(time.Millisecond)
					}
					continue
				}
				done.Add(1)
				switch {
				case err != nil:
					w.errors["transport"]++
					if w.firstErr == "" {
						w.firstErr = err.Error()
					}
					failed.Add(1)
					time.Sleep(time.Millisecond) // do not spin on a dead server
				case resp.StatusCode() != r.Want:
					w.errors[strconv.Itoa(resp.StatusCode())]++
					if w.firstErr == "" {
						w.firstErr = fmt.Sprintf("%s %s: %d %.200s", r.Method, r.Path, resp.StatusCode(), resp.Body())
					}
					failed.Add(1)
				default:
					w.ok++
					w.hist.Record(lat) // successes only: errors are counted apart
				}
			}
		}()
	}

	stopProgress := l.startProgress(&phase, &done, &failed)
	var measureStart time.Time
	wait := func(d time.Duration) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	if l.Warmup > 0 {
		wait(l.Warmup)
		phase.CompareAndSwap(phaseWarmup, phaseMeasure)
	}
	measureStart = time.Now()
	if l.OnMeasure != nil {
		l.OnMeasure(true)
	}
	if l.Duration > 0 {
		wait(l.Duration)
		phase.Store(phaseStop)
	} else {
		go func() {
			<-ctx.Done()
			phase.Store(phaseStop)
		}()
	}
	wg.Wait()
	elapsed := time.Since(measureStart)
	if l.OnMeasure != nil {
		l.OnMeasure(false)
	}
	stopProgress()

	res := Result{Errors: map[string]int64{}, Hist: &Histogram{}, Seconds: elapsed.Seconds()}
	for _, w := range workers {
		res.Hist.Merge(&w.hist)
		res.OK += w.ok
		for k, v := range w.errors {
			res.Errors[k] += v
		}
		if res.FirstError == "" {
			res.FirstError = w.firstErr
		}
	}
	if len(res.Errors) == 0 {
		res.Errors = nil
	}
	res.Requests = res.OK + res.ErrorCount()
	if res.Seconds > 0 {
		res.Throughput = float64(res.OK) / res.Seconds
	}
	res.Latency = res.Hist.Summary()
	return res, ctx.Err()
}

// startProgress prints a line a second while the load runs: on a terminal
// it rewrites one line, elsewhere it appends lines.
func (l Load) startProgress(phase *atomic.Int32, done, failed *atomic.Int64) (stop func()) {
	if l.Progress == nil {
		return func() {}
	}
	tty := isTerminal(l.Progress)
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		start := time.Now()
		var last int64
		for {
			select {
			case <-quit:
				if tty {
					fmt.Fprint(l.Progress, "\r\033[K")
				}
				return
			case <-tick.C:
			}
			n := done.Load()
			what := "measuring"
			if phase.Load() == phaseWarmup {
				what = "warming up"
			}
			line := fmt.Sprintf("  %-34s %-10s %5.1fs %9d req %9.0f req/s %6d errors",
				l.Name, what, time.Since(start).Seconds(), n, float64(n-last), failed.Load())
			last = n
			if tty {
				fmt.Fprint(l.Progress, "\r\033[K"+line)
			} else {
				fmt.Fprintln(l.Progress, line)
			}
		}
	}()
	return func() {
		close(quit)
		<-finished
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Merge adds o, a later slice of the same load, to r: counts and histograms
// add up, throughput is recomputed over the summed measured time.
func (r *Result) Merge(o Result) {
	r.Requests += o.Requests
	r.OK += o.OK
	r.Seconds += o.Seconds
	for k, v := range o.Errors {
		if r.Errors == nil {
			r.Errors = map[string]int64{}
		}
		r.Errors[k] += v
	}
	if r.FirstError == "" {
		r.FirstError = o.FirstError
	}
	if r.Hist == nil {
		r.Hist = &Histogram{}
	}
	if o.Hist != nil {
		r.Hist.Merge(o.Hist)
	}
	if r.Seconds > 0 {
		r.Throughput = float64(r.OK) / r.Seconds
	}
	r.Latency = r.Hist.Summary()
}
