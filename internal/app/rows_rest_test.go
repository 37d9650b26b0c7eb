package app_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/praetorian/db-forge/internal/contracttest"
)

// TestRowsREST: the rows and schema routes of issue 12 through the real
// gateway (HTTP, the guard, the engine): filters, sort, pages, counts,
// formats, PATCH, DELETE, upsert, return, schema, drop; and that the
// seed's answers stay as they were.
func TestRowsREST(t *testing.T) {
	t.Parallel()
	g := start(t, t.TempDir())
	c := g.client()
	rwKey := spawnKey(t, c, "r")
	rw := c.WithKey(rwKey)
	_, roKey := mintKey(t, c, "r", `{"scope": "read-only"}`)
	ro := c.WithKey(roKey)
	contracttest.Expect(t, rw.Do(t, "POST", "/api/db/r/tables", `{"table_name": "tasks", "columns": [
		{"name": "id", "type": "INTEGER", "primary_key": true}, {"name": "title", "type": "TEXT", "not_null": true},
		{"name": "status", "type": "TEXT", "default": "open"}, {"name": "prio", "type": "INTEGER"}]}`), 201, "")
	contracttest.Expect(t, rw.Do(t, "POST", "/api/db/r/tables/tasks/rows", `{"rows": [
		{"title": "a", "prio": 3}, {"title": "b", "status": "done", "prio": 1}, {"title": "c'; DROP TABLE tasks; --", "prio": 2},
		{"title": "d", "prio": null}, {"title": "日本", "status": "done", "prio": 5}]}`), 201,
		`{"message": "Rows inserted successfully.", "rows_affected": 5}`)

	// The seed's answers, exactly.
	contracttest.Expect(t, ro.Do(t, "GET", "/api/db/r/tables/tasks/rows?status=done", nil), 200,
		`{"data": [{"id": 2, "title": "b", "status": "done", "prio": 1}, {"id": 5, "title": "日本", "status": "done", "prio": 5}], "rows_affected": 2}`)
	r := ro.Do(t, "GET", "/api/db/r/tables/tasks/rows", nil)
	if m := r.Body.(map[string]any); len(m) != 2 || len(m["data"].([]any)) != 5 {
		t.Fatalf("GET without paging: %s", r.Raw)
	}

	q := func(params ...string) string {
		v := url.Values{}
		for i := 0; i < len(params); i += 2 {
			v.Add(params[i], params[i+1])
		}
		return "/api/db/r/tables/tasks/rows?" + v.Encode()
	}
	tests := []struct {
		name string
		path string
		want string
	}{
		{"gt and sort desc", q("prio__gt", "1", "_sort_desc", "prio", "_col", "id"),
			`{"data": [{"id": 5}, {"id": 1}, {"id": 3}], "rows_affected": 3}`},
		{"in, JSON array", q("id__in", "[2, 4]", "_col", "title"), `{"data": [{"title": "b"}, {"title": "d"}], "rows_affected": 2}`},
		{"isnull", q("prio__isnull", "1", "_nocol", "status", "_nocol", "prio"), `{"data": [{"id": 4, "title": "d"}], "rows_affected": 1}`},
		{"contains an injection", q("title__contains", "DROP TABLE", "_col", "id"), `{"data": [{"id": 3}], "rows_affected": 1}`},
		{"startswith unicode", q("title__startswith", "日", "_col", "id"), `{"data": [{"id": 5}], "rows_affected": 1}`},
		{"count", q("status", "open", "_count", "1", "_col", "id"), `{"data": [{"id": 1}, {"id": 3}, {"id": 4}], "rows_affected": 3, "count": 3}`},
		{"limit alias (no such column)", q("limit", "1", "_col", "id"), `{"data": [{"id": 1}], "rows_affected": 1, "truncated": true}`},
		{"arrays", q("_shape", "arrays", "_col", "id", "id__lte", "2"), `{"columns": ["id"], "rows": [[1], [2]], "rows_affected": 2}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			contracttest.Expect(t, ro.Do(t, "GET", tc.path, nil), 200, tc.want)
		})
	}

	// Pages: the whole table, two rows at a time, in prio order.
	var got []string
	next := ""
	for pages := 0; ; pages++ {
		p := []string{"_size", "2", "_sort", "prio", "_col", "title"}
		if next != "" {
			p = append(p, "_next", next)
		}
		r := ro.Do(t, "GET", q(p...), nil)
		m, _ := r.Body.(map[string]any)
		if r.Status != 200 || m == nil {
			t.Fatalf("page %d: %d %s", pages, r.Status, r.Raw)
		}
		for _, row := range m["data"].([]any) {
			got = append(got, row.(map[string]any)["title"].(string))
		}
		n, _ := m["next"].(string)
		if r.Header.Get("X-Next") != n || (n != "") != (m["truncated"] == true) {
			t.Fatalf("page %d: X-Next %q, body %s", pages, r.Header.Get("X-Next"), r.Raw)
		}
		if n == "" {
			if m["next"] != nil {
				t.Fatalf("last page: %s", r.Raw)
			}
			break
		}
		next = n
	}
	if want := "d,b,c'; DROP TABLE tasks; --,a,日本"; strings.Join(got, ",") != want {
		t.Fatalf("pages gave %q", got)
	}
	// CSV pages carry next and count in headers.
	r = ro.Do(t, "GET", q("_size", "1", "_format", "csv", "_col", "id", "_count", "1"), nil)
	if r.Status != 200 || string(r.Raw) != "id\r\n1\r\n" || r.Header.Get("X-Next") == "" || r.Header.Get("X-Total-Count") != "5" || r.Header.Get("X-Truncated") != "true" {
		t.Fatalf("csv page: %d %q %v", r.Status, r.Raw, r.Header)
	}

	// _max_bytes still caps a page; its next continues after the last
	// row it holds.
	r = ro.Do(t, "GET", q("_size", "4", "_max_bytes", "60", "_col", "id"), nil)
	m, _ := r.Body.(map[string]any)
	if r.Status != 200 || m["truncated"] != true || m["next"] == nil || len(m["data"].([]any)) >= 4 {
		t.Fatalf("_max_bytes page: %d %s", r.Status, r.Raw)
	}
	held := len(m["data"].([]any))
	r = ro.Do(t, "GET", q("_size", "1", "_col", "id", "_next", m["next"].(string)), nil)
	if d := r.Body.(map[string]any)["data"].([]any); len(d) != 1 || d[0].(map[string]any)["id"] != contracttest.J(t, fmt.Sprint(held+1)) {
		t.Fatalf("after a cut page of %d rows: %s", held, r.Raw)
	}

	// Hostile table and column names, through the URL.
	contracttest.Expect(t, rw.Do(t, "POST", "/api/db/r/query", `{"sql": "CREATE TABLE \"we\"\"ird [t]\" (\"col \"\"q\"\"\" TEXT, \"日本\" INTEGER)"}`), 200, "")
	weird := "/api/db/r/tables/" + url.PathEscape(`we"ird [t]`) + "/rows"
	contracttest.Expect(t, rw.Do(t, "POST", weird, `{"rows": [{"col \"q\"": "x]'", "日本": 1}, {"col \"q\"": "y", "日本": 2}]}`), 201, "")
	contracttest.Expect(t, ro.Do(t, "GET", weird+"?"+url.Values{`col "q"__endswith`: {"]'"}, "_sort_desc": {"日本"}}.Encode(), nil), 200,
		`{"data": [{"col \"q\"": "x]'", "日本": 1}], "rows_affected": 1}`)
	contracttest.Expect(t, rw.Do(t, "DELETE", "/api/db/r/tables/"+url.PathEscape(`WE"IRD [t]`), nil), 200,
		`{"message": "Table 'we\"ird [t]' dropped.", "table_name": "we\"ird [t]"}`)

	// Refusals.
	for _, tc := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", q("nope", "1"), "", 400, "UNKNOWN_COLUMN"},
		{"GET", q("_nope", "1"), "", 400, "UNKNOWN_PARAMETER"},
		{"GET", q("_next", "garbage!", "_size", "1"), "", 400, "INVALID_TOKEN"},
		{"GET", q("_size", "-1"), "", 400, "INVALID_VALUE"},
		{"GET", "/api/db/r/tables/_forge_idem/rows", "", 404, "TABLE_NOT_FOUND"},
		{"GET", "/api/db/r/tables/_forge_idem", "", 404, "TABLE_NOT_FOUND"},
		{"GET", "/api/db/r/schema?verbose=2", "", 400, "INVALID_VALUE"},
		{"PATCH", "/api/db/r/tables/tasks/rows", `{"set": {"prio": 0}}`, 400, "FILTER_REQUIRED"},
		{"DELETE", "/api/db/r/tables/tasks/rows", "", 400, "FILTER_REQUIRED"},
		{"PATCH", "/api/db/r/tables/tasks/rows?id=1", `{"set": {}}`, 422, "VALIDATION_ERROR"},
		{"PATCH", "/api/db/r/tables/tasks/rows?id=1", `{"set": {"title": null}}`, 400, "SQL_ERROR"},
		{"POST", "/api/db/r/tables/tasks/rows", `{"rows": [{"id": 1}], "upsert": "yes"}`, 422, "VALIDATION_ERROR"},
		{"PATCH", "/api/db/ghost/tables/tasks/rows", `{"set": 1}`, 404, "DATABASE_NOT_FOUND"},
	} {
		r := c.Do(t, tc.method, tc.path, tc.body) // the admin key: a missing database is 404
		e, _ := r.Body.(map[string]any)["error"].(map[string]any)
		if r.Status != tc.status || e["code"] != tc.code {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, r.Status, r.Raw, tc.status, tc.code)
		}
	}
	r = ro.Do(t, "PATCH", "/api/db/r/tables/tasks/rows?id=1", `{"set": {"prio": 0}}`)
	if r.Status != 403 {
		t.Fatalf("read-only PATCH: %d %s", r.Status, r.Raw)
	}

	// Writes.
	contracttest.Expect(t, rw.Do(t, "PATCH", "/api/db/r/tables/tasks/rows?"+url.Values{"status": {"open"}, "prio__gte": {"2"}}.Encode(),
		`{"set": {"status": "doing"}}`), 200, `{"rows_affected": 2}`)
	contracttest.Expect(t, rw.Do(t, "DELETE", "/api/db/r/tables/tasks/rows?status=done", nil), 200, `{"rows_affected": 2}`)
	contracttest.Expect(t, rw.Do(t, "POST", "/api/db/r/tables/tasks/rows",
		`{"rows": [{"id": 1, "title": "A"}, {"title": "new"}], "upsert": true, "return": true}`), 201,
		`{"message": "Rows inserted successfully.", "rows_affected": 2, "data": [
			{"id": 1, "title": "A", "status": "doing", "prio": 3}, {"id": 5, "title": "new", "status": "open", "prio": null}]}`)
	// With an Idempotency-Key: the same answer replayed, written once.
	idem := idemClient{base: g.url, apiKey: rwKey}
	body := `{"rows": [{"title": "once"}], "return": true}`
	first := idem.send(t, "POST", "/api/db/r/tables/tasks/rows", "up-1", body)
	again := idem.send(t, "POST", "/api/db/r/tables/tasks/rows", "up-1", body)
	if first.status != 201 || first.body != again.body || !again.replayed || !strings.Contains(first.body, `"title":"once"`) {
		t.Fatalf("idempotent insert with return: %d %s / %s %v", first.status, first.body, again.body, again.replayed)
	}
	contracttest.Expect(t, ro.Do(t, "GET", q("title", "once", "_count", "1", "_col", "id"), nil), 200,
		`{"data": [{"id": 6}], "rows_affected": 1, "count": 1}`)

	// Schema.
	contracttest.Expect(t, rw.Do(t, "POST", "/api/db/r/query", `{"sql": "CREATE VIEW open_tasks AS SELECT title FROM tasks WHERE status = 'open'"}`), 200, "")
	contracttest.Expect(t, ro.Do(t, "GET", "/api/db/r/tables", nil), 200,
		`{"tables": [{"name": "open_tasks", "type": "view", "rows": null}, {"name": "tasks", "type": "table", "rows": 5}]}`)
	contracttest.Expect(t, ro.Do(t, "GET", "/api/db/r/tables/TASKS", nil), 200, `{"name": "tasks", "type": "table", "columns": [
		{"name": "id", "type": "INTEGER", "pk": 1}, {"name": "title", "type": "TEXT", "not_null": true},
		{"name": "status", "type": "TEXT", "default": "'open'"}, {"name": "prio", "type": "INTEGER"}]}`)
	r = ro.Do(t, "GET", "/api/db/r/schema?verbose=1", nil)
	if r.Status != 200 || !strings.Contains(string(r.Raw), `"sql":"CREATE VIEW open_tasks`) || strings.Contains(string(r.Raw), "_forge_") {
		t.Fatalf("verbose schema: %d %s", r.Status, r.Raw)
	}
	contracttest.Expect(t, rw.Do(t, "DELETE", "/api/db/r/tables/open_tasks", nil), 200,
		`{"message": "Table 'open_tasks' dropped.", "table_name": "open_tasks"}`)
	contracttest.Expect(t, ro.Do(t, "GET", "/api/db/r/tables", nil), 200,
		`{"tables": [{"name": "tasks", "type": "table", "rows": 5}]}`)
	r = ro.Do(t, "DELETE", "/api/db/r/tables/tasks", nil)
	if r.Status != 403 {
		t.Fatalf("read-only drop: %d", r.Status)
	}
}
