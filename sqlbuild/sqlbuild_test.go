package sqlbuild

import (
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/praetorian/db-forge/forge"
)

// inputCode returns the code of a *forge.InputError, or fails the test.
func inputCode(t *testing.T, err error) string {
	t.Helper()
	var ie *forge.InputError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v (%T) is not a *forge.InputError", err, err)
	}
	return ie.Code
}

func TestNormalizeType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string // "" = refused
	}{
		{"integer", "INTEGER", "INTEGER"},
		{"lower int", "int", "INT"},
		{"mixed case text", "Text", "TEXT"},
		{"padded", "  real  ", "REAL"},
		{"blob", "blob", "BLOB"},
		{"varchar sized", "VARCHAR(255)", "VARCHAR(255)"},
		{"varchar spaced", "varchar ( 255 )", "VARCHAR(255)"},
		{"decimal two args", "decimal(10, 2)", "DECIMAL(10,2)"},
		{"numeric one arg", "NUMERIC(5)", "NUMERIC(5)"},
		{"double precision", "DOUBLE PRECISION", "DOUBLE"},
		{"double precision lower", "double precision", "DOUBLE"},
		{"boolean", "BOOLEAN", "BOOLEAN"},
		{"datetime", "datetime", "DATETIME"},
		{"max size digits", "CHAR(99999)", "CHAR(99999)"},

		{"injection", "TEXT; DROP TABLE x", ""},
		{"constraint smuggled", "INTEGER PRIMARY KEY", ""},
		{"too many args", "VARCHAR(1,2)", ""},
		{"non numeric size", "VARCHAR(abc)", ""},
		{"empty", "", ""},
		{"spaces only", "   ", ""},
		{"stray paren", "BLOB)", ""},
		{"unsized type with size", "INTEGER(10)", ""},
		{"unclosed", "VARCHAR(10", ""},
		{"double close", "VARCHAR(10))", ""},
		{"empty size", "VARCHAR()", ""},
		{"empty second arg", "DECIMAL(10,)", ""},
		{"three args", "DECIMAL(1,2,3)", ""},
		{"negative size", "VARCHAR(-1)", ""},
		{"size too long", "VARCHAR(123456)", ""},
		{"trailing after paren", "VARCHAR(10) NOT NULL", ""},
		{"unknown", "STRING", ""},
		{"comment", "TEXT--", ""},
		{"quote", "TEXT'", ""},
		{"double precision extra space", "DOUBLE  PRECISION", ""},
		{"nested paren", "VARCHAR((1))", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := NormalizeType(tc.in)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("NormalizeType(%q) = %q, want an error", tc.in, got)
				}
				if code := inputCode(t, err); code != CodeInvalidType {
					t.Fatalf("code = %q, want %q", code, CodeInvalidType)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("NormalizeType(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func FuzzNormalizeType(f *testing.F) {
	for _, s := range []string{"INTEGER", "VARCHAR(255)", "decimal(10, 2)", "DOUBLE PRECISION", "TEXT; DROP TABLE x", "BLOB)", "ınteger"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := NormalizeType(in)
		if err != nil {
			return
		}
		// The output is one of the fixed names, optionally with digit sizes.
		name, args, sized := strings.Cut(got, "(")
		if !simpleTypes[name] {
			t.Fatalf("NormalizeType(%q) = %q: unknown name", in, got)
		}
		if sized {
			if !strings.HasSuffix(args, ")") || strings.Trim(strings.TrimSuffix(args, ")"), "0123456789,") != "" {
				t.Fatalf("NormalizeType(%q) = %q: bad size", in, got)
			}
		}
		again, err := NormalizeType(got)
		if err != nil || again != got {
			t.Fatalf("NormalizeType not idempotent: %q -> %q -> %q, %v", in, got, again, err)
		}
	})
}

func TestLiteral(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      forge.Value
		want    string
		wantErr bool
	}{
		{"null", forge.NullValue(), "NULL", false},
		{"int", forge.IntValue(42), "42", false},
		{"negative int", forge.IntValue(-7), "-7", false},
		{"min int", forge.IntValue(math.MinInt64), "-9223372036854775808", false},
		{"float integral", forge.FloatValue(1100), "(1100.0)", false},
		{"float fraction", forge.FloatValue(1.5), "(1.5)", false},
		{"float negative", forge.FloatValue(-0.25), "(-0.25)", false},
		{"float zero", forge.FloatValue(0), "(0.0)", false},
		{"float big", forge.FloatValue(1e21), "(1e+21)", false},
		{"float tiny", forge.FloatValue(1e-7), "(1e-07)", false},
		{"float +inf", forge.FloatValue(math.Inf(1)), "", true},
		{"float -inf", forge.FloatValue(math.Inf(-1)), "", true},
		{"float nan", forge.FloatValue(math.NaN()), "", true},
		{"text", forge.TextValue("pending"), "'pending'", false},
		{"text quote", forge.TextValue("it's"), "'it''s'", false},
		{"text only quotes", forge.TextValue("''"), "''''''", false},
		{"text empty", forge.TextValue(""), "''", false},
		{"text double quote untouched", forge.TextValue(`a"b`), `'a"b'`, false},
		{"text unicode", forge.TextValue("ünï"), "'ünï'", false},
		{"text nul", forge.TextValue("a\x00b"), "", true},
		{"text invalid utf8", forge.TextValue("a\xffb"), "", true},
		{"blob", forge.BlobValue([]byte{0x00, 0xff, 0x1a}), "X'00ff1a'", false},
		{"blob empty", forge.BlobValue(nil), "X''", false},
		{"unknown kind", forge.Value{Kind: forge.Kind(99)}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Literal(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Literal = %q, want an error", got)
				}
				if code := inputCode(t, err); code != CodeInvalidDefault {
					t.Fatalf("code = %q, want %q", code, CodeInvalidDefault)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Literal = %q, %v, want %q", got, err, tc.want)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"plain", "tasks", `"tasks"`},
		{"one quote", `a"b`, `"a""b"`},
		{"only quotes", `""`, `""""""`},
		{"empty", "", `""`},
		{"single quote kept", "it's", `"it's"`},
		{"unicode", "ünï", `"ünï"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Quote(tc.in); got != tc.want {
				t.Fatalf("Quote(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestValidateNewIdentifier(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"simple", "tasks", true},
		{"underscore first", "_x", true},
		{"digits after", "a1_2", true},
		{"upper", "ABC", true},
		{"max length", strings.Repeat("a", MaxIdentifierLength), true},
		{"sqlite without underscore", "sqlitex", true},
		{"empty", "", false},
		{"too long", strings.Repeat("a", MaxIdentifierLength+1), false},
		{"digit first", "1abc", false},
		{"dash", "a-b", false},
		{"space", "a b", false},
		{"quote", `a"b`, false},
		{"dot", "a.b", false},
		{"reserved prefix", "sqlite_x", false},
		{"reserved prefix upper", "SQLITE_master", false},
		{"non ascii", "ü", false},
		{"nul", "a\x00", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateNewIdentifier("column", tc.in)
			if tc.ok {
				if err != nil {
					t.Fatalf("ValidateNewIdentifier(%q) = %v, want nil", tc.in, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateNewIdentifier(%q) = nil, want an error", tc.in)
			}
			if code := inputCode(t, err); code != CodeInvalidIdentifier {
				t.Fatalf("code = %q, want %q", code, CodeInvalidIdentifier)
			}
		})
	}
}

func TestValidateExistingIdentifier(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"simple", "tasks", true},
		{"anything quotable", `my table "x"-1`, true},
		{"unicode", "ünï", true},
		{"sqlite prefix allowed", "sqlite_sequence", true},
		{"1024 bytes", strings.Repeat("a", 1024), true},
		{"empty", "", false},
		{"nul", "a\x00b", false},
		{"invalid utf8", "a\xff", false},
		{"too long", strings.Repeat("a", 1025), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateExistingIdentifier("table", tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ValidateExistingIdentifier(%q) = %v, want ok=%v", tc.in, err, tc.ok)
			}
			if err != nil {
				if code := inputCode(t, err); code != CodeInvalidIdentifier {
					t.Fatalf("code = %q", code)
				}
			}
		})
	}
}

func ptr(v forge.Value) *forge.Value { return &v }

func TestCreateTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		spec     forge.TableSpec
		max      int
		want     string
		wantCode string
	}{
		{
			name: "seed example",
			spec: forge.TableSpec{Name: "tasks", Columns: []forge.ColumnSpec{
				{Name: "id", Type: "INTEGER", PrimaryKey: true},
				{Name: "description", Type: "TEXT", NotNull: true},
				{Name: "status", Type: "TEXT", Default: ptr(forge.TextValue("pending"))},
			}},
			want: `CREATE TABLE IF NOT EXISTS "tasks" ("id" INTEGER PRIMARY KEY, "description" TEXT NOT NULL, "status" TEXT DEFAULT 'pending')`,
		},
		{
			name: "composite primary key",
			spec: forge.TableSpec{Name: "m", Columns: []forge.ColumnSpec{
				{Name: "a", Type: "int", PrimaryKey: true},
				{Name: "b", Type: "text", PrimaryKey: true},
				{Name: "c", Type: "real"},
			}},
			want: `CREATE TABLE IF NOT EXISTS "m" ("a" INT, "b" TEXT, "c" REAL, PRIMARY KEY ("a", "b"))`,
		},
		{
			name: "all flags and defaults",
			spec: forge.TableSpec{Name: "t", Columns: []forge.ColumnSpec{
				{Name: "u", Type: "varchar(20)", NotNull: true, Unique: true, Default: ptr(forge.TextValue("it's"))},
				{Name: "f", Type: "DOUBLE PRECISION", Default: ptr(forge.FloatValue(1100))},
				{Name: "i", Type: "BIGINT", Default: ptr(forge.IntValue(-1))},
				{Name: "n", Type: "TEXT", Default: ptr(forge.NullValue())},
				{Name: "b", Type: "BLOB", Default: ptr(forge.BlobValue([]byte{0xab}))},
				{Name: "untyped"},
			}},
			want: `CREATE TABLE IF NOT EXISTS "t" ("u" VARCHAR(20) NOT NULL UNIQUE DEFAULT 'it''s', "f" DOUBLE DEFAULT (1100.0), "i" BIGINT DEFAULT -1, "n" TEXT DEFAULT NULL, "b" BLOB DEFAULT X'ab', "untyped")`,
		},
		{
			name: "max columns reached exactly",
			spec: forge.TableSpec{Name: "t", Columns: []forge.ColumnSpec{{Name: "a", Type: "TEXT"}, {Name: "b", Type: "TEXT"}}},
			max:  2,
			want: `CREATE TABLE IF NOT EXISTS "t" ("a" TEXT, "b" TEXT)`,
		},
		{
			name:     "too many columns",
			spec:     forge.TableSpec{Name: "t", Columns: []forge.ColumnSpec{{Name: "a", Type: "TEXT"}, {Name: "b", Type: "TEXT"}}},
			max:      1,
			wantCode: CodeInvalidTable,
		},
		{
			name:     "zero columns",
			spec:     forge.TableSpec{Name: "t"},
			wantCode: CodeInvalidTable,
		},
		{
			name:     "duplicate column case-insensitive",
			spec:     forge.TableSpec{Name: "t", Columns: []forge.ColumnSpec{{Name: "Id", Type: "TEXT"}, {Name: "iD", Type: "TEXT"}}},
			wantCode: CodeInvalidTable,
		},
		{
			name:     "duplicate column exact",
			spec:     forge.TableSpec{Name: "t", Columns: []forge.ColumnSpec{{Name: "a", Type: "TEXT"}, {Name: "a", Type: "INTEGER"}}},
			wantCode: CodeInvalidTable,
		},
		{name: "table digit first", spec: forge.TableSpec{Name: "1abc", Columns: []forge.ColumnSpec{{Name: "a", Type: "TEXT"}}}, wantCode: CodeInvalidIdentifier},
		{name: "table dash", spec: forge.TableSpec{Name: "a-b", Columns: []forge.ColumnSpec{{Name: "a", Type: "TEXT"}}}, wantCode: CodeInvalidIdentifier},
		{name: "table sqlite prefix", spec: forge.TableSpec{Name: "sqlite_x", Columns: []forge.ColumnSpec{{Name: "a", Type: "TEXT"}}}, wantCode: CodeInvalidIdentifier},
		{name: "table quote", spec: forge.TableSpec{Name: `a"b`, Columns: []forge.ColumnSpec{{Name: "a", Type: "TEXT"}}}, wantCode: CodeInvalidIdentifier},
		{name: "table empty", spec: forge.TableSpec{Name: "", Columns: []forge.ColumnSpec{{Name: "a", Type: "TEXT"}}}, wantCode: CodeInvalidIdentifier},
		{name: "column digit first", spec: forge.TableSpec{Name: "t", Columns: []forge.ColumnSpec{{Name: "1abc", Type: "TEXT"}}}, wantCode: CodeInvalidIdentifier},
		{name: "column dash", spec: forge.TableSpec{Name: "t", Columns: []forge.ColumnSpec{{Name: "a-b", Type: "TEXT"}}}, wantCode: CodeInvalidIdentifier},
		{name: "column sqlite prefix", spec: forge.TableSpec{Name: "t", Columns: []forge.ColumnSpec{{Name: "SQLITE_x", Type: "TEXT"}}}, wantCode: CodeInvalidIdentifier},
		{name: "column quote", spec: forge.TableSpec{Name: "t", Columns: []forge.ColumnSpec{{Name: `a"b`, Type: "TEXT"}}}, wantCode: CodeInvalidIdentifier},
		{name: "bad type", spec: forge.TableSpec{Name: "t", Columns: []forge.ColumnSpec{{Name: "a", Type: "TEXT); DROP TABLE x; --"}}}, wantCode: CodeInvalidType},
		{name: "bad default", spec: forge.TableSpec{Name: "t", Columns: []forge.ColumnSpec{{Name: "a", Type: "REAL", Default: ptr(forge.FloatValue(math.Inf(1)))}}}, wantCode: CodeInvalidDefault},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := CreateTable(tc.spec, tc.max)
			if tc.wantCode != "" {
				if err == nil {
					t.Fatalf("CreateTable = %q, want error %s", got, tc.wantCode)
				}
				if code := inputCode(t, err); code != tc.wantCode {
					t.Fatalf("code = %q (%v), want %q", code, err, tc.wantCode)
				}
				if got != "" {
					t.Fatalf("CreateTable returned SQL %q with an error", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("CreateTable =\n %s, %v\nwant\n %s", got, err, tc.want)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		table   string
		filters []string
		orderBy string
		want    string
	}{
		{"all rows", "tasks", nil, "", `SELECT * FROM "tasks"`},
		{"ordered", "tasks", nil, "rowid", `SELECT * FROM "tasks" ORDER BY rowid`},
		{"one filter", "tasks", []string{"status"}, "", `SELECT * FROM "tasks" WHERE "status" = ?1`},
		{"two filters ordered", "tasks", []string{"status", "id"}, "_rowid_", `SELECT * FROM "tasks" WHERE "status" = ?1 AND "id" = ?2 ORDER BY _rowid_`},
		{"quoted names", `my "t"`, []string{`c"x`}, "", `SELECT * FROM "my ""t""" WHERE "c""x" = ?1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Select(tc.table, tc.filters, tc.orderBy); got != tc.want {
				t.Fatalf("Select = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestInsert(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		table   string
		columns []string
		want    string
	}{
		{"defaults", "tasks", nil, `INSERT INTO "tasks" DEFAULT VALUES`},
		{"one column", "tasks", []string{"description"}, `INSERT INTO "tasks" ("description") VALUES (?)`},
		{"three columns", "tasks", []string{"id", "description", "status"}, `INSERT INTO "tasks" ("id", "description", "status") VALUES (?, ?, ?)`},
		{"quoted names", `t"1`, []string{`a"b`}, `INSERT INTO "t""1" ("a""b") VALUES (?)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Insert(tc.table, tc.columns); got != tc.want {
				t.Fatalf("Insert = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestRowidAlias(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		columns []string
		want    string
	}{
		{"none shadowed", []string{"id", "name"}, "rowid"},
		{"no columns", nil, "rowid"},
		{"rowid shadowed", []string{"rowid", "x"}, "_rowid_"},
		{"rowid shadowed any case", []string{"ROWID"}, "_rowid_"},
		{"two shadowed", []string{"RowId", "_ROWID_"}, "oid"},
		{"all shadowed", []string{"oid", "_rowid_", "rowid"}, ""},
		{"oid only shadowed", []string{"OID"}, "rowid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := RowidAlias(tc.columns); got != tc.want {
				t.Fatalf("RowidAlias(%q) = %q, want %q", tc.columns, got, tc.want)
			}
		})
	}
}

var newIdentifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// FuzzIdentifiers: whatever name a client sends, an accepted new name is
// plain, an accepted existing name is valid UTF-8 without NUL, and Quote
// makes either one SQL identifier that reads back as the name.
func FuzzIdentifiers(f *testing.F) {
	for _, s := range []string{"t", "tasks", "_x1", "1x", "sqlite_master", "SQLite_x", `a"b`, `"`, `""`,
		"a b", "a\x00b", "\xff", "näme", "x]", "a;DROP TABLE t", strings.Repeat("a", 129), ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if err := ValidateNewIdentifier("table", name); err == nil {
			if !newIdentifier.MatchString(name) || len(name) > MaxIdentifierLength ||
				strings.HasPrefix(strings.ToLower(name), "sqlite_") {
				t.Fatalf("accepted new identifier %q", name)
			}
		} else if inputCode(t, err) != CodeInvalidIdentifier {
			t.Fatalf("code of %v", err)
		}
		if err := ValidateExistingIdentifier("table", name); err != nil {
			if inputCode(t, err) != CodeInvalidIdentifier {
				t.Fatalf("code of %v", err)
			}
			return
		}
		if strings.IndexByte(name, 0) >= 0 || !utf8.ValidString(name) || name == "" {
			t.Fatalf("accepted existing identifier %q", name)
		}
		q := Quote(name)
		if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
			t.Fatalf("Quote(%q) = %s", name, q)
		}
		inner := q[1 : len(q)-1]
		// Inside, every quote is doubled: the identifier cannot end early.
		if strings.Count(strings.ReplaceAll(inner, `""`, ""), `"`) != 0 {
			t.Fatalf("Quote(%q) = %s ends early", name, q)
		}
		if back := strings.ReplaceAll(inner, `""`, `"`); back != name {
			t.Fatalf("Quote(%q) = %s reads back as %q", name, q, back)
		}
	})
}
