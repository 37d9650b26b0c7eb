package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/praetorian/db-forge/config"
	"github.com/praetorian/db-forge/internal/contracttest"
)

// TestDatabaseDetailsAndPaging: GET /admin/databases/{db_name} on the real
// engine and data directory, and the list's filters and pages, every
// exchange checked against the document.
func TestDatabaseDetailsAndPaging(t *testing.T) {
	g := start(t, t.TempDir())
	c := g.client()
	for i := range 7 {
		contracttest.Expect(t, c.Do(t, "POST", fmt.Sprintf("/admin/databases/spawn/pg-%d", i), nil), 201, "")
	}
	contracttest.Expect(t, c.Do(t, "POST", "/admin/databases/spawn/other", nil), 201, "")

	// Three tables and a view, rows written: the WAL holds them.
	for _, sql := range []string{"CREATE TABLE a(x)", "CREATE TABLE b(x)", "CREATE TABLE c(x)", "CREATE VIEW v AS SELECT 1",
		"WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM s WHERE x < 500) INSERT INTO a SELECT x FROM s"} {
		contracttest.Expect(t, c.Do(t, "POST", "/api/db/pg-0/query", map[string]string{"sql": sql}), 200, "")
	}
	before := time.Now().Add(-2 * time.Second)
	r := c.Do(t, "GET", "/admin/databases/pg-0", nil)
	contracttest.Expect(t, r, 200, "")
	var d struct {
		Name, Status string
		ContainerID  *string `json:"container_id"`
		CreatedAt    *string `json:"created_at"`
		LastUsedAt   string  `json:"last_used_at"`
		Size         int64   `json:"size_bytes"`
		File         int64   `json:"file_bytes"`
		WAL          int64   `json:"wal_bytes"`
		Tables       int     `json:"tables"`
		Keys         struct{ Total, Active int }
	}
	if err := json.Unmarshal(r.Raw, &d); err != nil {
		t.Fatal(err)
	}
	used, err := time.Parse(time.RFC3339, d.LastUsedAt)
	if d.Name != "pg-0" || d.Status != "running" || d.ContainerID == nil || d.CreatedAt == nil || err != nil ||
		used.Before(before) || d.Tables != 3 || d.File <= 0 || d.Size != d.File+d.WAL || d.Keys.Total != 1 || d.Keys.Active != 1 {
		t.Errorf("details: %s", r.Raw)
	}
	// Pruned: the data stays, the instance does not.
	contracttest.Expect(t, c.Do(t, "POST", "/admin/databases/prune/pg-6", nil), 200, "")
	r = c.Do(t, "GET", "/admin/databases/pg-6", nil)
	contracttest.Expect(t, r, 200, "")
	if !strings.Contains(string(r.Raw), `"status":"pruned","container_id":null`) {
		t.Errorf("pruned: %s", r.Raw)
	}
	contracttest.ExpectError(t, c.Do(t, "GET", "/admin/databases/ghost", nil), 404, "Database not found.")
	contracttest.ExpectError(t, c.Do(t, "GET", "/admin/databases/a..b", nil), 400, "Invalid database name.")

	// Pages of two through the pg- databases (pg-6 was pruned: not listed).
	var got []string
	uri := "/admin/databases?prefix=pg-&limit=2"
	for pages := 0; uri != ""; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		r := c.Do(t, "GET", uri, nil)
		contracttest.Expect(t, r, 200, "")
		var list []struct{ Name string }
		if err := json.Unmarshal(r.Raw, &list); err != nil {
			t.Fatal(err)
		}
		for _, in := range list {
			got = append(got, in.Name)
		}
		uri = ""
		if link := r.Header.Get("Link"); link != "" {
			uri = strings.TrimPrefix(strings.SplitN(link, ">", 2)[0], "<")
			if next := r.Header.Get("X-Next-Cursor"); !strings.Contains(uri, "after="+next) {
				t.Errorf("Link %q and X-Next-Cursor %q disagree", link, next)
			}
		}
	}
	if strings.Join(got, ",") != "pg-0,pg-1,pg-2,pg-3,pg-4,pg-5" {
		t.Errorf("pages: %v", got)
	}
	contracttest.ExpectError(t, c.Do(t, "GET", "/admin/databases?limit=0", nil), 400, "*")
}

// TestCORSOverHTTP: FORGE_CORS_ORIGINS from the environment to the
// answers a browser reads.
func TestCORSOverHTTP(t *testing.T) {
	g := start(t, t.TempDir(), "FORGE_CORS_ORIGINS=https://app.example.com, http://localhost:3000")
	send := func(method, path string, hdr ...string) *http.Response {
		req, _ := http.NewRequest(method, g.url+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := g.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	r := send("OPTIONS", "/api/db/x/query", "Origin", "http://localhost:3000", "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "authorization,content-type,idempotency-key")
	if r.StatusCode != 204 || r.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" ||
		!strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Idempotency-Key") ||
		r.Header.Get("Access-Control-Allow-Methods") != "OPTIONS, POST" {
		t.Errorf("preflight: %d %v", r.StatusCode, r.Header)
	}
	r = send("GET", "/admin/databases", "Origin", "https://app.example.com")
	if r.StatusCode != 401 || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "X-Request-Id") {
		t.Errorf("answer: %d %v", r.StatusCode, r.Header)
	}
	r = send("GET", "/", "Origin", "https://evil.example")
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("another origin allowed: %v", r.Header)
	}

	// A bad origin stops the start.
	for _, bad := range []string{"app.example.com", "https://a.example/path", "ftp://a.example"} {
		if _, err := config.Load(nil, []string{"FORGE_CORS_ORIGINS=" + bad}, io.Discard); err == nil {
			t.Errorf("FORGE_CORS_ORIGINS=%s accepted", bad)
		}
	}
}
