package app_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/praetorian/db-forge/internal/contracttest"
)

// diffAnswer is the diff route's answer, decoded.
type diffAnswer struct {
	Schema []struct {
		Type, Name, Change string
		ColumnsAdded       []string `json:"columns_added"`
	} `json:"schema"`
	Tables []struct {
		Table                      string
		Key                        []string
		Inserted, Deleted, Updated int
		Changes                    []struct {
			Op            string
			Key           map[string]any
			Before, After map[string]any
		}
		Skipped string
	} `json:"tables"`
	Truncated  bool    `json:"truncated"`
	NextCursor *string `json:"next_cursor"`
}

func decodeDiff(t *testing.T, r rawResp) diffAnswer {
	t.Helper()
	mustStatus(t, r, 200, "diff")
	var d diffAnswer
	if err := json.Unmarshal(r.body, &d); err != nil {
		t.Fatalf("%s: %v", r.body, err)
	}
	return d
}

// ops lists a diff's rows as "table op key".
func (d diffAnswer) ops() []string {
	var out []string
	for _, t := range d.Tables {
		for _, c := range t.Changes {
			k, _ := json.Marshal(c.Key)
			out = append(out, t.Table+" "+c.Op+" "+string(k))
		}
	}
	return out
}

// TestDiffRoute: GET /api/db/{db}/diff over HTTP, through the validating
// client: against a checkpoint and against another database, pages,
// summaries, and who may compare with another database.
func TestDiffRoute(t *testing.T) {
	g := start(t, t.TempDir())
	admin := g.client()
	ka := spawnKey(t, admin, "da")
	kb := spawnKey(t, admin, "db2")
	run := func(key, db, sql string) {
		t.Helper()
		contracttest.Expect(t, admin.WithKey(key).Do(t, "POST", "/api/db/"+db+"/query", map[string]any{"sql": sql}), 200, "")
	}
	for _, db := range []struct{ key, name string }{{ka, "da"}, {kb, "db2"}} {
		run(db.key, db.name, "CREATE TABLE t(id INTEGER PRIMARY KEY, v)")
		run(db.key, db.name, "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, x'00ff')")
	}
	contracttest.Expect(t, admin.WithKey(ka).Do(t, "POST", "/api/db/da/checkpoints", `{"name": "c1"}`), 201, "")
	run(ka, "da", "UPDATE t SET v = 'B' WHERE id = 2")
	run(ka, "da", "DELETE FROM t WHERE id = 3")
	run(ka, "da", "INSERT INTO t VALUES (4, NULL)")
	run(ka, "da", "CREATE TABLE u(k TEXT PRIMARY KEY, n) WITHOUT ROWID")
	run(ka, "da", "INSERT INTO u VALUES ('x', 1)")

	get := func(key, query string, hdr ...string) rawResp {
		t.Helper()
		return sendAs(t, g, key, "GET", "/api/db/da/diff?"+query, "", nil, hdr...)
	}
	want := []string{`t update {"id":2}`, `t delete {"id":3}`, `t insert {"id":4}`, `u insert {"k":"x"}`}
	d := decodeDiff(t, get(ka, "against=checkpoint:c1"))
	if got := d.ops(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows %q, want %q", got, want)
	}
	if len(d.Schema) != 1 || d.Schema[0].Name != "u" || d.Schema[0].Change != "added" || d.Truncated || d.NextCursor != nil {
		t.Fatalf("schema %+v truncated %v", d.Schema, d.Truncated)
	}
	if c := d.Tables[0].Changes[2]; c.Before != nil || c.After["v"] != nil || len(c.After) != 2 {
		t.Errorf("insert of a NULL: %+v", c)
	}
	if b, _ := json.Marshal(d.Tables[0].Changes[1].Before["v"]); string(b) != `{"$blob":"AP8="}` {
		t.Errorf("a deleted blob: %s", b)
	}

	// Pages of one row, cursor after cursor: the same rows.
	var paged []string
	q := "against=checkpoint:c1&limit=1"
	for n := 0; ; n++ {
		p := decodeDiff(t, get(ka, q))
		paged = append(paged, p.ops()...)
		if !p.Truncated {
			break
		}
		if n > 10 || p.NextCursor == nil {
			t.Fatalf("page %d: %+v", n, p)
		}
		q = "against=checkpoint:c1&limit=1&cursor=" + url.QueryEscape(*p.NextCursor)
	}
	if strings.Join(paged, "\n") != strings.Join(want, "\n") {
		t.Errorf("paged rows %q, want %q", paged, want)
	}

	// The summary counts, lists no rows.
	s := decodeDiff(t, get(ka, "against=checkpoint:c1&summary=1"))
	if len(s.Tables) != 2 || s.Tables[0].Inserted != 1 || s.Tables[0].Deleted != 1 || s.Tables[0].Updated != 1 ||
		s.Tables[1].Inserted != 1 || s.Tables[0].Changes != nil {
		t.Errorf("summary %+v", s.Tables)
	}

	// Another database: the admin key, or a key of it in X-Against-Key.
	other := []string{`t update {"id":2}`, `t delete {"id":3}`, `t insert {"id":4}`, `u insert {"k":"x"}`}
	for _, tc := range []struct {
		name, key string
		hdr       []string
		status    int
	}{
		{"admin key", g.adminKey, nil, 200},
		{"both keys", ka, []string{"X-Against-Key", kb}, 200},
		{"a key of one", ka, nil, 403},
		{"the same key twice", ka, []string{"X-Against-Key", ka}, 403},
		{"not a key", ka, []string{"X-Against-Key", "dbf_nope"}, 403},
	} {
		r := get(tc.key, "against=db:db2", tc.hdr...)
		if r.status != tc.status {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
			continue
		}
		if r.status == 403 && r.code() != "FORBIDDEN" {
			t.Errorf("%s: %s", tc.name, r.body)
		}
		if r.status == 200 {
			if got := decodeDiff(t, r).ops(); strings.Join(got, "\n") != strings.Join(other, "\n") {
				t.Errorf("%s: rows %q", tc.name, got)
			}
		}
	}

	for _, tc := range []struct {
		query, code string
		status      int
	}{
		{"against=checkpoint:nope", "CHECKPOINT_NOT_FOUND", 404},
		{"against=checkpoint:..", "INVALID_CHECKPOINT_NAME", 400},
		{"against=nope", "INVALID_VALUE", 400},
		{"", "INVALID_VALUE", 400},
		{"against=db:da", "INVALID_VALUE", 400},
		{"against=db:ghost", "DATABASE_NOT_FOUND", 404},
		{"against=db:a..b", "INVALID_DATABASE_NAME", 400},
		{"against=checkpoint:c1&cursor=xyz", "INVALID_VALUE", 400},
		{"against=checkpoint:c1&limit=1001", "INVALID_VALUE", 400},
	} {
		r := get(g.adminKey, tc.query)
		if r.status != tc.status || r.code() != tc.code {
			t.Errorf("%q: %d %s, want %d %s", tc.query, r.status, r.body, tc.status, tc.code)
		}
	}
	if r := sendAs(t, g, g.adminKey, "GET", "/api/db/ghost/diff?against=checkpoint:c1", "", nil); r.status != 404 || r.code() != "DATABASE_NOT_FOUND" {
		t.Errorf("a database that does not exist: %d %s", r.status, r.body)
	}
}
