package forge

import "testing"

func TestLeadingWord(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ sql, want string }{
		{"SELECT 1", "SELECT"},
		{"  \n\tinsert into t values (1)", "insert"},
		{"-- note\nUPDATE t SET a = 1", "UPDATE"},
		{"/* a */ /* b */DELETE FROM t", "DELETE"},
		{"((SELECT 1))", "SELECT"},
		{"WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", "WITH"},
		{"INSERTX INTO t", "INSERTX"},
		{"REPLACE", "REPLACE"},
		{"-- only a comment", ""},
		{"/* unterminated", ""},
		{"", ""},
		{"   ", ""},
		{"; SELECT 1", ""},
		{"sélect 1", "sélect"},
	} {
		if got := LeadingWord(c.sql); got != c.want {
			t.Errorf("LeadingWord(%q) = %q, want %q", c.sql, got, c.want)
		}
	}
}
