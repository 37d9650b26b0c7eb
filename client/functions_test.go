package client_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/praetorian/db-forge/client"
	"github.com/praetorian/db-forge/functions/functest"
)

// TestFunctions: deploy, list, describe, call and delete a function
// through the SDK (the examples built with the Go toolchain).
func TestFunctions(t *testing.T) {
	ctx := context.Background()
	key := spawn(t, "fn1")
	db := keyed(t, key).DB("fn1")
	echo := functest.Example(t, "echo")
	f, created, err := db.DeployFunction(ctx, "echo", bytes.NewReader(echo), nil)
	if err != nil || !created || f.Name != "echo" || f.Size != int64(len(echo)) || len(f.SHA256) != 64 || f.Created.IsZero() {
		t.Fatalf("deploy: %+v %v %v", f, created, err)
	}
	if _, created, err := db.DeployFunctionBytes(ctx, "echo", echo, nil); err != nil || created {
		t.Fatalf("second deploy: created %v, %v; want a replacement", created, err)
	}
	ans, err := db.CallFunction(ctx, "echo", []byte(`{"hello":"world"}`), nil)
	if err != nil || ans.Status != 200 || string(ans.Body) != `{"hello":"world"}` ||
		!strings.HasPrefix(ans.ContentType, "application/json") || ans.RequestID == "" {
		t.Fatalf("call: %+v %v", ans, err)
	}
	// The function's own error answer: the answer and its *Error.
	if _, _, err := db.DeployFunctionBytes(ctx, "insert", functest.Example(t, "insert"), nil); err != nil {
		t.Fatal(err)
	}
	ans, err = db.CallFunction(ctx, "insert", []byte(`{"title": ""}`), &client.CallOptions{Timeout: 5 * time.Second})
	var e *client.Error
	if !errors.As(err, &e) || e.Code != "INVALID_TITLE" || ans == nil || ans.Status != 422 || !bytes.Contains(ans.Body, []byte("INVALID_TITLE")) {
		t.Fatalf("a 422 of the function: %+v %v", ans, err)
	}
	if ans, err := db.CallFunction(ctx, "insert", []byte(`{"title": "t"}`), nil); err != nil || string(ans.Body) != `{"id":1}` {
		t.Fatalf("insert: %+v %v", ans, err)
	}
	list, err := db.Functions(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "echo" || list[1].Name != "insert" {
		t.Fatalf("list: %+v %v", list, err)
	}
	got, err := db.Function(ctx, "echo")
	if err != nil || got.SHA256 != f.SHA256 || len(got.Exports) == 0 {
		t.Fatalf("get: %+v %v", got, err)
	}
	// A read-only key lists and calls, and may not deploy or delete.
	ro, err := admin(t).CreateKey(ctx, "fn1", client.ScopeReadOnly, 0)
	if err != nil {
		t.Fatal(err)
	}
	rodb := keyed(t, ro.Token).DB("fn1")
	if ans, err := rodb.CallFunction(ctx, "echo", []byte(`1`), nil); err != nil || string(ans.Body) != "1" {
		t.Fatalf("read-only call: %+v %v", ans, err)
	}
	if _, _, err := rodb.DeployFunctionBytes(ctx, "x", echo, nil); !errors.Is(err, client.ErrReadOnlyKey) {
		t.Fatalf("read-only deploy: %v", err)
	}
	if err := rodb.DeleteFunction(ctx, "echo"); !errors.Is(err, client.ErrReadOnlyKey) {
		t.Fatalf("read-only delete: %v", err)
	}
	if _, _, err := db.DeployFunctionBytes(ctx, "bad", []byte("not wasm"), nil); !errors.Is(err, client.ErrFunctionInvalid) {
		t.Fatalf("deploy of junk: %v", err)
	}
	if err := db.DeleteFunction(ctx, "echo"); err != nil {
		t.Fatal(err)
	}
	ans, err = db.CallFunction(ctx, "echo", nil, nil)
	if !errors.Is(err, client.ErrFunctionNotFound) || ans == nil || ans.Status != 404 {
		t.Fatalf("call of a deleted function: %+v %v", ans, err)
	}
	if _, err := db.Function(ctx, "echo"); !errors.Is(err, client.ErrFunctionNotFound) {
		t.Fatalf("get of a deleted function: %v", err)
	}
	// A scalar SQL function.
	sf := &client.SQLFunction{Name: "slugify", Args: 1, Deterministic: true}
	f, _, err = db.DeployFunctionBytes(ctx, "slugify", functest.Example(t, "slugify"), &client.DeployOptions{SQLFunction: sf})
	if err != nil || f.SQLFunction == nil || *f.SQLFunction != *sf {
		t.Fatalf("deploy of an SQL function: %+v %v", f, err)
	}
	res, err := db.Query(ctx, "SELECT slugify('Hello, World!') AS s")
	if err != nil || res.Data[0]["s"] != "hello-world" {
		t.Fatalf("the SQL function: %+v %v", res, err)
	}
}

// TestAudit: the audit log through the SDK, its filters, and the
// read-only key refused.
func TestAudit(t *testing.T) {
	ctx := context.Background()
	key := spawn(t, "aud1")
	db := keyed(t, key).DB("aud1")
	start := time.Now().Add(-time.Second)
	for _, q := range []string{"CREATE TABLE t(v)", "INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)"} {
		if _, err := db.Query(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := db.Audit(ctx, nil)
	if err != nil || len(recs) != 3 {
		t.Fatalf("audit: %+v %v", recs, err)
	}
	r := recs[0] // newest first
	if r.SQL != "INSERT INTO t VALUES (2)" || r.Outcome != "ok" || r.Rows != 1 || r.KeyID == "" || r.RequestID == "" ||
		r.Route != "/api/db/{db_name}/query" || r.Kind != "write" || r.Time.Before(start) {
		t.Fatalf("record: %+v", r)
	}
	if recs, err := db.Audit(ctx, &client.AuditQuery{Limit: 1, KeyID: r.KeyID, Since: start}); err != nil || len(recs) != 1 || recs[0].ID != r.ID {
		t.Fatalf("limit 1: %+v %v", recs, err)
	}
	if recs, err := db.Audit(ctx, &client.AuditQuery{KeyID: "key_000000000000"}); err != nil || len(recs) != 0 {
		t.Fatalf("another key's: %+v %v", recs, err)
	}
	if recs, err := db.Audit(ctx, &client.AuditQuery{Since: time.Now().Add(time.Hour)}); err != nil || len(recs) != 0 {
		t.Fatalf("since later: %+v %v", recs, err)
	}
	ro, err := admin(t).CreateKey(ctx, "aud1", client.ScopeReadOnly, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keyed(t, ro.Token).DB("aud1").Audit(ctx, nil); !errors.Is(err, client.ErrReadOnlyKey) {
		t.Fatalf("read-only key: %v", err)
	}
	if recs, err := admin(t).DB("aud1").Audit(ctx, nil); err != nil || len(recs) != 3 {
		t.Fatalf("admin: %+v %v", recs, err)
	}
}
