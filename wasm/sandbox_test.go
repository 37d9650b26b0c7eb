package wasm

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/volumes"
)

func TestAuthorize(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		action   sqlite3.AuthorizerActionCode
		arg3     string
		arg4     string
		schema   string
		stepping bool
		want     string // "" = allowed; else a substring of the reason
	}{
		{"select", sqlite3.AUTH_SELECT, "", "", "main", false, ""},
		{"read", sqlite3.AUTH_READ, "t", "x", "main", false, ""},
		{"insert", sqlite3.AUTH_INSERT, "t", "", "main", false, ""},
		{"create table", sqlite3.AUTH_CREATE_TABLE, "t", "", "main", false, ""},
		{"create trigger", sqlite3.AUTH_CREATE_TRIGGER, "tr", "t", "main", false, ""},
		{"alter", sqlite3.AUTH_ALTER_TABLE, "main", "t", "main", false, ""},
		{"transaction", sqlite3.AUTH_TRANSACTION, "BEGIN", "", "main", false, ""},
		{"savepoint", sqlite3.AUTH_SAVEPOINT, "BEGIN", "sp", "main", false, ""},
		{"function", sqlite3.AUTH_FUNCTION, "", "abs", "main", false, ""},
		{"attach", sqlite3.AUTH_ATTACH, "/data/databases/other/other.db", "", "main", false, reasonAttach},
		{"attach of a parameter", sqlite3.AUTH_ATTACH, "", "", "main", false, reasonAttach},
		{"vacuum's own attach", sqlite3.AUTH_ATTACH, "", "", "main", true, reasonVacuum},
		{"vacuum into", sqlite3.AUTH_ATTACH, "/tmp/x.db", "", "main", true, reasonVacuum},
		{"detach", sqlite3.AUTH_DETACH, "x", "", "main", false, reasonDetach},
		{"temp table", sqlite3.AUTH_CREATE_TEMP_TABLE, "t", "", "main", false, reasonTemp},
		{"temp view", sqlite3.AUTH_CREATE_TEMP_VIEW, "v", "", "main", false, reasonTemp},
		{"temp trigger", sqlite3.AUTH_CREATE_TEMP_TRIGGER, "tr", "t", "main", false, reasonTemp},
		{"temp index", sqlite3.AUTH_CREATE_TEMP_INDEX, "i", "t", "main", false, reasonTemp},
		{"fts5", sqlite3.AUTH_CREATE_VTABLE, "f", "fts5", "main", false, ""},
		{"rtree", sqlite3.AUTH_CREATE_VTABLE, "r", "rtree", "main", false, ""},
		{"rtree upper case", sqlite3.AUTH_CREATE_VTABLE, "r", "RTREE", "main", false, ""},
		{"spellfix1", sqlite3.AUTH_CREATE_VTABLE, "s", "spellfix1", "main", false, `"spellfix1" is not allowed`},
		{"geopoly", sqlite3.AUTH_CREATE_VTABLE, "g", "geopoly", "main", false, `"geopoly" is not allowed`},
		{"unknown action", sqlite3.AuthorizerActionCode(99), "", "", "main", false, reasonUnknown},
		{"pragma table_info", sqlite3.AUTH_PRAGMA, "table_info", "t", "main", false, ""},
		{"pragma TABLE_INFO", sqlite3.AUTH_PRAGMA, "TABLE_INFO", "t", "main", false, ""},
		{"pragma table_list", sqlite3.AUTH_PRAGMA, "table_list", "", "main", false, ""},
		{"pragma user_version set", sqlite3.AUTH_PRAGMA, "user_version", "7", "main", false, ""},
		{"pragma page_count", sqlite3.AUTH_PRAGMA, "page_count", "", "main", false, ""},
		{"pragma page_size set", sqlite3.AUTH_PRAGMA, "page_size", "512", "main", false, "can only be read"},
		{"pragma max_page_count set", sqlite3.AUTH_PRAGMA, "max_page_count", "1000000", "main", false, "can only be read"},
		{"pragma journal_mode", sqlite3.AUTH_PRAGMA, "journal_mode", "", "main", false, "PRAGMA journal_mode is not allowed"},
		{"pragma journal_mode set", sqlite3.AUTH_PRAGMA, "journal_mode", "delete", "main", false, "not allowed"},
		{"pragma synchronous", sqlite3.AUTH_PRAGMA, "synchronous", "off", "main", false, "not allowed"},
		{"pragma locking_mode", sqlite3.AUTH_PRAGMA, "locking_mode", "exclusive", "main", false, "not allowed"},
		{"pragma writable_schema", sqlite3.AUTH_PRAGMA, "writable_schema", "on", "main", false, "not allowed"},
		{"pragma cache_size", sqlite3.AUTH_PRAGMA, "cache_size", "-100000", "main", false, "not allowed"},
		{"pragma temp_store", sqlite3.AUTH_PRAGMA, "temp_store", "file", "main", false, "not allowed"},
		{"pragma query_only", sqlite3.AUTH_PRAGMA, "query_only", "on", "main", false, "not allowed"},
		{"pragma foreign_keys", sqlite3.AUTH_PRAGMA, "foreign_keys", "", "main", false, "not allowed"},
		{"pragma busy_timeout", sqlite3.AUTH_PRAGMA, "busy_timeout", "0", "main", false, "not allowed"},
		{"pragma database_list", sqlite3.AUTH_PRAGMA, "database_list", "", "main", false, "not allowed"},
		{"pragma hard_heap_limit", sqlite3.AUTH_PRAGMA, "hard_heap_limit", "0", "main", false, "not allowed"},
		{"pragma unknown", sqlite3.AUTH_PRAGMA, "no_such_pragma", "", "main", false, "not allowed"},
		{"create table in temp", sqlite3.AUTH_CREATE_TABLE, "x", "", "temp", false, reasonTemp},
		{"create view in temp", sqlite3.AUTH_CREATE_VIEW, "x", "", "temp", false, reasonTemp},
		{"insert into temp", sqlite3.AUTH_INSERT, "sqlite_temp_master", "", "temp", false, reasonTemp},
		{"fts5 in temp", sqlite3.AUTH_CREATE_VTABLE, "f", "fts5", "temp", false, reasonTemp},
		{"read temp", sqlite3.AUTH_READ, "sqlite_temp_master", "name", "temp", false, ""},
		{"alter table updates temp", sqlite3.AUTH_UPDATE, "sqlite_temp_master", "sql", "temp", false, ""},
		{"pragma on temp", sqlite3.AUTH_PRAGMA, "table_list", "", "temp", false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := authorize(tc.action, tc.arg3, tc.arg4, tc.schema, tc.stepping)
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("authorize(%d, %q, %q, %v) = %q, want %q", tc.action, tc.arg3, tc.arg4, tc.stepping, got, tc.want)
			}
		})
	}
}

func TestParenDepth(t *testing.T) {
	t.Parallel()
	cases := []struct {
		sql  string
		want int
	}{
		{"SELECT 1", 0},
		{"SELECT (1)", 1},
		{"SELECT ((1), (2))", 2},
		{"SELECT '((((('", 0},
		{"SELECT 'it''s ((('", 0},
		{`SELECT "a((" FROM t`, 0},
		{"SELECT `a((`", 0},
		{"SELECT [a((]", 0},
		{"SELECT 1 -- (((\n, (2)", 1},
		{"SELECT 1 /* ((( */ + (2)", 1},
		{"SELECT 1 - (2)", 1},
		{"SELECT 4 / (2)", 1},
		{"SELECT ((( 'unterminated", 3},
		{"SELECT ) ) (", 1},
		{"SELECT 1 /* unterminated (((", 0},
	}
	for _, tc := range cases {
		if got := parenDepth(tc.sql, 100); got != tc.want {
			t.Errorf("parenDepth(%q) = %d, want %d", tc.sql, got, tc.want)
		}
	}
	if got := parenDepth(strings.Repeat("(", 1000), 10); got != 11 {
		t.Errorf("parenDepth stops at limit+1, got %d", got)
	}
}

// hostile is a statement a client sends and the outcome it must get.
type hostile struct {
	name   string
	sql    string
	params forge.Params
	// want: nil for success; else forge.ErrNotAuthorized, forge.ErrEngineFault,
	// forge.ErrOutOfMemory, ... or errSQL for a *forge.SQLError.
	want error
	msg  string // a substring of the reason or SQLite's message
}

var errSQL = errors.New("a *forge.SQLError")

// checkOutcome asserts err matches what h wants.
func checkOutcome(t *testing.T, h hostile, err error) {
	t.Helper()
	switch {
	case h.want == nil:
		if err != nil {
			t.Fatalf("%s: %v, want success", h.sql, err)
		}
		return
	case h.want == errSQL:
		var se *forge.SQLError
		if !errors.As(err, &se) {
			t.Fatalf("%.80s: error %v (%T), want a SQL error", h.sql, err, err)
		}
		if !strings.Contains(se.Message, h.msg) {
			t.Fatalf("%.80s: message %q, want one containing %q", h.sql, se.Message, h.msg)
		}
		return
	case !errors.Is(err, h.want):
		t.Fatalf("%.80s: error %v (%T), want %v", h.sql, err, err, h.want)
	}
	if h.want == forge.ErrNotAuthorized {
		var ne *forge.NotAuthorizedError
		if !errors.As(err, &ne) || !strings.Contains(ne.Reason, h.msg) {
			t.Fatalf("%s: reason of %v, want one containing %q", h.sql, err, h.msg)
		}
	}
}

// snapshot lists every file under root with its size, but for those under
// the directories of skip (the databases a test writes to).
func snapshot(t testing.TB, root string, skip ...string) map[string]int64 {
	t.Helper()
	files := map[string]int64{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		for _, s := range skip {
			if p == s {
				return fs.SkipDir
			}
		}
		if d.IsDir() {
			files[p+"/"] = 0
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files[p] = info.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func diffSnapshots(before, after map[string]int64) []string {
	var diff []string
	for p, n := range after {
		if m, ok := before[p]; !ok || m != n {
			diff = append(diff, p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			diff = append(diff, "-"+p)
		}
	}
	slices.Sort(diff)
	return diff
}

// sandboxFixture is an engine with the database under attack, "db", and a
// sibling, "other", whose content and files must never change.
type sandboxFixture struct {
	e         *Engine
	layout    *volumes.Layout
	dbDir     string
	otherPath string
}

func newSandboxFixture(t testing.TB, cfg Config) *sandboxFixture {
	t.Helper()
	e, layout := newTestEngine(t, cfg)
	createDB(t, layout, "db")
	createDB(t, layout, "other")
	f := &sandboxFixture{e: e, layout: layout}
	var err error
	if f.dbDir, err = layout.Dir("db"); err != nil {
		t.Fatal(err)
	}
	if f.otherPath, err = layout.Resolve("other"); err != nil {
		t.Fatal(err)
	}
	exec(t, e, "other", "CREATE TABLE secret(v);\nINSERT INTO secret VALUES ('s3cret')")
	exec(t, e, "db", "CREATE TABLE t(id INTEGER PRIMARY KEY, v)")
	return f
}

// healthy asserts that db still reads and writes on a sane connection
// (no leftover transaction, pragma or attachment) and that other is
// untouched.
func (f *sandboxFixture) healthy(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	if _, err := f.e.Query(ctx, "db", forge.Statement{SQL: "INSERT INTO t(v) VALUES ('after')"}, nil); err != nil {
		t.Fatalf("write after: %v", err)
	}
	// No temporary object or attached database is left on a connection.
	// (Not pragma_table_list or database_list: the first expands every
	// view, the second is refused.)
	rec := &recorder{}
	if _, err := f.e.Query(ctx, "db", forge.Statement{SQL: "SELECT count(*) FROM sqlite_temp_schema"}, rec); err != nil {
		t.Fatalf("read after: %v", err)
	}
	checkRows(t, "temp objects", rec.rows, rows(row(0)))
	if _, err := f.e.Query(ctx, "db", forge.Statement{SQL: "SELECT * FROM o.secret"}, nil); err == nil {
		t.Error("a database is attached as o")
	}
	rec = &recorder{}
	if _, err := f.e.Query(ctx, "other", forge.Statement{SQL: "SELECT v FROM secret"}, rec); err != nil {
		t.Fatalf("other database: %v", err)
	}
	checkRows(t, "other database", rec.rows, rows(row("s3cret")))
}

func TestSandbox(t *testing.T) {
	t.Parallel()
	f := newSandboxFixture(t, Config{})
	outside := filepath.Join(t.TempDir(), "stolen.db")
	sibling := filepath.Join(f.layout.Root(), "databases", "other", "other.db")
	cases := []hostile{
		// Other files.
		{name: "attach a sibling by path", sql: "ATTACH '" + sibling + "' AS o", want: forge.ErrNotAuthorized, msg: reasonAttach},
		{name: "attach a sibling by parameter", sql: "ATTACH ? AS o", params: pos(forge.TextValue(sibling)), want: forge.ErrNotAuthorized, msg: reasonAttach},
		{name: "attach a URI", sql: "ATTACH 'file:" + sibling + "?mode=ro' AS o", want: forge.ErrNotAuthorized, msg: reasonAttach},
		{name: "attach memory", sql: "ATTACH ':memory:' AS m", want: forge.ErrNotAuthorized, msg: reasonAttach},
		{name: "attach a temp database", sql: "ATTACH '' AS m", want: forge.ErrNotAuthorized, msg: reasonAttach},
		{name: "detach", sql: "DETACH o", want: forge.ErrNotAuthorized, msg: reasonDetach},
		{name: "vacuum into a path", sql: "VACUUM INTO '" + outside + "'", want: forge.ErrNotAuthorized, msg: reasonVacuum},
		{name: "vacuum into a parameter", sql: "VACUUM INTO ?", params: pos(forge.TextValue(outside)), want: forge.ErrNotAuthorized, msg: reasonVacuum},
		{name: "vacuum", sql: "VACUUM", want: forge.ErrNotAuthorized, msg: reasonVacuum},
		{name: "read a sibling through a view", sql: "CREATE VIEW leak AS SELECT * FROM o.secret", want: errSQL, msg: "cannot reference objects in database o"},
		{name: "load an extension", sql: "SELECT load_extension('/lib/x.so')", want: errSQL, msg: "no such function"},
		{name: "write the schema", sql: "UPDATE sqlite_schema SET sql = 'x'", want: errSQL, msg: "may not be modified"},
		{name: "nul in sql", sql: "SELECT 1\x00; ATTACH 'x' AS y", want: errSQL, msg: "NUL"},

		// Connection state that would leak into later requests.
		{name: "journal_mode off", sql: "PRAGMA journal_mode=OFF", want: forge.ErrNotAuthorized, msg: "PRAGMA journal_mode is not allowed"},
		{name: "journal_mode read", sql: "PRAGMA journal_mode", want: forge.ErrNotAuthorized, msg: "journal_mode"},
		{name: "journal_mode with schema", sql: "PRAGMA main.journal_mode=DELETE", want: forge.ErrNotAuthorized, msg: "journal_mode"},
		{name: "synchronous", sql: "PRAGMA synchronous=OFF", want: forge.ErrNotAuthorized, msg: "synchronous"},
		{name: "query_only", sql: "PRAGMA query_only=ON", want: forge.ErrNotAuthorized, msg: "query_only"},
		{name: "foreign_keys", sql: "PRAGMA foreign_keys=OFF", want: forge.ErrNotAuthorized, msg: "foreign_keys"},
		{name: "busy_timeout", sql: "PRAGMA busy_timeout=0", want: forge.ErrNotAuthorized, msg: "busy_timeout"},
		{name: "locking_mode", sql: "PRAGMA locking_mode=EXCLUSIVE", want: forge.ErrNotAuthorized, msg: "locking_mode"},
		{name: "writable_schema", sql: "PRAGMA writable_schema=ON", want: forge.ErrNotAuthorized, msg: "writable_schema"},
		{name: "cache_size", sql: "PRAGMA cache_size=-1000000", want: forge.ErrNotAuthorized, msg: "cache_size"},
		{name: "temp_store", sql: "PRAGMA temp_store=FILE", want: forge.ErrNotAuthorized, msg: "temp_store"},
		{name: "max_page_count", sql: "PRAGMA max_page_count=2147483647", want: forge.ErrNotAuthorized, msg: "can only be read"},
		{name: "recursive_triggers", sql: "PRAGMA recursive_triggers=ON", want: forge.ErrNotAuthorized, msg: "recursive_triggers"},
		{name: "mmap_size", sql: "PRAGMA mmap_size=1000000000", want: forge.ErrNotAuthorized, msg: "mmap_size"},
		{name: "hard_heap_limit", sql: "PRAGMA hard_heap_limit=0", want: forge.ErrNotAuthorized, msg: "hard_heap_limit"},
		{name: "database_list shows host paths", sql: "PRAGMA database_list", want: forge.ErrNotAuthorized, msg: "database_list"},
		{name: "pragma function", sql: "SELECT * FROM pragma_journal_mode", want: forge.ErrNotAuthorized, msg: "journal_mode"},
		{name: "pragma function with argument", sql: "SELECT * FROM pragma_cache_size", want: forge.ErrNotAuthorized, msg: "cache_size"},
		{name: "pragma function database_list", sql: "SELECT file FROM pragma_database_list", want: forge.ErrNotAuthorized, msg: "database_list"},
		{name: "temp table", sql: "CREATE TEMP TABLE x(a)", want: forge.ErrNotAuthorized, msg: reasonTemp},
		{name: "temp table by schema", sql: "CREATE TABLE temp.x(a)", want: forge.ErrNotAuthorized, msg: reasonTemp},
		{name: "temp trigger by schema", sql: "CREATE TRIGGER temp.x AFTER INSERT ON t BEGIN DELETE FROM t; END", want: forge.ErrNotAuthorized, msg: reasonTemp},
		{name: "temp fts5", sql: "CREATE VIRTUAL TABLE temp.f USING fts5(a)", want: forge.ErrNotAuthorized, msg: reasonTemp},
		{name: "temp view", sql: "CREATE TEMP VIEW x AS SELECT 1", want: forge.ErrNotAuthorized, msg: reasonTemp},
		{name: "temp trigger on a main table", sql: "CREATE TEMP TRIGGER x AFTER INSERT ON t BEGIN DELETE FROM t; END", want: forge.ErrNotAuthorized, msg: reasonTemp},
		{name: "spellfix1", sql: "CREATE VIRTUAL TABLE s USING spellfix1", want: forge.ErrNotAuthorized, msg: "spellfix1"},
		{name: "geopoly", sql: "CREATE VIRTUAL TABLE g USING geopoly(a)", want: forge.ErrNotAuthorized, msg: "geopoly"},

		// What a database may do with itself.
		{name: "table_info", sql: "PRAGMA table_info(t)", want: nil},
		{name: "table_list", sql: "SELECT name FROM pragma_table_list", want: nil},
		{name: "user_version", sql: "PRAGMA user_version=7", want: nil},
		{name: "integrity_check", sql: "PRAGMA integrity_check", want: nil},
		{name: "page_size", sql: "PRAGMA page_size", want: nil},
		{name: "max_page_count", sql: "PRAGMA max_page_count", want: nil},
		{name: "fts5", sql: "CREATE VIRTUAL TABLE f USING fts5(body)", want: nil},
		{name: "fts5 query", sql: "SELECT * FROM f WHERE f MATCH 'x'", want: nil},
		{name: "rtree", sql: "CREATE VIRTUAL TABLE r USING rtree(id, x0, x1)", want: nil},
		{name: "trigger", sql: "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET v = v WHERE id = new.id; END", want: nil},
		{name: "add a column", sql: "ALTER TABLE t ADD COLUMN w", want: nil},
		{name: "rename a column", sql: "ALTER TABLE t RENAME COLUMN w TO w2", want: nil},
		{name: "write the temp schema", sql: "UPDATE temp.sqlite_master SET sql = 'x'", want: errSQL, msg: "may not be modified"},
		{name: "transaction", sql: "BEGIN", want: nil},
		{name: "analyze", sql: "ANALYZE", want: nil},
		{name: "savepoint", sql: "SAVEPOINT a", want: nil},
	}
	before := snapshot(t, f.layout.Root(), f.dbDir)
	for _, h := range cases {
		t.Run(h.name, func(t *testing.T) {
			_, err := f.e.Query(context.Background(), "db", forge.Statement{SQL: h.sql, Params: h.params}, &recorder{})
			checkOutcome(t, h, err)
			f.healthy(t)
		})
	}
	if diff := diffSnapshots(before, snapshot(t, f.layout.Root(), f.dbDir)); len(diff) > 0 {
		t.Errorf("files changed outside the database's directory: %v", diff)
	}
	if _, err := filepath.Glob(outside); err != nil {
		t.Fatal(err)
	}
	if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(outside), "*")); len(matches) > 0 {
		t.Errorf("VACUUM INTO wrote %v", matches)
	}
	// The gateway's settings are still in force on the file.
	if n := queryInt(t, f.e, "db", "PRAGMA user_version"); n != 7 {
		t.Errorf("user_version %d, want 7", n)
	}
	raw, err := sqlite3.Open(filepath.Join(f.dbDir, "db.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	st, _, err := raw.Prepare("PRAGMA journal_mode")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if !st.Step() || st.ColumnText(0) != "wal" {
		t.Errorf("journal_mode %q, want wal", st.ColumnText(0))
	}
}

// TestSandboxRowsRoutes: the engine's own statements work under the
// authorizer, also on a fresh connection.
func TestSandboxRowsRoutes(t *testing.T) {
	t.Parallel()
	f := newSandboxFixture(t, Config{MaxReaders: 1})
	ctx := context.Background()
	if _, err := routes(f.e).InsertRows(ctx, "db", "t", []forge.Record{{{Column: "v", Value: forge.TextValue("x")}}}); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	if _, err := routes(f.e).SelectRows(ctx, "db", "t", []forge.Filter{{Column: "V", Value: forge.TextValue("x")}}, rec); err != nil {
		t.Fatal(err)
	}
	checkRows(t, "select rows", rec.rows, rows(row(1, "x")))
	// The same on a reader, while the writer is held.
	release := holdWriter(t, f.e, "db")
	rec = &recorder{}
	if _, err := routes(f.e).SelectRows(ctx, "db", "t", nil, rec); err != nil {
		t.Fatal(err)
	}
	release()
	checkRows(t, "select rows on a reader", rec.rows, rows(row(1, "x")))
}

// TestSandboxOnEveryConnection: a reader opened under load gets the same
// sandbox as the writer.
func TestSandboxOnEveryConnection(t *testing.T) {
	t.Parallel()
	f := newSandboxFixture(t, Config{MaxReaders: 1})
	release := holdWriter(t, f.e, "db")
	defer release()
	for _, h := range []hostile{
		{sql: "ATTACH 'x' AS y", want: forge.ErrNotAuthorized, msg: reasonAttach},
		{sql: "PRAGMA cache_size", want: forge.ErrNotAuthorized, msg: "cache_size"},
		{sql: "SELECT " + strings.Repeat("1+", 150) + "1", want: errSQL, msg: "Expression tree is too large (maximum depth 100)"},
	} {
		_, err := f.e.Query(context.Background(), "db", forge.Statement{SQL: h.sql}, &recorder{})
		checkOutcome(t, h, err)
	}
}

func nested(open, mid, close string, n int) string {
	return strings.Repeat(open, n) + mid + strings.Repeat(close, n)
}

func TestLimits(t *testing.T) {
	t.Parallel()
	f := newSandboxFixture(t, Config{})
	triggers := make([]string, 0, 41)
	for i := 0; i <= 40; i++ {
		triggers = append(triggers, fmt.Sprintf("CREATE TABLE c%d(x)", i))
	}
	for i := 0; i < 40; i++ {
		triggers = append(triggers, fmt.Sprintf("CREATE TRIGGER ct%d AFTER INSERT ON c%d BEGIN INSERT INTO c%d VALUES (new.x); END", i, i, i+1))
	}
	exec(t, f.e, "db", strings.Join(triggers, ";\n"))
	cols := make([]string, 2001)
	for i := range cols {
		cols[i] = "1"
	}
	cases := []hostile{
		{name: "LENGTH", sql: "SELECT randomblob(5000000)", want: errSQL, msg: "string or blob too big"},
		{name: "LENGTH of a parameter", sql: "SELECT length(?)", params: pos(forge.BlobValue(make([]byte, 5<<20))), want: errSQL, msg: "too big"},
		{name: "SQL_LENGTH", sql: "SELECT 1" + strings.Repeat(" ", 100_000), want: errSQL, msg: "too big"},
		{name: "COLUMN", sql: "SELECT " + strings.Join(cols, ","), want: errSQL, msg: "too many columns in result set"},
		{name: "EXPR_DEPTH, left-deep", sql: "SELECT 1" + strings.Repeat("+1", 400), want: errSQL, msg: "Expression tree is too large (maximum depth 100)"},
		{name: "EXPR_DEPTH, nested", sql: "SELECT " + nested("1+(", "1", ")", 400), want: errSQL, msg: "Parentheses nest too deeply (maximum depth 100)"},
		{name: "CASE chain", sql: "SELECT " + nested("CASE WHEN 1 THEN ", "1", " END", 400), want: errSQL, msg: "Expression tree is too large"},
		{name: "NOT chain", sql: "SELECT " + strings.Repeat("NOT ", 400) + "1", want: errSQL, msg: "Expression tree is too large"},
		{name: "function chain", sql: "SELECT " + nested("abs(", "1", ")", 400), want: errSQL, msg: "Parentheses nest too deeply"},
		{name: "subqueries in FROM", sql: nested("SELECT * FROM (", "SELECT 1", ")", 300), want: errSQL, msg: "Parentheses nest too deeply"},
		{name: "COMPOUND_SELECT", sql: "SELECT 1" + strings.Repeat(" UNION SELECT 1", 300), want: errSQL, msg: "too many terms in compound SELECT"},
		{name: "LIKE_PATTERN_LENGTH", sql: "SELECT 'a' LIKE '" + strings.Repeat("%a", 5001) + "'", want: errSQL, msg: "LIKE or GLOB pattern too complex"},
		{name: "VARIABLE_NUMBER", sql: "SELECT ?10001", want: errSQL, msg: "variable number must be between ?1 and ?10000"},
		{name: "TRIGGER_DEPTH", sql: "INSERT INTO c0 VALUES (1)", want: errSQL, msg: "too many levels of trigger recursion"},
		{name: "many rows of VALUES are not compound terms", sql: "SELECT count(*) FROM (VALUES " + strings.Repeat("(1),", 2000) + "(1))", want: nil},
		{name: "deep but allowed", sql: "SELECT " + nested("(", "1", ")", 90), want: nil},
	}
	for _, h := range cases {
		t.Run(h.name, func(t *testing.T) {
			_, err := f.e.Query(context.Background(), "db", forge.Statement{SQL: h.sql, Params: h.params}, &recorder{})
			checkOutcome(t, h, err)
			f.healthy(t)
		})
	}
	if s := f.e.Stats(); s.Faults != 0 {
		t.Errorf("%d instances faulted; every limit must be a plain error", s.Faults)
	}
}

// FuzzSandboxSQL drives arbitrary SQL through the sandbox: whatever the
// statement, the engine does not panic, answers with an error of its own
// vocabulary, the database answers the next request, the sibling database
// is untouched, and no file appears, changes or goes outside the
// database's own directory.
func FuzzSandboxSQL(f *testing.F) {
	for _, s := range []string{
		"SELECT 1",
		"CREATE TABLE x(a INTEGER PRIMARY KEY, b TEXT UNIQUE)",
		"INSERT INTO t(v) VALUES (1), (2) RETURNING id, v",
		"ATTACH 'ROOT/databases/other/other.db' AS o",
		"ATTACH 'file:ROOT/databases/other/other.db?mode=ro' AS o",
		"VACUUM INTO 'ROOT/stolen.db'",
		"VACUUM INTO 'ROOT/databases/other/other.db'",
		"VACUUM",
		"PRAGMA journal_mode=DELETE",
		"PRAGMA query_only=ON",
		"PRAGMA writable_schema=ON",
		"SELECT * FROM pragma_table_list",
		"SELECT * FROM pragma_database_list",
		"CREATE TEMP TABLE x(a)",
		"CREATE TRIGGER temp.x AFTER INSERT ON t BEGIN DELETE FROM t; END",
		"CREATE VIRTUAL TABLE f USING fts5(a)",
		"CREATE VIRTUAL TABLE r USING rtree(id, a, b)",
		"CREATE VIEW v AS SELECT * FROM t",
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c",
		"SELECT 1" + strings.Repeat("+1", 200),
		"SELECT " + nested("(", "1", ")", 120),
		"SELECT json('" + nested("[", "1", "]", 500) + "')",
		"SELECT randomblob(3000000), randomblob(3000000)",
		"SELECT 'a' LIKE '" + strings.Repeat("%a", 100) + "b'",
		"BEGIN IMMEDIATE",
		"SAVEPOINT a",
		"SELECT load_extension('x')",
		"SELECT writefile('ROOT/x', 'y')",
		"SELECT readfile('ROOT/databases/other/other.db')",
		"REPLACE INTO sqlite_schema VALUES ('table','y','y',2,'CREATE TABLE y(a)')",
		"ANALYZE; PRAGMA optimize",
		"SELECT zeroblob(4194304)",
		"SELECT printf('%.*c', 4000000, 'x')",
	} {
		f.Add(s)
	}
	// One engine for the whole run; each input gets a database of its own,
	// removed afterwards, next to a sibling that never changes.
	e, layout := newTestEngine(f, Config{QueryTimeout: 100 * time.Millisecond, HeapLimit: 16 << 20, MaxDBBytes: 4 << 20})
	createDB(f, layout, "other")
	exec(f, e, "other", "CREATE TABLE secret(v);\nINSERT INTO secret VALUES ('s3cret')")
	root := layout.Root()
	var n int
	// The harness's own statements get a deadline of their own: under a
	// busy fuzzer, opening a database can take longer than the 100 ms the
	// fuzzed statements get.
	harness := func(t *testing.T, db, sql string) *recorder {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		rec := &recorder{}
		if _, err := e.Query(ctx, db, forge.Statement{SQL: sql}, rec); err != nil {
			t.Fatalf("%s on %s: %v", sql, db, err)
		}
		return rec
	}
	f.Fuzz(func(t *testing.T, sql string) {
		n++
		name := fmt.Sprintf("fz%d", n)
		createDB(t, layout, name)
		dir, err := layout.Dir(name)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := e.Exclusive(ctx, name, func() error { return layout.Remove(name) }); err != nil {
				t.Fatalf("remove %s: %v", name, err)
			}
		}()
		harness(t, name, "CREATE TABLE t(id INTEGER PRIMARY KEY, v)")
		before := snapshot(t, root, dir)
		sql = strings.ReplaceAll(sql, "ROOT", root)

		_, err = e.Query(context.Background(), name, forge.Statement{SQL: sql}, &recorder{})
		var se *forge.SQLError
		var ie *forge.InputError
		switch {
		case err == nil, errors.As(err, &se), errors.As(err, &ie),
			errors.Is(err, forge.ErrNotAuthorized), errors.Is(err, forge.ErrEngineFault),
			errors.Is(err, forge.ErrOutOfMemory), errors.Is(err, forge.ErrTimeout),
			errors.Is(err, forge.ErrDatabaseFull), errors.Is(err, forge.ErrBusy):
		default:
			t.Fatalf("%q: error outside the engine's vocabulary: %v (%T)", sql, err, err)
		}

		// The database answers; the sibling is intact; no file moved.
		checkRows(t, "SELECT 1 after "+sql, harness(t, name, "SELECT 1").rows, rows(row(1)))
		checkRows(t, "sibling after "+sql, harness(t, "other", "SELECT v FROM secret").rows, rows(row("s3cret")))
		if diff := diffSnapshots(before, snapshot(t, root, dir)); len(diff) > 0 {
			t.Fatalf("%q changed files outside its database's directory: %v", sql, diff)
		}
	})
}
