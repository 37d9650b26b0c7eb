package gateway

import (
	"testing"

	"github.com/praetorian/db-forge/forge"
)

func TestDecodeQueryDryRun(t *testing.T) {
	t.Parallel()
	body := []byte(`{"sql":"DELETE FROM t WHERE id = ?","params":[1],"dry_run":true,"max_changes":5}`)
	if _, ok := fastQuery(body); ok {
		t.Fatal("the fast path took a body with dry_run")
	}
	q, opt, err := decodeQueryBody(body)
	if err != nil || q.SQL != "DELETE FROM t WHERE id = ?" || len(q.Params.Positional) != 1 || opt != (queryOptions{dryRun: true, maxChanges: 5}) {
		t.Fatalf("%+v %+v %v", q, opt, err)
	}
	if _, opt, _ := decodeQueryBody([]byte(`{"sql":"SELECT 1"}`)); opt != (queryOptions{maxChanges: defaultMaxChanges}) {
		t.Fatalf("defaults: %+v", opt)
	}
}

func TestAppendChanges(t *testing.T) {
	t.Parallel()
	c := forge.Changes{Truncated: true, List: []forge.Change{{
		Table: "t", Op: forge.ChangeUpdate, Key: forge.Field{Column: "id", Value: forge.IntValue(1)},
		Before: forge.Record{{Column: "id", Value: forge.IntValue(1)}, {Column: "v", Value: forge.NullValue()}},
		After:  forge.Record{{Column: "id", Value: forge.IntValue(1)}, {Column: "v", Value: forge.BlobValue([]byte("x"))}},
	}, {Table: "t", Op: forge.ChangeDelete, Key: forge.Field{Column: "rowid", Value: forge.IntValue(2)},
		Before: forge.Record{{Column: "f", Value: forge.FloatValue(1)}}}}}
	got := string(appendChanges(nil, &c))
	want := `,"changes":[{"table":"t","op":"update","key":{"id":1},"before":{"id":1,"v":null},"after":{"id":1,"v":{"$blob":"eA=="}}},` +
		`{"table":"t","op":"delete","key":{"rowid":2},"before":{"f":1.0},"after":null}],"changes_truncated":true,"changes_complete":true`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
