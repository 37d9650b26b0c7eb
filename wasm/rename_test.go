package wasm

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/praetorian/db-forge/forge"
)

func TestRenamedTo(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		sql  string
		want string
		ok   bool
	}{
		{"ALTER TABLE t RENAME TO u", "u", true},
		{"alter table main.t rename to _forge_x", "_forge_x", true},
		{`ALTER TABLE "t" RENAME TO "_forge_""x"`, `_forge_"x`, true},
		{"ALTER TABLE [t] RENAME TO [_forge_x]", "_forge_x", true},
		{"ALTER TABLE `t` RENAME TO `_FORGE_x`", "_FORGE_x", true},
		{"ALTER TABLE t RENAME TO '_forge_x'", "_forge_x", true},
		{"/* c */ ALTER -- c\n TABLE t /* c */ RENAME /**/ TO\n_forge_x", "_forge_x", true},
		{`ALTER TABLE "main"."t" RENAME TO v`, "v", true},
		{"ALTER TABLE t RENAME COLUMN a TO _forge_x", "", false},
		{"ALTER TABLE t RENAME a TO b", "", false},
		{"ALTER TABLE t ADD COLUMN _forge_x", "", false},
		{"SELECT 1", "", false},
		{"ALTER TABLE", "", false},
		{"", "", false},
	} {
		got, ok := renamedTo(c.sql)
		if got != c.want || ok != c.ok {
			t.Errorf("renamedTo(%q) = %q, %v; want %q, %v", c.sql, got, ok, c.want, c.ok)
		}
	}
}

// TestRenameToReservedRefused: a table cannot be renamed into the
// bookkeeping tables' names (the authorizer is not told the new name).
func TestRenameToReservedRefused(t *testing.T) {
	e, layout := newTestEngine(t, Config{})
	createDB(t, layout, "renames")
	exec(t, e, "renames", "CREATE TABLE t (a)")
	for _, sql := range []string{
		"ALTER TABLE t RENAME TO _forge_idempotency",
		`ALTER TABLE "t" RENAME TO "_FORGE_x"`,
		"ALTER TABLE main.t RENAME TO [_forge_y]",
	} {
		_, err := e.Query(context.Background(), "renames", forge.Statement{SQL: sql}, nil)
		var na *forge.NotAuthorizedError
		if !errors.Is(err, forge.ErrNotAuthorized) || !errors.As(err, &na) || !strings.Contains(na.Reason, "reserved") {
			t.Errorf("%s: %v, want the reserved names' refusal", sql, err)
		}
	}
	exec(t, e, "renames", "ALTER TABLE t RENAME TO u")
	exec(t, e, "renames", "ALTER TABLE u RENAME COLUMN a TO _forge_col") // a column may be called anything
	if n := queryInt(t, e, "renames", "SELECT count(*) FROM u"); n != 0 {
		t.Fatalf("u holds %d rows", n)
	}
}

// FuzzRenamedTo: any text, however broken, is read without a panic, and a
// name found is a piece of the text (unquoted).
func FuzzRenamedTo(f *testing.F) {
	for _, s := range []string{"ALTER TABLE t RENAME TO u", `ALTER TABLE "a""b" RENAME TO "c""d"`,
		"ALTER TABLE [x", "ALTER TABLE t RENAME TO 'unterminated", "/* */ALTER/**/TABLE s.t RENAME TO `x`"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		name, ok := renamedTo(sql)
		if !ok && name != "" {
			t.Fatalf("renamedTo(%q) = %q without ok", sql, name)
		}
		if len(name) > len(sql) {
			t.Fatalf("renamedTo(%q) = %q, longer than the text", sql, name)
		}
	})
}
