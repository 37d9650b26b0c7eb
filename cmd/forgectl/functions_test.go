package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/praetorian/db-forge/functions/functest"
)

// TestFunctionsCommands: deploy, list, info, call and delete a function
// (the echo and insert examples, built with the Go toolchain), with the
// documented exit codes.
func TestFunctionsCommands(t *testing.T) {
	ok(t, "", "db", "create", "fns")
	t.Cleanup(func() { forgectl(t, "", "db", "delete", "fns", "--yes") })
	dir := t.TempDir()
	echo, insert := filepath.Join(dir, "echo.wasm"), filepath.Join(dir, "insert.wasm")
	if err := os.WriteFile(echo, functest.Example(t, "echo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(insert, functest.Example(t, "insert"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := ok(t, "", "functions", "deploy", "fns", "echo", echo)
	if f := fields(out); len(f) != 2 || f[0][0] != "status" || f[1][0] != "created" || f[1][1] != "echo" {
		t.Fatalf("deploy: %q", out)
	}
	if f := fields(ok(t, "", "functions", "deploy", "fns", "echo", echo)); f[1][0] != "replaced" {
		t.Fatalf("second deploy: %v", f)
	}
	module, _ := os.ReadFile(insert)
	out = ok(t, string(module), "functions", "deploy", "fns", "insert", "-", "-o", "json")
	var dep struct {
		Name   string `json:"name"`
		SHA256 string `json:"sha256"`
	}
	if err := json.Unmarshal([]byte(out), &dep); err != nil || dep.Name != "insert" || len(dep.SHA256) != 64 {
		t.Fatalf("deploy from stdin, json: %q %v", out, err)
	}
	out = ok(t, "", "functions", "list", "fns", "-o", "csv")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 3 || lines[0] != "name,size,sha256,created,sql_function" ||
		!strings.HasPrefix(lines[1], "echo,") || !strings.HasPrefix(lines[2], "insert,") {
		t.Fatalf("list: %q", out)
	}
	mustContain(t, ok(t, "", "functions", "info", "fns", "echo"), "forge_handle", "exports")
	if out := ok(t, "", "functions", "call", "fns", "echo", `{"a":1}`); out != `{"a":1}` {
		t.Fatalf("call: %q", out)
	}
	if out := ok(t, `{"b":2}`, "functions", "call", "fns", "echo", "-f", "-"); out != `{"b":2}` {
		t.Fatalf("call from stdin: %q", out)
	}
	if out := ok(t, "", "functions", "call", "fns", "insert", `{"title": "one"}`); out != `{"id":1}` {
		t.Fatalf("insert: %q", out)
	}
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"the function's 422", []string{"functions", "call", "fns", "insert", `{"title": ""}`}, exitInvalid, "forgectl: INVALID_TITLE: title must be 1 to 200 characters"},
		{"no function", []string{"functions", "call", "fns", "nope"}, exitNotFound, "forgectl: FUNCTION_NOT_FOUND:"},
		{"info of none", []string{"functions", "info", "fns", "nope"}, exitNotFound, "forgectl: FUNCTION_NOT_FOUND:"},
		{"not a module", []string{"functions", "deploy", "fns", "bad", filepath.Join(dir, "nothing")}, exitFailure, "no such file"},
		{"body twice", []string{"functions", "call", "fns", "echo", "{}", "-f", "x"}, exitUsage, "not both"},
		{"--args alone", []string{"functions", "deploy", "fns", "e2", echo, "--args", "2"}, exitUsage, "--sql-function"},
		{"delete unconfirmed", []string{"functions", "delete", "fns", "echo"}, exitAborted, "pass --yes"},
	}
	for _, tc := range cases {
		r := forgectl(t, "", tc.args...)
		if r.code != tc.code || !strings.Contains(r.err, tc.stderr) || r.out != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d with %q", tc.name, r.code, r.out, r.err, tc.code, tc.stderr)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "junk.wasm"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := forgectl(t, "", "functions", "deploy", "fns", "junk", filepath.Join(dir, "junk.wasm")); r.code != exitInvalid || !strings.Contains(r.err, "FUNCTION_INVALID") {
		t.Errorf("junk module: %+v", r)
	}
	// A read-only key calls and may not deploy.
	ro := strings.TrimSpace(ok(t, "", "keys", "create", "fns", "--scope", "read-only", "-q"))
	if out := ok(t, "", "FORGE_KEY="+ro, "functions", "call", "fns", "echo", "7"); out != "7" {
		t.Fatalf("read-only call: %q", out)
	}
	if r := forgectl(t, "", "FORGE_KEY="+ro, "functions", "deploy", "fns", "x", echo); r.code != exitForbidden || !strings.Contains(r.err, "READ_ONLY_KEY") {
		t.Errorf("read-only deploy: %+v", r)
	}
	mustContain(t, ok(t, "", "functions", "delete", "fns", "echo", "--yes"), "Function deleted.")
	if f := fields(ok(t, "", "functions", "list", "fns")); len(f) != 2 || f[1][0] != "insert" {
		t.Fatalf("list after delete: %v", f)
	}
}

// TestAuditCommand: the audit log's records, filters and formats, and
// a read-only key refused.
func TestAuditCommand(t *testing.T) {
	ok(t, "", "db", "create", "auds")
	t.Cleanup(func() { forgectl(t, "", "db", "delete", "auds", "--yes") })
	ok(t, "", "query", "auds", "CREATE TABLE t(v)")
	ok(t, "", "query", "auds", "INSERT INTO t VALUES (1)")
	out := ok(t, "", "audit", "auds", "-o", "json")
	var got struct {
		Count   int `json:"count"`
		Records []struct {
			KeyID     string `json:"key_id"`
			RequestID string `json:"request_id"`
			SQL       string `json:"sql"`
			Outcome   string `json:"outcome"`
		} `json:"records"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Count != 2 || got.Records[0].SQL != "INSERT INTO t VALUES (1)" ||
		got.Records[0].Outcome != "ok" || got.Records[0].KeyID != "admin" || got.Records[0].RequestID == "" {
		t.Fatalf("audit json: %q %v", out, err)
	}
	out = ok(t, "", "audit", "auds", "--limit", "1", "--since", "1h", "-o", "csv")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "id,time,key_id,request_id,route") ||
		!strings.Contains(lines[1], "INSERT INTO t VALUES (1)") {
		t.Fatalf("audit csv: %q", out)
	}
	if f := fields(ok(t, "", "audit", "auds", "--since", "2999-01-01T00:00:00Z")); len(f) != 1 {
		t.Fatalf("since later: %v", f)
	}
	if r := forgectl(t, "", "audit", "auds", "--since", "yesterday"); r.code != exitUsage {
		t.Errorf("bad --since: %+v", r)
	}
	ro := strings.TrimSpace(ok(t, "", "keys", "create", "auds", "--scope", "read-only", "-q"))
	if r := forgectl(t, "", "FORGE_KEY="+ro, "audit", "auds"); r.code != exitForbidden || !strings.Contains(r.err, "READ_ONLY_KEY") {
		t.Errorf("read-only key: %+v", r)
	}
}
