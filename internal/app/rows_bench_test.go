package app

import (
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

func benchRowsPage(b *testing.B, catExpr string) {
	srv, authz := benchServer(b, zap.NewNop(), false, true)
	h := srv.Handler()
	const rows, perCat = 1_000_000, 100
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
	var point, page, sql50 time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		send("POST", "/api/db/bench/query", fmt.Appendf(nil, `{"sql":"SELECT * FROM big WHERE id = ?","params":[%d]}`, 1+rand.IntN(rows)))
		t1 := time.Now()
		send("GET", fmt.Sprintf("/api/db/bench/tables/big/rows?cat=%d&_size=50", rand.IntN(rows/perCat)), nil)
		t2 := time.Now()
		// The same page as SQL through /query: what the REST face adds.
		send("POST", "/api/db/bench/query", fmt.Appendf(nil, `{"sql":"SELECT * FROM big WHERE cat = ? ORDER BY rowid LIMIT 50","params":[%d]}`, rand.IntN(rows/perCat)))
		sql50 += time.Since(t2)
		page += t2.Sub(t1)
		point += t1.Sub(t0)
	}
	n := float64(b.N)
	b.ReportMetric(float64(point.Nanoseconds())/n, "ns/point")
	b.ReportMetric(float64(page.Nanoseconds())/n, "ns/page")
	b.ReportMetric(float64(sql50.Nanoseconds())/n, "ns/sql50")
	b.ReportMetric(float64(page)/float64(point), "page/point")
	b.ReportMetric(float64(page)/float64(sql50), "page/sql50")
}
