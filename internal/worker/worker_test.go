package worker

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(dir, db string) func(string) string {
	return func(k string) string {
		switch k {
		case EnvDB:
			return db
		case EnvDataDir:
			return dir
		}
		return ""
	}
}

func run(t *testing.T, dir string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, env(dir, "db"), strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestHealth(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := run(t, dir, "", "health"); code != 1 || !strings.Contains(stderr, "no such file") {
		t.Fatalf("missing file: code %d, %q", code, stderr)
	}
	if err := os.WriteFile(filepath.Join(dir, "db.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := run(t, dir, "", "health"); code != 0 || strings.TrimSpace(out) != "ok" {
		t.Fatalf("empty database: code %d, %q", code, out)
	}
	if code, _, stderr := run(t, dir, "", "sql", "-c", "CREATE TABLE t (v); INSERT INTO t VALUES (1), (2);"); code != 0 {
		t.Fatalf("sql: %d %s", code, stderr)
	}
	if code, out, _ := run(t, dir, "", "health"); code != 0 || strings.TrimSpace(out) != "ok" {
		t.Fatalf("populated database: code %d, %q", code, out)
	}
	// Not a database at all.
	if err := os.WriteFile(filepath.Join(dir, "db.db"), bytes.Repeat([]byte("garbage!"), 1024), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, dir, "", "health"); code != 1 || stderr == "" {
		t.Fatalf("garbage file passed health: code %d, %q", code, stderr)
	}
}

func TestSQLShell(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "db.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, dir, "", "sql", "-c", "CREATE TABLE t (a, b); INSERT INTO t VALUES (1, 'x'), (NULL, x'0aff'); SELECT a, b FROM t;")
	if code != 0 || out != "a|b\n1|x\n|X'0AFF'\n" {
		t.Fatalf("-c: code %d out %q err %q", code, out, stderr)
	}
	// A script on stdin: statements across lines, dot-commands, an error.
	script := "SELECT\n  count(*) AS n\nFROM t;\n.tables\nSELEC 1;\n.quit\nSELECT 'not reached';\n"
	code, out, stderr = run(t, dir, script, "sql")
	if out != "n\n2\nname\nt\n" || !strings.Contains(stderr, "syntax error") {
		t.Fatalf("script: code %d out %q err %q", code, out, stderr)
	}
	if code, _, stderr := run(t, dir, "", "sql", "-c", "SELECT * FROM nowhere"); code != 1 || !strings.Contains(stderr, "no such table") {
		t.Fatalf("error exit: %d %q", code, stderr)
	}
}

func TestHoldStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var out bytes.Buffer
	go func() { done <- Run(ctx, nil, env(t.TempDir(), "db"), strings.NewReader(""), &out, &out) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(time.Second):
		t.Fatal("hold did not stop within a second of its signal")
	}
}

func TestBadInvocations(t *testing.T) {
	for _, tc := range []struct {
		db   string
		args []string
		code int
	}{
		{"", nil, 2},
		{"../etc", nil, 2},
		{"..", nil, 2},
		{"db", []string{"frobnicate"}, 2},
	} {
		var out bytes.Buffer
		if code := Run(context.Background(), tc.args, env(t.TempDir(), tc.db), strings.NewReader(""), &out, &out); code != tc.code {
			t.Errorf("db %q args %v: exit %d, want %d (%s)", tc.db, tc.args, code, tc.code, out.String())
		}
	}
}
