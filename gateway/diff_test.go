package gateway

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/forge"
)

type fakeDiffs struct{}

func (fakeDiffs) Diff(context.Context, string, forge.DiffQuery) (forge.Diff, error) {
	return forge.Diff{}, nil
}

func (fakeDiffs) ParseAgainst(s string) (string, string, error) { return "checkpoint", s, nil }

var _ Diffs = fakeDiffs{}

type fakeAudit struct{}

func (fakeAudit) List(context.Context, string, []forge.QueryParam) ([]forge.AuditEntry, error) {
	return []forge.AuditEntry{}, nil
}

func TestBindDiff(t *testing.T) {
	t.Parallel()
	cases := []struct {
		query   string
		code    string
		summary bool
		limit   int
		cursor  string
	}{
		{"?against=checkpoint:a", "", false, 0, ""},
		{"?against=db:b&summary=1", "", true, 0, ""},
		{"?against=db:b&summary=true&limit=5&cursor=abc", "", true, 5, "abc"},
		{"?against=db:b&summary=0", "", false, 0, ""},
		{"", CodeInvalidValue, false, 0, ""},
		{"?against=", CodeInvalidValue, false, 0, ""},
		{"?against=db:b&summary=yes", CodeInvalidValue, false, 0, ""},
		{"?against=db:b&limit=0", CodeInvalidValue, false, 0, ""},
		{"?against=db:b&limit=x", CodeInvalidValue, false, 0, ""},
		{"?against=db:b&against=db:c", CodeInvalidValue, false, 0, ""},
		{"?against=db:b&table=t", CodeInvalidValue, false, 0, ""},
	}
	for _, tc := range cases {
		var rc fasthttp.RequestCtx
		rc.SetUserValue("db_name", "d")
		rc.Request.SetRequestURI("/x" + tc.query)
		got, err := bindDiff(&rc)
		code := ""
		if err != nil {
			code = toAPIError(err).code
		}
		if code != tc.code || err == nil && (got.q.Summary != tc.summary || got.q.Limit != tc.limit || got.q.Cursor != tc.cursor) {
			t.Errorf("%q: %+v %q, want %q", tc.query, got, code, tc.code)
		}
	}
}

// The answer is JSON of the documented shape, values as the query
// route writes them.
func TestAppendDiff(t *testing.T) {
	t.Parallel()
	d := forge.Diff{
		Schema: []forge.SchemaChange{{Type: "table", Name: "t\"", Change: "modified", Before: "CREATE TABLE a(x)", After: "CREATE TABLE a(x, y)", ColumnsAdded: []string{"y"}},
			{Type: "index", Name: "i", Change: "added", After: "CREATE INDEX i ON a(x)"}},
		Tables: []forge.TableDiff{{Table: "t", Key: []string{"id"}, Updated: 1, Changes: []forge.RowChange{{Op: "update",
			Key:    forge.Record{{Column: "id", Value: forge.IntValue(1)}},
			Before: forge.Record{{Column: "v", Value: forge.BlobValue([]byte{1})}},
			After:  forge.Record{{Column: "v", Value: forge.FloatValue(2)}}}}},
			{Table: "v", Skipped: "a virtual table"}},
		Truncated: true, Next: "cur",
	}
	b := appendDiff(nil, diffRequest{db: "d", against: "checkpoint:c"}, d)
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	want := `{"db_name":"d","against":"checkpoint:c","summary":false,"schema":[{"type":"table","name":"t\"","change":"modified","before":"CREATE TABLE a(x)","after":"CREATE TABLE a(x, y)","columns_added":["y"],"columns_dropped":[],"columns_changed":[]},{"type":"index","name":"i","change":"added","before":null,"after":"CREATE INDEX i ON a(x)"}],"tables":[{"table":"t","key":["id"],"inserted":0,"deleted":0,"updated":1,"changes":[{"op":"update","key":{"id":1},"before":{"v":{"$blob":"AQ=="}},"after":{"v":2.0}}]},{"table":"v","skipped":"a virtual table"}],"truncated":true,"next_cursor":"cur"}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}
