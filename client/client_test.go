package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/praetorian/db-forge/client"
)

func TestAdminRoutes(t *testing.T) {
	ctx := context.Background()
	c := admin(t)
	key := spawn(t, "adm1")
	if !strings.HasPrefix(key, "dbf_") {
		t.Fatalf("key %q", key)
	}
	again, err := c.Spawn(ctx, "adm1", nil)
	if err != nil || again.Created || again.APIKey != "" {
		t.Fatalf("second spawn: %+v %v, want 200 without a key", again, err)
	}
	list, err := c.List(ctx, &client.ListOptions{Prefix: "adm"})
	if err != nil || len(list) != 1 || list[0].Name != "adm1" || list[0].Status != "running" {
		t.Fatalf("list: %+v %v", list, err)
	}
	d, err := c.Details(ctx, "adm1")
	if err != nil || d.Name != "adm1" || d.Keys.Active != 1 {
		t.Fatalf("details: %+v %v", d, err)
	}
	ro, err := c.CreateKey(ctx, "adm1", client.ScopeReadOnly, time.Hour)
	if err != nil || ro.Token == "" || ro.Scope != client.ScopeReadOnly || ro.ExpiresAt == nil {
		t.Fatalf("create key: %+v %v", ro, err)
	}
	keys, err := c.Keys(ctx, "adm1")
	if err != nil || len(keys) != 2 || keys[1].ID != ro.ID || keys[1].Token != "" {
		t.Fatalf("keys: %+v %v", keys, err)
	}
	// The read-only key reads and may not write.
	rodb := keyed(t, ro.Token).DB("adm1")
	if _, err := rodb.Query(ctx, "SELECT 1"); err != nil {
		t.Fatalf("read with the read-only key: %v", err)
	}
	_, err = rodb.Query(ctx, "CREATE TABLE t(a)")
	var e *client.Error
	if !errors.Is(err, client.ErrReadOnlyKey) || !errors.As(err, &e) || e.Status != 403 || e.Detail == "" || e.RequestID == "" {
		t.Fatalf("write with the read-only key: %#v", err)
	}
	if err := c.RevokeKey(ctx, "adm1", ro.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := rodb.Query(ctx, "SELECT 1"); !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("revoked key: %v", err)
	}
	if err := c.RevokeKey(ctx, "adm1", "key_000000000000"); !errors.Is(err, client.ErrKeyNotFound) {
		t.Fatalf("revoke of no key: %v", err)
	}
	// A database key on an admin route.
	if _, err := keyed(t, key).List(ctx, nil); !errors.Is(err, client.ErrForbidden) {
		t.Fatalf("list with a database key: %v", err)
	}
	ic, err := c.IntegrityCheck(ctx, "adm1")
	if err != nil || !ic.OK {
		t.Fatalf("integrity: %+v %v", ic, err)
	}
	if _, err := c.Prune(ctx, "adm1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Prune(ctx, "adm1"); !errors.Is(err, client.ErrInstanceNotFound) {
		t.Fatalf("second prune: %v", err)
	}
	if _, err := c.Delete(ctx, "adm1"); err != nil {
		t.Fatal(err)
	}
	_, err = c.Details(ctx, "adm1")
	if !errors.Is(err, client.ErrDatabaseNotFound) || !errors.Is(err, &client.Error{Code: "DATABASE_NOT_FOUND", Status: 404}) {
		t.Fatalf("details after delete: %v", err)
	}
	if errors.Is(err, client.ErrTableNotFound) || errors.Is(err, &client.Error{Code: "DATABASE_NOT_FOUND", Status: 400}) {
		t.Fatal("an error matches another code or status")
	}
	if _, err := c.Spawn(ctx, "bad..name", nil); !errors.Is(err, client.ErrInvalidDatabaseName) {
		t.Fatalf("bad name: %v", err)
	}
	h, err := c.Health(ctx)
	if err != nil || h.Status != "ok" {
		t.Fatalf("health: %+v %v", h, err)
	}
	m, err := c.Metrics(ctx)
	if err != nil || !strings.Contains(m, "forge_http_requests_total") {
		t.Fatalf("metrics: %.200q %v", m, err)
	}
	doc, err := client.New(gatewayURL).OpenAPI(ctx)
	if err != nil || !bytes.Contains(doc, []byte(`"openapi"`)) {
		t.Fatalf("openapi: %.200q %v", doc, err)
	}
}

func TestListPages(t *testing.T) {
	ctx := context.Background()
	for _, n := range []string{"pg-a", "pg-b", "pg-c"} {
		spawn(t, n)
	}
	c := admin(t)
	items, next, err := c.ListPage(ctx, &client.ListOptions{Prefix: "pg-", Limit: 2})
	if err != nil || len(items) != 2 || next != "pg-b" {
		t.Fatalf("page: %+v %q %v", items, next, err)
	}
	all, err := c.List(ctx, &client.ListOptions{Prefix: "pg-", Limit: 2})
	if err != nil || len(all) != 3 || all[2].Name != "pg-c" {
		t.Fatalf("all pages: %+v %v", all, err)
	}
}

func TestQueriesAndValues(t *testing.T) {
	ctx := context.Background()
	db := keyed(t, spawn(t, "vals")).DB("vals")
	if err := db.CreateTable(ctx, "t", []client.Column{
		{Name: "id", Type: "INTEGER", PrimaryKey: true},
		{Name: "n", Type: "INTEGER"}, {Name: "r", Type: "REAL"},
		{Name: "s", Type: "TEXT", Default: "x"}, {Name: "b", Type: "BLOB"},
	}); err != nil {
		t.Fatal(err)
	}
	big := int64(9007199254740993) // not a float64
	res, err := db.Query(ctx, "INSERT INTO t(n, r, s, b) VALUES (?, ?, ?, ?)", big, 1.5, "é", []byte{0, 255})
	if err != nil || res.RowsAffected != 1 || res.Meta == nil || res.Meta.LastInsertID != 1 || res.Message == "" {
		t.Fatalf("insert: %+v %v", res, err)
	}
	res, err = db.Query(ctx, "SELECT id, n, r, s, b, NULL AS z FROM t")
	if err != nil || len(res.Data) != 1 {
		t.Fatalf("select: %+v %v", res, err)
	}
	want := client.Row{"id": int64(1), "n": big, "r": 1.5, "s": "é", "b": []byte{0, 255}, "z": nil}
	if !reflect.DeepEqual(res.Data[0], want) {
		t.Fatalf("row %#v, want %#v", res.Data[0], want)
	}
	arr, err := db.Exec(ctx, client.Statement{SQL: "SELECT :a AS a, 2.0 AS b", Params: map[string]any{"a": "A"}, Shape: "arrays"}, nil)
	if err != nil || !reflect.DeepEqual(arr.Columns, []string{"a", "b"}) || !reflect.DeepEqual(arr.Rows, [][]any{{"A", 2.0}}) {
		t.Fatalf("arrays: %+v %v", arr, err)
	}
	one := 1
	capped, err := db.Exec(ctx, client.Statement{SQL: "SELECT value FROM json_each('[1,2,3]')", MaxRows: &one}, nil)
	if err != nil || len(capped.Data) != 1 || !capped.Truncated {
		t.Fatalf("capped: %+v %v", capped, err)
	}
	_, err = db.Query(ctx, "SELEC 1")
	var e *client.Error
	if !errors.As(err, &e) || e.Code != "SQL_ERROR" || e.Status != 400 || !strings.Contains(e.Detail, "syntax error") {
		t.Fatalf("syntax error: %#v", err)
	}
	_, err = db.Query(ctx, "INSERT INTO t(id) VALUES (1)")
	if !errors.As(err, &e) || !strings.HasPrefix(e.SQLiteCode, "SQLITE_CONSTRAINT") {
		t.Fatalf("constraint: %#v", err)
	}
	// A dry run lists its changes and writes nothing.
	dry, err := db.Exec(ctx, client.Statement{SQL: "UPDATE t SET s = 'y'"}, &client.ExecOptions{DryRun: true})
	if err != nil || !dry.DryRun || len(dry.Changes) != 1 || dry.Changes[0].After["s"] != "y" {
		t.Fatalf("dry run: %+v %v", dry, err)
	}
	if res, _ := db.Query(ctx, "SELECT s FROM t"); res.Data[0]["s"] != "é" {
		t.Fatalf("the dry run wrote: %+v", res.Data)
	}
	// A stream in CSV.
	body, _, err := db.QueryStream(ctx, client.Statement{SQL: "SELECT id, s FROM t"}, "csv", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(body)
	body.Close()
	if string(b) != "id,s\r\n1,é\r\n" {
		t.Fatalf("csv %q", b)
	}
	if _, err := client.New(gatewayURL, client.WithKey(adminKey)).DB("nope").Query(ctx, "SELECT 1"); !errors.Is(err, client.ErrDatabaseNotFound) {
		t.Fatalf("no database: %v", err)
	}
}

func TestIdempotentWrites(t *testing.T) {
	ctx := context.Background()
	db := keyed(t, spawn(t, "idem")).DB("idem")
	if _, err := db.Query(ctx, "CREATE TABLE t(a)"); err != nil {
		t.Fatal(err)
	}
	o := &client.ExecOptions{IdempotencyKey: "k-1"}
	first, err := db.Exec(ctx, client.Statement{SQL: "INSERT INTO t VALUES (1)"}, o)
	if err != nil || first.Replayed {
		t.Fatalf("first: %+v %v", first, err)
	}
	again, err := db.Exec(ctx, client.Statement{SQL: "INSERT INTO t VALUES (1)"}, o)
	if err != nil || !again.Replayed {
		t.Fatalf("repeat: %+v %v", again, err)
	}
	if _, err := db.Exec(ctx, client.Statement{SQL: "INSERT INTO t VALUES (2)"}, o); !errors.Is(err, client.ErrIdempotencyKeyReused) {
		t.Fatalf("reuse: %v", err)
	}
	res, _ := db.Query(ctx, "SELECT count(*) AS n FROM t")
	if res.Data[0]["n"] != int64(1) {
		t.Fatalf("rows %v", res.Data)
	}
	ins, err := db.Insert(ctx, "t", []client.Row{{"a": 5}}, &client.InsertOptions{IdempotencyKey: "k-2"})
	if err != nil || ins.RowsAffected != 1 {
		t.Fatal(ins, err)
	}
	ins, err = db.Insert(ctx, "t", []client.Row{{"a": 5}}, &client.InsertOptions{IdempotencyKey: "k-2"})
	if err != nil || !ins.Replayed {
		t.Fatalf("insert repeat: %+v %v", ins, err)
	}
}

func TestBatchesAndTransactions(t *testing.T) {
	ctx := context.Background()
	db := keyed(t, spawn(t, "btx")).DB("btx")
	res, err := db.Batch(ctx, []client.Statement{
		{SQL: "CREATE TABLE t(id INTEGER PRIMARY KEY, v)"},
		{SQL: "INSERT INTO t(v) VALUES (?)", Params: []any{"a"}},
		{SQL: "SELECT count(*) AS n FROM t"},
	}, nil)
	if err != nil || len(res.Results) != 3 || res.Results[2].Data[0]["n"] != int64(1) {
		t.Fatalf("batch: %+v %v", res, err)
	}
	_, err = db.Batch(ctx, []client.Statement{{SQL: "INSERT INTO t(v) VALUES ('b')"}, {SQL: "INSERT INTO t(id) VALUES (1)"}}, nil)
	var e *client.Error
	if !errors.As(err, &e) || e.StatementIndex == nil || *e.StatementIndex != 1 || !errors.Is(err, client.ErrSQLError) {
		t.Fatalf("failing batch: %#v", err)
	}
	loose, err := db.Batch(ctx, []client.Statement{{SQL: "INSERT INTO t(id) VALUES (1)"}, {SQL: "INSERT INTO t(v) VALUES ('c')"}},
		&client.BatchOptions{NoTransaction: true})
	if err != nil || loose.Results[0].Err == nil || !errors.Is(loose.Results[0].Err, client.ErrSQLError) || loose.Results[1].Err != nil {
		t.Fatalf("batch without a transaction: %+v %v", loose, err)
	}
	tx, err := db.Begin(ctx, &client.TxOptions{Timeout: 30 * time.Second})
	if err != nil || !strings.HasPrefix(tx.ID, "tx_") || tx.ExpiresAt.IsZero() {
		t.Fatalf("begin: %+v %v", tx, err)
	}
	if _, err := tx.Query(ctx, "INSERT INTO t(v) VALUES ('in tx')"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); !errors.Is(err, client.ErrTransactionEnded) {
		t.Fatalf("commit after rollback: %v", err)
	}
	tx, err = db.Begin(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Batch(ctx, []client.Statement{{SQL: "INSERT INTO t(v) VALUES ('kept')"}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r, _ := db.Query(ctx, "SELECT v FROM t ORDER BY id")
	var got []any
	for _, row := range r.Data {
		got = append(got, row["v"])
	}
	if !reflect.DeepEqual(got, []any{"a", "c", "kept"}) {
		t.Fatalf("rows %v", got)
	}
	ro, err := db.Begin(ctx, &client.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ro.Query(ctx, "DELETE FROM t"); !errors.Is(err, client.ErrReadOnlyTransaction) {
		t.Fatalf("write in a read-only transaction: %v", err)
	}
	if err := ro.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRowsAndSchema(t *testing.T) {
	ctx := context.Background()
	db := keyed(t, spawn(t, "rows")).DB("rows")
	if err := db.CreateTable(ctx, "p", []client.Column{
		{Name: "id", Type: "INTEGER", PrimaryKey: true}, {Name: "name", Type: "TEXT", NotNull: true}, {Name: "age", Type: "INTEGER"},
	}); err != nil {
		t.Fatal(err)
	}
	ins, err := db.Insert(ctx, "p", []client.Row{{"name": "ann", "age": 30}, {"name": "bob", "age": 17}, {"name": "cy", "age": 45}},
		&client.InsertOptions{Return: true})
	if err != nil || ins.RowsAffected != 3 || len(ins.Data) != 3 || ins.Data[2]["id"] != int64(3) {
		t.Fatalf("insert: %+v %v", ins, err)
	}
	page, err := db.Rows(ctx, "p", &client.RowsQuery{Where: client.Where{"age__gte": {"18"}}, Sort: []string{"-age"}, Size: 1, Count: true})
	if err != nil || len(page.Data) != 1 || page.Data[0]["name"] != "cy" || page.Next == "" || page.Count == nil || *page.Count != 2 {
		t.Fatalf("page 1: %+v %v", page, err)
	}
	page, err = db.Rows(ctx, "p", &client.RowsQuery{Where: client.Where{"age__gte": {"18"}}, Sort: []string{"-age"}, Size: 1, Next: page.Next})
	if err != nil || len(page.Data) != 1 || page.Data[0]["name"] != "ann" {
		t.Fatalf("page 2: %+v %v", page, err)
	}
	n, err := db.Update(ctx, "p", client.Where{"name": {"bob"}}, client.Row{"age": 18}, false)
	if err != nil || n != 1 {
		t.Fatal(n, err)
	}
	if _, err := db.Update(ctx, "p", nil, client.Row{"age": 1}, false); !errors.Is(err, client.ErrFilterRequired) {
		t.Fatalf("update without a filter: %v", err)
	}
	if _, err := db.Rows(ctx, "p", &client.RowsQuery{Where: client.Where{"nope": {"1"}}}); !errors.Is(err, client.ErrUnknownColumn) {
		t.Fatalf("unknown column: %v", err)
	}
	n, err = db.DeleteRows(ctx, "p", client.Where{"age__lt": {"40"}}, false)
	if err != nil || n != 2 {
		t.Fatal(n, err)
	}
	tables, err := db.Tables(ctx)
	if err != nil || len(tables) != 1 || tables[0].Name != "p" || tables[0].Rows == nil || *tables[0].Rows != 1 {
		t.Fatalf("tables: %+v %v", tables, err)
	}
	schema, err := db.Schema(ctx, true)
	if err != nil || len(schema) != 1 || len(schema[0].Columns) != 3 || schema[0].Columns[0].PK != 1 || schema[0].SQL == "" {
		t.Fatalf("schema: %+v %v", schema, err)
	}
	tbl, err := db.Table(ctx, "p", false)
	if err != nil || tbl.Name != "p" || !tbl.Columns[1].NotNull {
		t.Fatalf("table: %+v %v", tbl, err)
	}
	if err := db.DropTable(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Rows(ctx, "p", nil); !errors.Is(err, client.ErrTableNotFound) {
		t.Fatalf("dropped table: %v", err)
	}
}

func TestExportImport(t *testing.T) {
	ctx := context.Background()
	c := admin(t)
	spawn(t, "src")
	src := c.DB("src")
	if _, err := src.Batch(ctx, []client.Statement{{SQL: "CREATE TABLE t(a, b)"}, {SQL: "INSERT INTO t VALUES (1, 'x'), (2, 'y')"}}, nil); err != nil {
		t.Fatal(err)
	}
	// The file: export, then spawn a new database from it.
	file, err := src.Export(ctx, client.FormatSQLite)
	if err != nil {
		t.Fatal(err)
	}
	if file.Size <= 0 || file.ContentType != "application/vnd.sqlite3" {
		t.Fatalf("export: size %d, type %q", file.Size, file.ContentType)
	}
	s, err := c.SpawnFrom(ctx, "fromfile", file, client.ContentTypeSQLite)
	file.Close()
	if err != nil || !s.Created || s.APIKey == "" {
		t.Fatalf("spawn from file: %+v %v", s, err)
	}
	t.Cleanup(func() { _, _ = c.Delete(context.Background(), "fromfile") })
	if r, err := c.DB("fromfile").Query(ctx, "SELECT count(*) AS n FROM t"); err != nil || r.Data[0]["n"] != int64(2) {
		t.Fatalf("copy: %+v %v", r, err)
	}
	// The dump: export, then import into another database.
	dump, err := src.Export(ctx, client.FormatSQL)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, _ = io.Copy(&buf, dump)
	dump.Close()
	if !strings.HasSuffix(buf.String(), "COMMIT;\n") {
		t.Fatalf("dump %q", buf.String())
	}
	spawn(t, "dst")
	dst := c.DB("dst")
	imp, err := dst.Import(ctx, &buf, client.ContentTypeSQL, "")
	if err != nil || imp.Statements < 2 {
		t.Fatalf("import: %+v %v", imp, err)
	}
	csv := strings.NewReader("id,name\n1,ann\n2,bob\n")
	imp, err = dst.Import(ctx, csv, client.ContentTypeCSV, "people")
	if err != nil || !imp.Created || imp.RowsAffected != 2 || imp.Columns[0].Type != "INTEGER" {
		t.Fatalf("csv import: %+v %v", imp, err)
	}
	_, err = dst.Import(ctx, strings.NewReader("INSERT INTO nope VALUES (1);"), client.ContentTypeSQL, "")
	var e *client.Error
	if !errors.As(err, &e) || e.StatementIndex == nil || *e.StatementIndex != 0 {
		t.Fatalf("bad script: %#v", err)
	}
	if _, err := dst.Import(ctx, strings.NewReader("x"), "text/plain", ""); !errors.Is(err, client.ErrUnsupportedMediaType) {
		t.Fatalf("media type: %v", err)
	}
}

func TestCheckpointsBranchesDiff(t *testing.T) {
	ctx := context.Background()
	c := admin(t)
	spawn(t, "cp")
	db := c.DB("cp")
	if _, err := db.Batch(ctx, []client.Statement{{SQL: "CREATE TABLE t(id INTEGER PRIMARY KEY, v)"}, {SQL: "INSERT INTO t VALUES (1, 'a'), (2, 'b')"}}, nil); err != nil {
		t.Fatal(err)
	}
	cp, err := db.CreateCheckpoint(ctx, "before")
	if err != nil || cp.Name != "before" || cp.SizeBytes == 0 {
		t.Fatalf("checkpoint: %+v %v", cp, err)
	}
	if _, err := db.CreateCheckpoint(ctx, "before"); !errors.Is(err, client.ErrCheckpointExists) {
		t.Fatalf("again: %v", err)
	}
	if _, err := db.Batch(ctx, []client.Statement{{SQL: "UPDATE t SET v = 'B' WHERE id = 2"}, {SQL: "INSERT INTO t VALUES (3, 'c')"}}, nil); err != nil {
		t.Fatal(err)
	}
	d, err := db.Diff(ctx, "checkpoint:before", nil)
	if err != nil || len(d.Tables) != 1 || d.Tables[0].Inserted != 1 || d.Tables[0].Updated != 1 || len(d.Tables[0].Changes) != 2 {
		t.Fatalf("diff: %+v %v", d, err)
	}
	if ch := d.Tables[0].Changes[0]; ch.Op != "update" || ch.Key["id"] != int64(2) || ch.After["v"] != "B" {
		t.Fatalf("change %+v", ch)
	}
	sum, err := db.Diff(ctx, "checkpoint:before", &client.DiffOptions{Summary: true})
	if err != nil || !sum.Summary || sum.Tables[0].Changes != nil {
		t.Fatalf("summary: %+v %v", sum, err)
	}
	// A branch of the checkpoint, and a diff of two databases.
	br, err := c.Branch(ctx, "cp-branch", "cp", "before")
	if err != nil || !br.Created || br.From != "cp" {
		t.Fatalf("branch: %+v %v", br, err)
	}
	t.Cleanup(func() { _, _ = c.Delete(context.Background(), "cp-branch") })
	bd, err := c.DB("cp-branch").Diff(ctx, "db:cp", nil)
	if err != nil || bd.Tables[0].Deleted != 1 {
		t.Fatalf("branch diff: %+v %v", bd, err)
	}
	rs, err := db.RestoreCheckpoint(ctx, "before")
	if err != nil || rs.Checkpoint != "before" || !rs.Undo.Auto {
		t.Fatalf("restore: %+v %v", rs, err)
	}
	if r, _ := db.Query(ctx, "SELECT count(*) AS n FROM t"); r.Data[0]["n"] != int64(2) {
		t.Fatalf("restored rows %v", r.Data)
	}
	list, err := db.Checkpoints(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("checkpoints: %+v %v", list, err)
	}
	if err := db.DeleteCheckpoint(ctx, "before"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RestoreCheckpoint(ctx, "before"); !errors.Is(err, client.ErrCheckpointNotFound) {
		t.Fatalf("restore of a deleted checkpoint: %v", err)
	}
}

func TestLeasesAndTrash(t *testing.T) {
	ctx := context.Background()
	c := admin(t)
	s, err := c.Spawn(ctx, "leased", &client.SpawnOptions{TTL: time.Hour})
	if err != nil || s.ExpiresAt == nil {
		t.Fatalf("spawn with ttl: %+v %v", s, err)
	}
	t.Cleanup(func() { _, _ = c.Delete(context.Background(), "leased") })
	l, err := c.SetLease(ctx, "leased", 0)
	if err != nil || l.ExpiresAt != nil {
		t.Fatalf("lease removed: %+v %v", l, err)
	}
	l, err = c.SetLease(ctx, "leased", 1500*time.Millisecond)
	if err != nil || l.ExpiresAt == nil {
		t.Fatalf("lease: %+v %v", l, err)
	}
	// The janitor moves it to the trash once the lease runs out.
	var trash []client.Trashed
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if trash, err = c.Trash(ctx); err == nil && len(trash) == 1 {
			break
		}
	}
	if len(trash) != 1 || trash[0].Name != "leased" {
		t.Fatalf("trash: %+v %v", trash, err)
	}
	back, err := c.RestoreFromTrash(ctx, "leased", 0)
	if err != nil || back.APIKey == "" {
		t.Fatalf("restore: %+v %v", back, err)
	}
	if _, err := c.RestoreFromTrash(ctx, "leased", 0); !errors.Is(err, client.ErrNotInTrash) {
		t.Fatalf("second restore: %v", err)
	}
}

// TestRetries checks which answers are retried, on a server that
// answers what the test says (the gateway's 503s and lost connections
// cannot be had on demand).
func TestRetries(t *testing.T) {
	type seen struct{ method, key string }
	var mu sync.Mutex // the handler's state, read by the test between calls
	var got []seen
	answers := []int{}
	srv := newScriptedServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, seen{r.Method, r.Header.Get("Idempotency-Key")})
		status := http.StatusOK
		if len(answers) > 0 {
			status, answers = answers[0], answers[1:]
		}
		if status == -1 { // the connection drops without an answer
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		code := map[int]string{503: "DATABASE_BUSY", 429: "TOO_MANY_REQUESTS", 504: "QUERY_TIMEOUT", 400: "SQL_ERROR"}[status]
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if code != "" {
			_, _ = io.WriteString(w, `{"detail":"d","error":{"code":"`+code+`","message":"d","status":0}}`)
			return
		}
		_, _ = io.WriteString(w, `{"message":"ok","rows_affected":0}`)
	})
	ctx := context.Background()
	c := client.New(srv, client.WithRetries(3, time.Millisecond, 5*time.Millisecond))
	cases := []struct {
		name    string
		answers []int
		call    func() error
		tries   int
		ok      bool
	}{
		{"GET retried on 503", []int{503, 503}, func() error { _, err := c.DB("d").Tables(ctx); return err }, 3, true},
		{"keyed write retried on 504", []int{504}, func() error { _, err := c.DB("d").Query(ctx, "INSERT"); return err }, 2, true},
		{"any request retried on 429", []int{429}, func() error { _, err := c.Spawn(ctx, "d", nil); return err }, 2, true},
		{"unkeyed write not retried on 503", []int{503}, func() error {
			_, err := c.DB("d").Exec(ctx, client.Statement{SQL: "INSERT"}, &client.ExecOptions{NoIdempotencyKey: true})
			return err
		}, 1, false},
		{"GET retried after a lost connection", []int{-1}, func() error { _, err := c.DB("d").Tables(ctx); return err }, 2, true},
		{"keyed write retried after a lost connection", []int{-1}, func() error { _, err := c.DB("d").Query(ctx, "INSERT"); return err }, 2, true},
		{"unkeyed write not retried after a lost connection", []int{-1}, func() error {
			_, err := c.DB("d").Exec(ctx, client.Statement{SQL: "INSERT"}, &client.ExecOptions{NoIdempotencyKey: true})
			return err
		}, 1, false},
		{"400 never retried", []int{400}, func() error { _, err := c.DB("d").Tables(ctx); return err }, 1, false},
		{"gives up after the retries", []int{503, 503, 503, 503, 503}, func() error { _, err := c.DB("d").Tables(ctx); return err }, 4, false},
	}
	for _, tc := range cases {
		mu.Lock()
		got, answers = nil, tc.answers
		mu.Unlock()
		err := tc.call()
		mu.Lock()
		got := append([]seen(nil), got...)
		mu.Unlock()
		if len(got) != tc.tries || (err == nil) != tc.ok {
			t.Errorf("%s: %d tries, err %v; want %d tries, ok %v", tc.name, len(got), err, tc.tries, tc.ok)
		}
		for _, s := range got[1:] {
			if s.key != got[0].key {
				t.Errorf("%s: the retry changed the Idempotency-Key: %v", tc.name, got)
			}
		}
	}
	// A context canceled during the backoff ends the call.
	mu.Lock()
	answers = []int{503, 503, 503}
	mu.Unlock()
	slow := client.New(srv, client.WithRetries(3, time.Hour, time.Hour))
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := slow.DB("d").Tables(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("canceled during backoff: %v", err)
	}
}
