package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExitCodes(t *testing.T) {
	ok(t, "", "db", "create", "codes")
	t.Cleanup(func() { forgectl(t, "", "db", "delete", "codes", "--yes") })
	key := strings.TrimSpace(ok(t, "", "keys", "create", "codes", "-q"))
	ok(t, "", "checkpoint", "create", "codes", "cp1")
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no argument", []string{"db", "create"}, exitUsage, "forgectl: forgectl db create needs a database NAME"},
		{"unknown command", []string{"bogus"}, exitUsage, `forgectl: unknown command "bogus"`},
		{"unknown flag", []string{"db", "list", "--nope"}, exitUsage, "forgectl: unknown flag: --nope"},
		{"bad output", []string{"-o", "xml", "db", "list"}, exitUsage, "--output must be table, json or csv"},
		{"SQL twice", []string{"query", "codes", "SELECT 1", "-f", "x.sql"}, exitUsage, "not both"},
		{"not found", []string{"db", "info", "nope"}, exitNotFound, "forgectl: DATABASE_NOT_FOUND: Database not found."},
		{"no table", []string{"rows", "codes", "nope"}, exitNotFound, "forgectl: TABLE_NOT_FOUND:"},
		{"bad key", []string{"FORGE_KEY=dbf_nope", "db", "list"}, exitForbidden, "forgectl: UNAUTHORIZED: Invalid API key."},
		{"database key on admin", []string{"FORGE_KEY=" + key, "db", "list"}, exitForbidden, "forgectl: FORBIDDEN:"},
		{"exists", []string{"checkpoint", "create", "codes", "cp1"}, exitConflict, "forgectl: CHECKPOINT_EXISTS:"},
		{"SQL error", []string{"query", "codes", "SELEC 1"}, exitInvalid, `forgectl: SQL_ERROR: SQL Error: near "SELEC": syntax error`},
		{"bad name", []string{"db", "create", "bad..name"}, exitInvalid, "forgectl: INVALID_DATABASE_NAME:"},
		{"unreachable", []string{"--url", "http://127.0.0.1:1", "db", "list"}, exitUnavailable, "connection refused"},
		{"timeout", []string{"--timeout", "1ns", "db", "list"}, exitUnavailable, "no answer within --timeout"},
		{"not confirmed", []string{"keys", "revoke", "codes", "key_000000000000"}, exitAborted, "pass --yes"},
	}
	for _, tc := range cases {
		r := forgectl(t, "", tc.args...)
		if r.code != tc.code || !strings.Contains(r.err, tc.stderr) || strings.Count(r.err, "\n") != 1 {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and one line with %q", tc.name, r.code, r.err, tc.code, tc.stderr)
		}
		if r.out != "" {
			t.Errorf("%s: stdout %q, want nothing", tc.name, r.out)
		}
	}
}

func TestQueryInputs(t *testing.T) {
	ok(t, "", "db", "create", "qin")
	t.Cleanup(func() { forgectl(t, "", "db", "delete", "qin", "--yes") })
	dir := t.TempDir()
	script := filepath.Join(dir, "s.sql")
	if err := os.WriteFile(script, []byte("-- a script\nCREATE TABLE t(a, b);\nINSERT INTO t VALUES (1, 'x;y');\nINSERT INTO t VALUES (2, NULL);\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := ok(t, "", "query", "qin", "-f", script)
	if f := fields(out); len(f) != 2 || strings.Join(f[1], " ") != "3 2" {
		t.Fatalf("script: %q", out)
	}
	// Standard input; positional and named parameters typed from JSON.
	out = ok(t, "SELECT a, b FROM t ORDER BY a", "query", "qin", "-o", "csv")
	if out != "a,b\n1,x;y\n2,\n" {
		t.Fatalf("stdin csv: %q", out)
	}
	out = ok(t, "", "query", "qin", "SELECT typeof(?) AS p1, typeof(?) AS p2, typeof(?) AS p3, typeof(?) AS p4", "-p", "12", "-p", "1.5", "-p", "null", "-p", "twelve")
	if f := fields(out); strings.Join(f[1], " ") != "integer real null text" {
		t.Fatalf("params: %q", out)
	}
	out = ok(t, "", "query", "qin", "SELECT :x || '' AS x", "--named", `x="12"`, "-o", "json")
	if !strings.Contains(out, `"12"`) {
		t.Fatalf("named: %q", out)
	}
	// A script is one transaction: a failing statement applies nothing.
	r := forgectl(t, "INSERT INTO t VALUES (3, 'z');\nINSERT INTO nope VALUES (1);\n", "query", "qin")
	if r.code != exitInvalid || !strings.Contains(r.err, "(statement 1)") {
		t.Fatalf("failing script: %+v", r)
	}
	if out := ok(t, "", "query", "qin", "SELECT count(*) AS n FROM t"); fields(out)[1][0] != "2" {
		t.Fatalf("the failing script wrote: %q", out)
	}
	// A trigger's body holds semicolons.
	ok(t, "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET b = 'trig' WHERE a = new.a; END;\nINSERT INTO t VALUES (9, 'n');", "query", "qin")
	if out := ok(t, "", "query", "qin", "SELECT b FROM t WHERE a = 9"); fields(out)[1][0] != "trig" {
		t.Fatalf("trigger: %q", out)
	}
	// A dry run lists the changes and commits nothing.
	r = forgectl(t, "", "query", "qin", "UPDATE t SET b = 'dry' WHERE a = 1", "--dry-run")
	if r.code != 0 || !strings.Contains(r.out, `{"a":1,"b":"dry"}`) || !strings.Contains(r.err, "nothing was committed") {
		t.Fatalf("dry run: %+v", r)
	}
	if out := ok(t, "", "query", "qin", "SELECT b FROM t WHERE a = 1"); fields(out)[1][0] != "x;y" {
		t.Fatalf("the dry run wrote: %q", out)
	}
	// Values: NULL, blobs, reals.
	out = ok(t, "", "query", "qin", "SELECT NULL AS n, x'00ff' AS b, 2.0 AS r")
	if strings.Join(fields(out)[1], " ") != "NULL x'00ff' 2.0" {
		t.Fatalf("values: %q", out)
	}
}

func TestImportExportBranch(t *testing.T) {
	ok(t, "", "db", "create", "moves")
	t.Cleanup(func() {
		for _, n := range []string{"moves", "moves-copy", "moves-b"} {
			forgectl(t, "", "db", "delete", n, "--yes")
		}
	})
	dir := t.TempDir()
	csv := filepath.Join(dir, "people.csv")
	if err := os.WriteFile(csv, []byte("id,name\n1,ann\n2,bob\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := ok(t, "", "import", "moves", csv, "--table", "people")
	mustContain(t, out, "Import completed.", "people", "true", "2")
	out = ok(t, "CREATE TABLE t(a);\nINSERT INTO t VALUES (1);\n", "import", "moves", "-", "--format", "sql")
	mustContain(t, out, "Import completed.")
	// The file to stdout (piped: no progress bar), then a database from it.
	r := forgectl(t, "", "export", "moves")
	if r.code != 0 || !strings.HasPrefix(r.out, "SQLite format 3\x00") || r.err != "" {
		t.Fatalf("export to a pipe: exit %d, stderr %q, %d bytes", r.code, r.err, len(r.out))
	}
	file := filepath.Join(dir, "m.db")
	if err := os.WriteFile(file, []byte(r.out), 0o644); err != nil {
		t.Fatal(err)
	}
	ok(t, "", "db", "create", "moves-copy", "--file", file)
	if out := ok(t, "", "tables", "moves-copy"); len(fields(out)) != 3 {
		t.Fatalf("copy's tables: %q", out)
	}
	// A branch, and a diff against it.
	ok(t, "", "branch", "moves-b", "--from", "moves")
	ok(t, "", "query", "moves-b", "INSERT INTO people VALUES (3, 'cy')")
	out = ok(t, "", "diff", "moves-b", "--against", "db:moves", "--summary")
	if f := fields(out); len(f) != 2 || strings.Join(f[1], " ") != "people 1 0 0" {
		t.Fatalf("summary: %q", out)
	}
	if r := forgectl(t, "", "import", "moves", csv); r.code != exitUsage {
		t.Fatalf("CSV without --table: %+v", r)
	}
}

func TestCompletion(t *testing.T) {
	if out := ok(t, "", "completion", "bash"); !strings.Contains(out, "__start_forgectl") {
		t.Fatalf("bash completion: %.200q", out)
	}
	if out := ok(t, "", "completion", "zsh"); !strings.HasPrefix(out, "#compdef forgectl") {
		t.Fatalf("zsh completion: %.200q", out)
	}
	// The completion of a subcommand, as the shell asks for it.
	out := ok(t, "", "__complete", "db", "")
	for _, c := range []string{"create", "delete", "list", "prune"} {
		if !bytes.Contains([]byte(out), []byte(c)) {
			t.Fatalf("completion of db lacks %s: %q", c, out)
		}
	}
}

// TestShellPiped: the shell reads a script from a pipe, without prompts;
// BEGIN … COMMIT spans statements; a transaction left open is rolled back.
func TestShellPiped(t *testing.T) {
	ok(t, "", "db", "create", "shp")
	t.Cleanup(func() { forgectl(t, "", "db", "delete", "shp", "--yes") })
	out := ok(t, "CREATE TABLE t(a);\nBEGIN;\nINSERT INTO t VALUES (1);\nINSERT INTO t\n  VALUES (2);\nCOMMIT;\n.mode csv\nSELECT count(*) AS n FROM t;\nBEGIN;\nINSERT INTO t VALUES (3);\n", "shell", "shp")
	if !strings.Contains(out, "n\n2\n") || !strings.HasSuffix(out, "The open transaction was rolled back.\n") || strings.Contains(out, "shp>") {
		t.Fatalf("shell output: %q", out)
	}
	if out := ok(t, "", "query", "shp", "SELECT count(*) AS n FROM t"); fields(out)[1][0] != "2" {
		t.Fatalf("rows after the shell: %q", out)
	}
}
