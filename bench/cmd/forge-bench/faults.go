package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/bench"
)

// Fault scenarios (issue 10): what the gateway answers when a deadline
// lands at the worst moment, and how long a write waits while a long read
// runs on its database. They measure truthfulness and waiting, not speed:
// their figures are counts and worst cases.
const (
	scnTruth    = "timeout-truth"
	scnLongRead = "write-during-long-read"
)

// faults runs the two fault scenarios, each on a gateway of its own.
func (b *bencher) faults(ctx context.Context) error {
	if b.want("truth") {
		// FULL makes each commit wait for fsync: the window in which a
		// deadline can pass after the commit is widest there.
		for _, s := range []struct{ batch, sync string }{{"1", "NORMAL"}, {"1", "FULL"}, {"64", "FULL"}} {
			if err := b.timeoutTruth(ctx, s.batch, s.sync); err != nil {
				return err
			}
			b.stopAll()
		}
	}
	if b.want("longread") {
		if err := b.longRead(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (b *bencher) faultGateway(ctx context.Context, name string, env map[string]string) (*proc, error) {
	gw, _, err := startGateway(ctx, gatewayOpts{bin: b.bin("forge-gateway"), dataDir: b.path(name),
		cacheDir: b.cfg.cacheDir, logLevel: b.cfg.logLevel, logPath: b.path(name + ".log"), env: env})
	if err != nil {
		return nil, err
	}
	b.procs = append(b.procs, gw)
	return gw, nil
}

// timeoutTruth: 32 writers insert rows with unique ids, each request with
// an X-Query-Timeout of 1 to 5 ms, for a fixed count; then every answer is
// checked against the table. A 504 must mean the row is absent, a 200 that
// it is present.
func (b *bencher) timeoutTruth(ctx context.Context, batch, syncMode string) error {
	name := scnTruth + " batch=" + batch + " synchronous=" + syncMode
	b.section(name)
	gw, err := b.faultGateway(ctx, "truth-"+batch+"-"+syncMode, map[string]string{"FORGE_WRITE_BATCH": batch, "FORGE_SYNCHRONOUS": syncMode})
	if err != nil {
		return err
	}
	c := newClient(gw.addr)
	c.MaxConns = 64
	defer c.CloseIdleConnections()
	const q = "/api/db/truth/query"
	if _, err := retry(c, "POST", "/admin/databases/spawn/truth", nil); err != nil {
		return err
	}
	if _, err := retry(c, "POST", q, []byte(`{"sql":"CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)"}`)); err != nil {
		return err
	}
	n := 20000
	if b.cfg.name == "full" {
		n = 60000
	}
	status := make([]int, n+1)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for ctx.Err() == nil {
				id := int(next.Add(1))
				if id > n {
					return
				}
				req.Reset()
				req.Header.SetMethod("POST")
				req.Header.SetRequestURI(q)
				req.Header.SetHost(c.Addr)
				setBearer(req)
				req.Header.Set("X-Query-Timeout", strconv.Itoa(1+(id+w)%5))
				req.Header.SetContentType("application/json")
				req.SetBodyRaw(fmt.Appendf(nil, `{"sql":"INSERT INTO t(id, v) VALUES (?, randomblob(64))","params":[%d]}`, id))
				if err := c.Do(req, resp); err != nil {
					status[id] = -1
					continue
				}
				status[id] = resp.StatusCode()
			}
		}()
	}
	wg.Wait()
	present, err := presentIDs(c, q)
	if err != nil {
		return err
	}
	var ok, timedOut, other, lies200, lies504 int
	for id := 1; id <= n; id++ {
		switch status[id] {
		case 200:
			ok++
			if !present[id] {
				lies200++
			}
		case 504:
			timedOut++
			if present[id] {
				lies504++
			}
		default:
			other++
		}
	}
	b.figure(name+": 504 answers whose row was written", float64(lies504), "rows",
		fmt.Sprintf("of %d answered 504 QUERY_TIMEOUT; %d answered 200 (%d of them absent), %d other; X-Query-Timeout 1-5 ms, 32 writers",
			timedOut, ok, lies200, other))
	return nil
}

// presentIDs reads every id of table t.
func presentIDs(c *fasthttp.HostClient, q string) (map[int]bool, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod("POST")
	req.Header.SetRequestURI(q)
	req.Header.SetHost(c.Addr)
	setBearer(req)
	req.Header.SetContentType("application/json")
	req.SetBodyRaw([]byte(`{"sql":"SELECT id FROM t"}`))
	if err := c.Do(req, resp); err != nil {
		return nil, err
	}
	if resp.StatusCode() != 200 {
		return nil, fmt.Errorf("SELECT id: status %d: %s", resp.StatusCode(), resp.Body())
	}
	var body struct {
		Rows [][]int `json:"rows"`
		Data []struct {
			ID int `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(resp.Body(), &body); err != nil {
		return nil, fmt.Errorf("SELECT id: %w", err)
	}
	out := make(map[int]bool, len(body.Rows)+len(body.Data))
	for _, r := range body.Rows {
		out[r[0]] = true
	}
	for _, d := range body.Data {
		out[d.ID] = true
	}
	return out, nil
}

// longRead: on a database no request has read from yet (so no reader is
// open), one client runs a read of about 8 s while 8 others write to the
// same database for as long as it runs. Reported: writes answered, the
// worst write latency, and timeouts.
func (b *bencher) longRead(ctx context.Context) error {
	b.section(scnLongRead)
	gw, err := b.faultGateway(ctx, "longread", nil)
	if err != nil {
		return err
	}
	c := newClient(gw.addr)
	defer c.CloseIdleConnections()
	const q = "/api/db/lr/query"
	if _, err := retry(c, "POST", "/admin/databases/spawn/lr", nil); err != nil {
		return err
	}
	if _, err := retry(c, "POST", q, []byte(`{"sql":"CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)"}`)); err != nil {
		return err
	}
	readDone := make(chan struct{})
	readStatus := 0
	var readTook time.Duration
	go func() {
		defer close(readDone)
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetMethod("POST")
		req.Header.SetRequestURI(q)
		req.Header.SetHost(c.Addr)
		setBearer(req)
		req.Header.Set("X-Query-Timeout", "8000")
		req.Header.SetContentType("application/json")
		req.SetBodyRaw([]byte(`{"sql":"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c"}`))
		start := time.Now()
		if err := c.Do(req, resp); err == nil {
			readStatus = resp.StatusCode()
		}
		readTook = time.Since(start)
	}()
	time.Sleep(200 * time.Millisecond) // the read has the writer by now
	var hist bench.Histogram
	var mu sync.Mutex
	var answered, failed atomic.Int64
	var worst atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for {
				select {
				case <-readDone:
					return
				case <-ctx.Done():
					return
				default:
				}
				req.Reset()
				req.Header.SetMethod("POST")
				req.Header.SetRequestURI(q)
				req.Header.SetHost(c.Addr)
				setBearer(req)
				req.Header.SetContentType("application/json")
				req.SetBodyRaw([]byte(`{"sql":"INSERT INTO t(v) VALUES ('w')"}`))
				start := time.Now()
				err := c.Do(req, resp)
				d := time.Since(start)
				if err != nil || resp.StatusCode() != 200 {
					failed.Add(1)
				} else {
					answered.Add(1)
				}
				mu.Lock()
				hist.Record(d)
				mu.Unlock()
				for {
					w := worst.Load()
					if int64(d) <= w || worst.CompareAndSwap(w, int64(d)) {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	<-readDone
	lat := hist.Summary()
	b.figure(scnLongRead+": writes answered during the read", float64(answered.Load()), "writes",
		fmt.Sprintf("8 writers while one read ran %.1f s (status %d); %d writes failed", readTook.Seconds(), readStatus, failed.Load()))
	b.figure(scnLongRead+": worst write latency", float64(worst.Load())/1e6, "ms",
		fmt.Sprintf("p50 %s ms, p99 %s ms", fmtMs(lat.P50), fmtMs(lat.P99)))
	return nil
}
