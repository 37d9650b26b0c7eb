package main

import (
	"reflect"
	"testing"
)

func TestSplitStatements(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"SELECT 1", []string{"SELECT 1"}},
		{"SELECT 1;", []string{"SELECT 1"}},
		{"SELECT 1; SELECT 2;\n", []string{"SELECT 1", "SELECT 2"}},
		{"SELECT 'a;b'; SELECT \"c;\"", []string{"SELECT 'a;b'", "SELECT \"c;\""}},
		{"SELECT 'it''s;'; SELECT 2", []string{"SELECT 'it''s;'", "SELECT 2"}},
		{"SELECT [x;y] FROM t; SELECT `a;`", []string{"SELECT [x;y] FROM t", "SELECT `a;`"}},
		{"-- a comment; still one\nSELECT 1; /* c; */ SELECT 2", []string{"-- a comment; still one\nSELECT 1", "/* c; */ SELECT 2"}},
		{";;  ;\n-- only a comment\n", nil},
		{"CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = 1; DELETE FROM u; END; SELECT 1",
			[]string{"CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = 1; DELETE FROM u; END", "SELECT 1"}},
		{"SELECT 'open", []string{"SELECT 'open"}},
	}
	for _, tc := range cases {
		if got := splitStatements(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitStatements(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// The shell's view: complete statements and the rest still typed.
	stmts, rest := scanStatements("SELECT 1; SELECT\n  2")
	if !reflect.DeepEqual(stmts, []string{"SELECT 1"}) || rest != " SELECT\n  2" {
		t.Errorf("scan: %q %q", stmts, rest)
	}
}
