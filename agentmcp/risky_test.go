package agentmcp

import (
	"strings"
	"testing"
)

func TestRisky(t *testing.T) {
	t.Parallel()
	cases := []struct {
		sql    string
		risky  bool
		reason string
	}{
		{"DELETE FROM t", true, "deletes every row (no WHERE)"},
		{"delete from t;", true, "deletes every row (no WHERE)"},
		{"  /* c */ DELETE -- x\n FROM t", true, "deletes every row (no WHERE)"},
		{"DELETE FROM t WHERE id = 1", false, ""},
		{"delete from t where id in (select id from u)", false, ""},
		{"DELETE FROM t RETURNING *", true, "deletes every row (no WHERE)"},
		{"UPDATE t SET v = 1", true, "updates every row (no WHERE)"},
		{"UPDATE t SET v = (SELECT x FROM u WHERE u.id = 1)", true, "updates every row (no WHERE)"},
		{"UPDATE t SET v = 'WHERE'", true, "updates every row (no WHERE)"},
		{`UPDATE t SET "where" = 1`, true, "updates every row (no WHERE)"},
		{"UPDATE t SET v = 1 -- WHERE id = 1", true, "updates every row (no WHERE)"},
		{"UPDATE t SET v = 1 WHERE id = 2", false, ""},
		{"UPDATE t SET v = :where", true, "updates every row (no WHERE)"},
		{"WITH x AS (SELECT 1 WHERE 1) DELETE FROM t", true, "deletes every row (no WHERE)"},
		{"WITH x AS (SELECT 1) DELETE FROM t WHERE id IN x", false, ""},
		{"WITH x AS (DELETE FROM t) SELECT 1", false, ""},
		{"DROP TABLE t", true, "drops a table"},
		{"drop table if exists t", true, "drops a table"},
		{"DROP INDEX i", false, ""},
		{"DROP VIEW v", false, ""},
		{"INSERT INTO t SELECT * FROM u", false, ""},
		{"SELECT * FROM t", false, ""},
		{"CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM u; END", false, ""},
		{"", false, ""},
		{"'unterminated", false, ""},
		{"[DELETE] FROM t", false, ""},
	}
	for _, c := range cases {
		reason, risky := Risky(c.sql)
		if risky != c.risky || reason != c.reason {
			t.Errorf("Risky(%q) = %q %v, want %q %v", c.sql, reason, risky, c.reason, c.risky)
		}
	}
}

// FuzzRisky: any text is judged without a panic; a statement judged
// risky stays risky when a comment or whitespace is added around it, and
// one with a top-level WHERE after DELETE is never risky.
func FuzzRisky(f *testing.F) {
	for _, s := range []string{"DELETE FROM t", "UPDATE t SET v = 1 WHERE x", "DROP TABLE t", "WITH a AS (SELECT 1) DELETE FROM t",
		"/* */ -- \n 'a''b' \"c\" `d` [e] (f) :g @h $i", "/*", "--", "[", "'", "(((", ")))"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		reason, risky := Risky(sql)
		if risky != (reason != "") {
			t.Fatalf("Risky(%q) = %q %v", sql, reason, risky)
		}
		if risky {
			if r2, ok := Risky("/* x */ " + sql + "\n"); !ok || r2 != reason {
				t.Fatalf("Risky(%q) = %q, with a comment before: %q %v", sql, reason, r2, ok)
			}
		}
		if !strings.ContainsAny(sql, "'\"`[(-/") {
			if _, ok := Risky("DELETE FROM t WHERE " + sql); ok {
				t.Fatalf("DELETE … WHERE %q judged risky", sql)
			}
		}
	})
}
