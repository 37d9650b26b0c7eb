package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/praetorian/db-forge/forge"
)

// instancesOrch lists a fixed set of instances, in no particular order.
type instancesOrch struct {
	fakeOrch
	insts []forge.Instance
}

func (o instancesOrch) List(context.Context) ([]forge.Instance, error) {
	return append([]forge.Instance(nil), o.insts...), nil
}

type fakeDetails struct{}

func (fakeDetails) Details(_ context.Context, name string) (DatabaseDetails, error) {
	if name == "ghost" {
		return DatabaseDetails{}, forge.ErrDatabaseNotFound
	}
	return DatabaseDetails{FileBytes: 4096, WALBytes: 100, Tables: 3,
		LastUsedAt: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}, nil
}

func get(t testing.TB, h fasthttp.RequestHandler, uri string) (int, string, *fasthttp.ResponseHeader) {
	t.Helper()
	var rc fasthttp.RequestCtx
	rc.Request.Header.SetMethod("GET")
	rc.Request.SetRequestURI(uri)
	h(&rc)
	checkDocumented(t, &rc)
	return rc.Response.StatusCode(), string(rc.Response.Body()), &rc.Response.Header
}

func names(t *testing.T, body string) []string {
	t.Helper()
	var list []struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	out := []string{}
	for _, in := range list {
		out = append(out, in.Name)
	}
	return out
}

// TestListFiltersAndPages: the seed's array, sorted, filtered by status
// and prefix, paged by limit and after with the cursor in headers; every
// hostile query refused.
func TestListFiltersAndPages(t *testing.T) {
	var insts []forge.Instance
	for i := 9; i >= 0; i-- { // out of order
		st := "running"
		if i%3 == 0 {
			st = "exited"
		}
		insts = append(insts, forge.Instance{Name: fmt.Sprintf("db%d", i), Status: st})
	}
	insts = append(insts, forge.Instance{Name: "other", Status: "running"})
	h := New(Options{}, exclusiveEngine{}, instancesOrch{insts: insts}, zap.NewNop()).Handler()

	status, body, hdr := get(t, h, "/admin/databases")
	if status != 200 || strings.Join(names(t, body), ",") != "db0,db1,db2,db3,db4,db5,db6,db7,db8,db9,other" ||
		len(hdr.Peek("X-Next-Cursor")) != 0 {
		t.Fatalf("all: %d %s", status, body)
	}
	if !strings.HasPrefix(body, `[{"name":"db0","container_id":"","status":"exited"}`) {
		t.Errorf("not the seed's shape: %s", body)
	}
	for _, tc := range []struct{ uri, want, next string }{
		{"/admin/databases?status=exited", "db0,db3,db6,db9", ""},
		{"/admin/databases?prefix=db&status=running", "db1,db2,db4,db5,db7,db8", ""},
		{"/admin/databases?limit=4", "db0,db1,db2,db3", "db3"},
		{"/admin/databases?limit=4&after=db3", "db4,db5,db6,db7", "db7"},
		{"/admin/databases?limit=4&after=db7", "db8,db9,other", ""},
		{"/admin/databases?limit=2&after=db1&prefix=db&status=running", "db2,db4", "db4"},
		{"/admin/databases?prefix=nothing", "", ""},
		{"/admin/databases?limit=3&after=zzz", "", ""},
	} {
		status, body, hdr := get(t, h, tc.uri)
		if status != 200 || strings.Join(names(t, body), ",") != tc.want || string(hdr.Peek("X-Next-Cursor")) != tc.next {
			t.Errorf("%s: %d %s next %q; want %s next %q", tc.uri, status, body, hdr.Peek("X-Next-Cursor"), tc.want, tc.next)
		}
		link := string(hdr.Peek("Link"))
		if (tc.next == "") != (link == "") || tc.next != "" && !strings.Contains(link, "after="+tc.next) {
			t.Errorf("%s: Link %q", tc.uri, link)
		}
	}
	// Following Link pages through everything once.
	var all []string
	uri := "/admin/databases?limit=3&prefix=db"
	for uri != "" {
		_, body, hdr := get(t, h, uri)
		all = append(all, names(t, body)...)
		link := string(hdr.Peek("Link"))
		uri = ""
		if link != "" {
			uri = strings.TrimPrefix(strings.SplitN(link, ">", 2)[0], "<")
		}
	}
	if strings.Join(all, ",") != "db0,db1,db2,db3,db4,db5,db6,db7,db8,db9" {
		t.Errorf("paging by Link: %v", all)
	}
	for _, uri := range []string{
		"/admin/databases?limit=0", "/admin/databases?limit=1001", "/admin/databases?limit=x",
		"/admin/databases?limit=-1", "/admin/databases?after=db1", "/admin/databases?nope=1",
		"/admin/databases?status=a&status=b", "/admin/databases?prefix=%00", "/admin/databases?prefix=%ff",
		"/admin/databases?prefix=" + strings.Repeat("a", 257), "/admin/databases?limit=99999999999999999999",
	} {
		status, body, _ := get(t, h, uri)
		if code, _ := errorCodeOf([]byte(body)); status != 400 || code != CodeInvalidValue {
			t.Errorf("%s: %d %s", uri, status, body)
		}
	}
}

// TestDatabaseDetails: one database's answer, a pruned one's, a missing one.
func TestDatabaseDetails(t *testing.T) {
	created := time.Date(2026, 11, 27, 8, 35, 55, 0, time.UTC)
	orch := instancesOrch{insts: []forge.Instance{{Name: "a", ContainerID: "c1", Status: "running", CreatedAt: created}}}
	h := New(Options{Details: fakeDetails{}}, exclusiveEngine{}, orch, zap.NewNop()).Handler()
	for _, tc := range []struct {
		uri    string
		status int
		body   string
	}{
		{"/admin/databases/a", 200, `{"name":"a","status":"running","container_id":"c1","created_at":"2026-11-27T08:35:55Z",` +
			`"last_used_at":"2026-11-30T12:00:00Z","size_bytes":4196,"file_bytes":4096,"wal_bytes":100,"tables":3,"expires_at":null}`},
		{"/admin/databases/pruned", 200, `{"name":"pruned","status":"pruned","container_id":null,"created_at":null,` +
			`"last_used_at":"2026-11-30T12:00:00Z","size_bytes":4196,"file_bytes":4096,"wal_bytes":100,"tables":3,"expires_at":null}`},
		{"/admin/databases/ghost", 404, ""},
		{"/admin/databases/a..b", 400, ""},
	} {
		status, body, _ := get(t, h, tc.uri)
		if status != tc.status || tc.body != "" && body != tc.body {
			t.Errorf("%s: %d %s\nwant %d %s", tc.uri, status, body, tc.status, tc.body)
		}
	}
}

// FuzzBindList: any query string of the list is a request whose values
// are within their bounds, or a 400 INVALID_VALUE; never a crash.
func FuzzBindList(f *testing.F) {
	for _, s := range []string{"", "status=running", "prefix=db&limit=10&after=db3", "limit=0", "limit=1001",
		"after=x", "a=1", "limit=5&limit=6", "prefix=%00", "prefix=%ff%fe", "limit=%2B5", "limit=05"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, query string) {
		var rc fasthttp.RequestCtx
		rc.Request.SetRequestURI("/admin/databases?" + query)
		req, err := bindList(&rc)
		if err != nil {
			if ae := toAPIError(err); ae.status != fasthttp.StatusBadRequest || ae.code != CodeInvalidValue {
				t.Fatalf("%q: %v → %d %s", query, err, ae.status, ae.code)
			}
			return
		}
		if req.limit < 0 || req.limit > maxListLimit || req.after != "" && req.limit == 0 {
			t.Fatalf("%q: accepted %+v", query, req)
		}
		for _, v := range []string{req.status, req.prefix, req.after} {
			if len(v) > 256 || strings.IndexByte(v, 0) >= 0 || !utf8.ValidString(v) {
				t.Fatalf("%q: accepted value %q", query, v)
			}
		}
	})
}

// BenchmarkList10k: the list of 10,000 instances, whole (the seed's
// answer) and one page of 100 past the middle.
func BenchmarkList10k(b *testing.B) {
	insts := make([]forge.Instance, 10000)
	for i := range insts {
		insts[i] = forge.Instance{Name: fmt.Sprintf("agent-%05d", (i*7919)%10000), Status: "running",
			CreatedAt: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)}
	}
	h := New(Options{}, exclusiveEngine{}, instancesOrch{insts: insts}, zap.NewNop()).Handler()
	for _, uri := range []string{"/admin/databases", "/admin/databases?limit=100&after=agent-05000"} {
		b.Run(uri, func(b *testing.B) {
			var rc fasthttp.RequestCtx
			for b.Loop() {
				rc.Request.Reset()
				rc.Response.Reset()
				rc.Request.SetRequestURI(uri)
				h(&rc)
				if rc.Response.StatusCode() != 200 {
					b.Fatal(rc.Response.StatusCode())
				}
			}
			b.ReportMetric(float64(len(rc.Response.Body())), "body_bytes")
		})
	}
}
