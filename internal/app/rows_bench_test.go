package app

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// BenchmarkRowsPage: issue 12's speed goal, measured in one run. A rows
// GET with a filter on an indexed column and _size=50 (a page of 50 rows
// of 1,000,000, with its next token) against a point SELECT through
// /query, on the same table, one request at a time, the two interleaved
// so that the machine's noise falls on both alike. Reports each one's
// latency and their ratio (page/point; the goal is at most 2).
//
// Two layouts of the filter column, 100 rows per value: clustered (a
// value's rows were inserted together, as an owner's or a day's rows
// are: a page reads one or two leaf pages) and scattered (value i % 10000:
// each of a page's rows sits on its own leaf page, fifty B-tree descents
// against the point SELECT's one).
func BenchmarkRowsPage(b *testing.B) {
	for _, layout := range []struct{ name, expr string }{{"clustered", "(i - 1) / 100"}, {"scattered", "i % 10000"}} {
		b.Run(layout.name, func(b *testing.B) { benchRowsPage(b, layout.expr) })
	}
}

// For counting instructions under valgrind, where filling a million rows
// takes minutes: a smaller table, and one kind of request alone
// (point, page or sql50; all three by default).
var (
	rowsPageRows = flag.Int("rowspage.rows", 1_000_000, "BenchmarkRowsPage: rows in the table (a multiple of 25,000)")
	rowsPageOnly = flag.String("rowspage.only", "", "BenchmarkRowsPage: send only this kind of request: point, page or sql50")
)

func benchRowsPage(b *testing.B, catExpr string) {
	srv, authz := benchServer(b, zap.NewNop(), false, true)
	h := srv.Handler()
	rows, perCat := *rowsPageRows, 100
	only := *rowsPageOnly
	if only != "" && only != "point" && only != "page" && only != "sql50" {
		b.Fatalf("-rowspage.only=%q: point, page or sql50", only)
	}
	do(b, h, "POST", "/api/db/bench/query", `{"sql":"CREATE TABLE big (id INTEGER PRIMARY KEY, cat INTEGER, name TEXT, score REAL)"}`, authz, 200)
	for lo := 0; lo < rows; lo += 25_000 {
		do(b, h, "POST", "/api/db/bench/query", fmt.Sprintf(`{"sql":"WITH RECURSIVE n(i) AS (SELECT %d UNION ALL SELECT i+1 FROM n WHERE i < %d) INSERT INTO big SELECT i, %s, 'name-' || i, i * 0.5 FROM n"}`,
			lo+1, lo+25_000, catExpr), authz, 200)
	}
	do(b, h, "POST", "/api/db/bench/query", `{"sql":"CREATE INDEX big_cat ON big(cat)"}`, authz, 200)

	var ctx fasthttp.RequestCtx
	send := func(method, uri string, body []byte) {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod(method)
		ctx.Request.SetRequestURI(uri)
		ctx.Request.SetBody(body)
		h(&ctx)
		if ctx.Response.StatusCode() != 200 {
			b.Fatalf("%s %s: %d %s", method, uri, ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
	// The page answers 50 rows and a next token.
	send("GET", "/api/db/bench/tables/big/rows?cat=7&_size=50", nil)
	if body := string(ctx.Response.Body()); len(ctx.Response.Header.Peek("X-Next")) == 0 || len(body) < 50*40 {
		b.Fatalf("page: %s", body)
	}
	// Wall time and the process's CPU time (getrusage) of each kind of
	// request: the requests run one at a time on this goroutine, so the
	// CPU time between two reads is that request's (and the collector's
	// share), whatever else the machine runs.
	var point, page, sql50, cpoint, cpage, csql50 time.Duration
	b.ReportAllocs()
	for b.Loop() {
		pointBody := fmt.Appendf(nil, `{"sql":"SELECT * FROM big WHERE id = ?","params":[%d]}`, 1+rand.IntN(rows))
		pageURI := fmt.Sprintf("/api/db/bench/tables/big/rows?cat=%d&_size=50", rand.IntN(rows/perCat))
		sqlBody := fmt.Appendf(nil, `{"sql":"SELECT * FROM big WHERE cat = ? ORDER BY rowid LIMIT 50","params":[%d]}`, rand.IntN(rows/perCat))
		c0, t0 := cpuTime(), time.Now()
		if only == "" || only == "point" {
			send("POST", "/api/db/bench/query", pointBody)
		}
		c1, t1 := cpuTime(), time.Now()
		if only == "" || only == "page" {
			send("GET", pageURI, nil)
		}
		c2, t2 := cpuTime(), time.Now()
		// The same page as SQL through /query: what the REST face adds.
		if only == "" || only == "sql50" {
			send("POST", "/api/db/bench/query", sqlBody)
		}
		c3, t3 := cpuTime(), time.Now()
		point, page, sql50 = point+t1.Sub(t0), page+t2.Sub(t1), sql50+t3.Sub(t2)
		cpoint, cpage, csql50 = cpoint+c1-c0, cpage+c2-c1, csql50+c3-c2
	}
	n := float64(b.N)
	b.ReportMetric(float64(point.Nanoseconds())/n, "ns/point")
	b.ReportMetric(float64(page.Nanoseconds())/n, "ns/page")
	b.ReportMetric(float64(sql50.Nanoseconds())/n, "ns/sql50")
	b.ReportMetric(float64(page)/float64(point), "page/point")
	b.ReportMetric(float64(page)/float64(sql50), "page/sql50")
	b.ReportMetric(float64(cpoint.Nanoseconds())/n, "cpu-ns/point")
	b.ReportMetric(float64(cpage.Nanoseconds())/n, "cpu-ns/page")
	b.ReportMetric(float64(csql50.Nanoseconds())/n, "cpu-ns/sql50")
	b.ReportMetric(float64(cpage)/float64(cpoint), "cpu-page/point")
	b.ReportMetric(float64(cpage)/float64(csql50), "cpu-page/sql50")
}
