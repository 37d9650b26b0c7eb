package snapshot

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/praetorian/db-forge/forge"
)

func split(t testing.TB, src string, max int) ([]string, error) {
	t.Helper()
	sc := NewScript([]byte(src), max)
	var out []string
	for {
		s, ok, err := sc.Next()
		if err != nil {
			return out, err
		}
		if !ok {
			return out, nil
		}
		out = append(out, s)
	}
}

func TestScriptSplits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, src string
		want      []string
		code      string
	}{
		{"two", "CREATE TABLE a(x); INSERT INTO a VALUES (1);", []string{"CREATE TABLE a(x);", "INSERT INTO a VALUES (1);"}, ""},
		{"no final semicolon", "SELECT 1;\nSELECT 2", []string{"SELECT 1;", "SELECT 2"}, ""},
		{"semicolons in quotes", `INSERT INTO a VALUES ('a;b', "c;d", [e;f], ` + "`g;h`" + `);SELECT 1;`,
			[]string{`INSERT INTO a VALUES ('a;b', "c;d", [e;f], ` + "`g;h`" + `);`, "SELECT 1;"}, ""},
		{"doubled quotes", `INSERT INTO a VALUES ('it''s;'); SELECT 2;`, []string{`INSERT INTO a VALUES ('it''s;');`, "SELECT 2;"}, ""},
		{"comments", "-- a; b\nSELECT 1; /* c; d */ SELECT 2;", []string{"-- a; b\nSELECT 1;", "/* c; d */ SELECT 2;"}, ""},
		{"only comments", "-- nothing;\n/* ; */ ;;\n", nil, ""},
		{"trigger", "CREATE TRIGGER t AFTER INSERT ON a BEGIN INSERT INTO b VALUES (1); UPDATE c SET x = 1; END; SELECT 1;",
			[]string{"CREATE TRIGGER t AFTER INSERT ON a BEGIN INSERT INTO b VALUES (1); UPDATE c SET x = 1; END;", "SELECT 1;"}, ""},
		{"temp trigger", "create temp trigger t after insert on a begin select 1; end;select 2;",
			[]string{"create temp trigger t after insert on a begin select 1; end;", "select 2;"}, ""},
		{"trigger with CASE END", "CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT CASE WHEN 1 THEN 2 END; END; SELECT 3;",
			[]string{"CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT CASE WHEN 1 THEN 2 END; END;", "SELECT 3;"}, ""},
		{"explain create trigger", "EXPLAIN CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; END;",
			[]string{"EXPLAIN CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; END;"}, ""},
		{"table named trigger", "CREATE TABLE trigger(x); SELECT 1;", []string{"CREATE TABLE trigger(x);", "SELECT 1;"}, ""},
		{"open quote", "SELECT 'x;", nil, forge.CodeInvalidSQLScript},
		{"open comment", "SELECT 1; /* x", []string{"SELECT 1;"}, forge.CodeInvalidSQLScript},
		{"open bracket", "SELECT [x", nil, forge.CodeInvalidSQLScript},
		{"too long", "SELECT '" + strings.Repeat("x", 200) + "';", nil, forge.CodeInvalidSQLScript},
		{"too long at the end", "SELECT 1;" + strings.Repeat("x", 200), []string{"SELECT 1;"}, forge.CodeInvalidSQLScript},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := split(t, tc.src, 128)
			var ie *forge.InputError
			code := ""
			if errors.As(err, &ie) {
				code = ie.Code
			} else if err != nil {
				t.Fatalf("error %v", err)
			}
			if code != tc.code || !slices.Equal(got, tc.want) {
				t.Fatalf("got %q %q, want %q %q", got, code, tc.want, tc.code)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	cases := map[string]stmtKind{
		"BEGIN TRANSACTION;":            stmtSkip,
		"begin;":                        stmtSkip,
		"COMMIT;":                       stmtSkip,
		"end transaction;":              stmtSkip,
		"PRAGMA foreign_keys=OFF;":      stmtSkip,
		"pragma foreign_keys = 0;":      stmtSkip,
		"PRAGMA foreign_keys=ON;":       stmtRun,
		"ROLLBACK; -- due to errors":    stmtRollback,
		"ROLLBACK TO sp;":               stmtRun,
		"/* c */ COMMIT;":               stmtSkip,
		"CREATE TABLE begin_x(a);":      stmtRun,
		"SELECT 'BEGIN';":               stmtRun,
		"INSERT INTO t VALUES ('END');": stmtRun,
	}
	for sql, want := range cases {
		if got := classify(sql); got != want {
			t.Errorf("%q: %d, want %d", sql, got, want)
		}
	}
}

// FuzzScript: the reader never panics; each statement is meaningful,
// comes from the script in order, and is read back as itself alone.
func FuzzScript(f *testing.F) {
	for _, s := range []string{
		"CREATE TABLE a(x); INSERT INTO a VALUES ('a;b');",
		"CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; END; SELECT 2",
		"-- x\n/* y */ ;; SELECT [a;b], `c;d`, \"e;f\";",
		"EXPLAIN CREATE TEMP TRIGGER x BEGIN END; END;",
		"SELECT 'open",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		got, err := split(t, src, 1<<10)
		rest := src
		for _, s := range got {
			if !meaningful(s) {
				t.Fatalf("statement %q is only spaces and comments", s)
			}
			i := strings.Index(rest, s)
			if i < 0 {
				t.Fatalf("statement %q is not in the script (in order)", s)
			}
			rest = rest[i+len(s):]
			again, err := split(t, s, 1<<10)
			if err != nil || len(again) != 1 || again[0] != s {
				t.Fatalf("statement %q read alone: %q %v", s, again, err)
			}
		}
		var ie *forge.InputError
		if err != nil && !errors.As(err, &ie) {
			t.Fatalf("error not an InputError: %v", err)
		}
	})
}
