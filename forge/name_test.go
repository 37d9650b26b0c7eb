package forge

import (
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestValidateNameAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
	}{
		{"seed test1", "test1"},
		{"seed dash", "my-db"},
		{"seed underscore", "my_db"},
		{"seed dot", "db.v2"},
		{"upper and digit", "A1"},
		{"single letter", "x"},
		{"single digit", "7"},
		{"digit first", "1db"},
		{"mixed separators", "a-b_c.d"},
		{"trailing dash", "db-"},
		{"trailing underscore", "db_"},
		{"wal without dash", "xwal"},
		{"reserved suffix not at end", "x-wal-1"},
		{"journal inside", "x-journalx"},
		{"dot db", "x.db"},
		{"max length", strings.Repeat("a", MaxNameLength)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := ValidateName(tc.in); err != nil {
				t.Fatalf("ValidateName(%q) = %v, want nil", tc.in, err)
			}
		})
	}
}

func TestValidateNameRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"dot", "."},
		{"dotdot", ".."},
		{"inner dotdot", "a..b"},
		{"hidden", ".hidden"},
		{"leading dash", "-x"},
		{"leading underscore", "_x"},
		{"slash", "a/b"},
		{"backslash", "a\\b"},
		{"space", "a b"},
		{"nul", "a\x00b"},
		{"non ascii", "ünï"},
		{"trailing dot", "db."},
		{"single letter trailing dot", "a."},
		{"wal", "x-wal"},
		{"shm", "x-shm"},
		{"journal", "x-journal"},
		{"wal upper", "x-WAL"},
		{"shm mixed", "x-ShM"},
		{"journal upper", "db.v2-JOURNAL"},
		{"too long", strings.Repeat("a", MaxNameLength+1)},
		{"colon", "a:b"},
		{"tab", "a\tb"},
		{"newline", "a\n"},
		{"percent", "a%2e"},
		{"tilde", "~x"},
		{"star", "a*"},
		{"dotdot slash", "../x"},
		{"trailing dotdot", "a.."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := ValidateName(tc.in); !errors.Is(err, ErrInvalidName) {
				t.Fatalf("ValidateName(%q) = %v, want ErrInvalidName", tc.in, err)
			}
		})
	}
}

var seedNamePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{
		"test1", "my-db", "my_db", "db.v2", "A1", "x", "", ".", "..", "a..b",
		".hidden", "-x", "_x", "a/b", "a\\b", "a b", "a\x00b", "ünï", "a.",
		"x-wal", "x-WAL", "x-shm", "x-journal", strings.Repeat("a", 129),
		strings.Repeat("a", 128), "con", "a/../b", "a\u2024b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateName(name)
		if err != nil {
			if !errors.Is(err, ErrInvalidName) {
				t.Fatalf("ValidateName(%q) = %v, want ErrInvalidName", name, err)
			}
			return
		}
		if !seedNamePattern.MatchString(name) {
			t.Fatalf("accepted %q outside the seed pattern", name)
		}
		if strings.Contains(name, "..") {
			t.Fatalf("accepted %q containing ..", name)
		}
		if len(name) > MaxNameLength {
			t.Fatalf("accepted %q of %d bytes", name, len(name))
		}
		if strings.HasSuffix(name, ".") {
			t.Fatalf("accepted %q ending in a dot", name)
		}
		lower := strings.ToLower(name)
		for _, s := range []string{"-wal", "-shm", "-journal"} {
			if strings.HasSuffix(lower, s) {
				t.Fatalf("accepted %q with reserved suffix %s", name, s)
			}
		}
		root := filepath.Join("srv", "root")
		joined := filepath.Join(root, name)
		rel, rerr := filepath.Rel(root, joined)
		if rerr != nil || rel == "." || strings.HasPrefix(rel, "..") {
			t.Fatalf("%q escapes the root: Rel = %q, %v", name, rel, rerr)
		}
		if rel != name {
			t.Fatalf("%q does not stay one path component: Rel = %q", name, rel)
		}
		if filepath.Base(name) != name {
			t.Fatalf("filepath.Base(%q) = %q", name, filepath.Base(name))
		}
	})
}
