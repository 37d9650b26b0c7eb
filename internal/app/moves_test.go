package app_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/praetorian/db-forge/internal/contracttest"
)

// rawResp is an answer read as bytes.
type rawResp struct {
	status int
	header http.Header
	body   []byte
}

// code is the answer's error code, "" if none.
func (r rawResp) code() string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Error.Code
}

// sendAs sends a request with a body of its own media type (contracttest's
// client sends JSON only).
func sendAs(t testing.TB, g *gateway, key, method, path, contentType string, body []byte, hdr ...string) rawResp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, g.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	// Through the validating transport, as every other exchange: the
	// document describes these media types too.
	resp, err := (&http.Client{Timeout: 120 * time.Second, Transport: g.http.Transport}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return rawResp{status: resp.StatusCode, header: resp.Header, body: b}
}

func mustStatus(t testing.TB, r rawResp, status int, what string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body %.600s", what, r.status, status, r.body)
	}
}

// dataOf is the "data" of a query answer (its "meta" differs run to run).
func dataOf(t testing.TB, body []byte) []byte {
	t.Helper()
	var a struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	return a.Data
}

// sqlOK runs sql on db with the admin key and expects 200.
func sqlOK(t testing.TB, g *gateway, db, sql string) rawResp {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"sql": sql})
	r := sendAs(t, g, g.adminKey, "POST", "/api/db/"+db+"/query", "application/json", b)
	mustStatus(t, r, 200, db+": "+sql)
	return r
}

// content is what a round trip must keep of a database: integrity_check,
// its user tables, and per table the row count and a checksum of every
// row (rowid included where there is one), as the query route answers
// them.
func content(t testing.TB, g *gateway, db string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if r := sqlOK(t, g, db, "PRAGMA integrity_check"); !strings.Contains(string(r.body), `"ok"`) {
		t.Fatalf("%s: integrity_check: %s", db, r.body)
	}
	var tables struct {
		Data []struct {
			Name string `json:"name"`
			WR   int    `json:"wr"`
			Type string `json:"type"`
		} `json:"data"`
	}
	r := sqlOK(t, g, db, "SELECT name, wr, type FROM pragma_table_list WHERE schema = 'main' AND name NOT LIKE 'sqlite_%' ORDER BY name")
	if err := json.Unmarshal(r.body, &tables); err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables.Data {
		if tb.Name == "_forge_audit" {
			continue // each database's own history: exports leave it out, a copy starts its own
		}
		if strings.HasPrefix(tb.Name, "_forge_") {
			out[tb.Name] = "present"
			continue
		}
		if tb.Type == "shadow" {
			continue
		}
		q := fmt.Sprintf(`SELECT * FROM "%s" ORDER BY 1`, tb.Name)
		if tb.Type == "table" && tb.WR == 0 {
			q = fmt.Sprintf(`SELECT rowid AS _r, * FROM "%s" ORDER BY rowid`, tb.Name)
		}
		if tb.Type == "view" {
			q = fmt.Sprintf(`SELECT * FROM "%s"`, tb.Name)
		}
		rows := sqlOK(t, g, db, q)
		var n struct {
			Rows int `json:"rows_affected"`
		}
		_ = json.Unmarshal(rows.body, &n)
		sum := sha256.Sum256(dataOf(t, rows.body))
		out[tb.Name] = fmt.Sprintf("%s rows=%d sha256=%s", tb.Type, n.Rows, hex.EncodeToString(sum[:8]))
	}
	schema := sqlOK(t, g, db, "SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE name NOT LIKE '\\_forge\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite_autoindex%' ORDER BY type, name")
	out["(schema)"] = string(dataOf(t, schema.body))
	seq := sqlOK(t, g, db, "SELECT name, seq FROM sqlite_sequence ORDER BY name")
	out["(sqlite_sequence)"] = string(dataOf(t, seq.body))
	return out
}

// movesFixture fills db with what a dump must carry: every storage class and
// awkward values, rowids with gaps, a WITHOUT ROWID table, AUTOINCREMENT,
// a generated column, an index, a view, a trigger, an FTS5 table, and an
// idempotency record (a bookkeeping table an export leaves out).
func movesFixture(t testing.TB, g *gateway, db string) {
	t.Helper()
	for _, q := range []string{
		`CREATE TABLE kinds(i INTEGER, r REAL, t TEXT, b BLOB, n, "odd ""name"" col" TEXT)`,
		`INSERT INTO kinds VALUES (1, 1.5, 'plain', x'00ff10', NULL, 'a')`,
		`INSERT INTO kinds VALUES (-9223372036854775808, 1e300, 'it''s "quoted"' || char(10) || 'line two', x'', 3.0, 'b')`,
		`INSERT INTO kinds VALUES (9223372036854775807, -0.000001, 'ünïcödé ☃', zeroblob(3), 'x', NULL)`,
		`INSERT INTO kinds VALUES (0, 2.0, CAST(x'610062' AS TEXT), NULL, 1e999, 'nul inside')`,
		`INSERT INTO kinds VALUES (42, 0.1, '', x'27', -1e999, '--not a comment; really')`,
		`DELETE FROM kinds WHERE i = 0 AND r = 99`, // nothing
		`CREATE TABLE gaps(v TEXT)`,
		`INSERT INTO gaps(rowid, v) VALUES (3, 'three'), (10, 'ten'), (1000, 'thousand')`,
		`CREATE TABLE wr(k TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID`,
		`INSERT INTO wr VALUES ('b', 2), ('a', 1)`,
		`CREATE TABLE auto(id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)`,
		`INSERT INTO auto(v) VALUES ('x'), ('y'), ('z')`,
		`DELETE FROM auto WHERE v = 'z'`,
		`CREATE TABLE gen(a INTEGER, b INTEGER GENERATED ALWAYS AS (a * 2) VIRTUAL)`,
		`INSERT INTO gen(a) VALUES (1), (2)`,
		`CREATE INDEX kinds_t ON kinds(t)`,
		`CREATE VIEW big AS SELECT i, t FROM kinds WHERE i > 1`,
		`CREATE TABLE log(msg TEXT)`,
		`CREATE TRIGGER gaps_log AFTER INSERT ON gaps BEGIN INSERT INTO log VALUES ('gap ' || new.v); END`,
		`CREATE VIRTUAL TABLE docs USING fts5(body)`,
		`INSERT INTO docs(body) VALUES ('hello world'), ('semi; colons; inside')`,
	} {
		sqlOK(t, g, db, q)
	}
	// An idempotent write makes the bookkeeping table.
	b, _ := json.Marshal(map[string]string{"sql": "INSERT INTO log VALUES ('idem')"})
	r := sendAs(t, g, g.adminKey, "POST", "/api/db/"+db+"/query", "application/json", b, "Idempotency-Key", "k-1")
	mustStatus(t, r, 200, "idempotent write")
	if c := content(t, g, db); c["_forge_idempotency_log"] != "present" {
		t.Fatalf("no idempotency table in the fixture: %v", c)
	}
}

// spawnFrom spawns db from body of media type mt.
func spawnFrom(t testing.TB, g *gateway, db, mt string, body []byte) rawResp {
	t.Helper()
	return sendAs(t, g, g.adminKey, "POST", "/admin/databases/spawn/"+db, mt, body)
}

func sameContent(t *testing.T, what string, want, got map[string]string) {
	t.Helper()
	delete(want, "_forge_idempotency_log")
	if _, ok := got["_forge_idempotency_log"]; ok {
		t.Errorf("%s: the copy has the bookkeeping table", what)
	}
	delete(got, "_forge_idempotency_log")
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s:\n got %s\nwant %s", what, k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: extra table %s", what, k)
		}
	}
}

// sqlite3Bin is the sqlite3 shell; under CI=true its absence fails.
func sqlite3Bin(t *testing.T) string {
	p, err := exec.LookPath("sqlite3")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("sqlite3 is not installed (.ci/run installs it)")
		}
		t.Skip("sqlite3 is not installed")
	}
	return p
}

// TestExportImportRoundTrip: export → import gives the same content, by
// both formats, through our import and through the sqlite3 shell.
func TestExportImportRoundTrip(t *testing.T) {
	g := start(t, t.TempDir())
	admin := g.client()
	key := spawnKey(t, admin, "src")
	movesFixture(t, g, "src")
	want := content(t, g, "src")

	// The SQL dump, with a read-only key, replayed by our import.
	_, roKey := mintKey(t, admin, "src", `{"scope": "read-only"}`)
	dump := sendAs(t, g, roKey, "GET", "/api/db/src/export?format=sql", "", nil)
	mustStatus(t, dump, 200, "sql export")
	if ct := dump.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/sql") {
		t.Errorf("content type %q", ct)
	}
	if bytes.Contains(dump.body, []byte("_forge_")) {
		t.Errorf("the dump names a bookkeeping table")
	}
	if !bytes.HasSuffix(dump.body, []byte("COMMIT;\n")) {
		t.Errorf("the dump does not end with COMMIT")
	}
	r := spawnFrom(t, g, "from-sql", "application/sql", dump.body)
	mustStatus(t, r, 201, "spawn from the dump")
	if !strings.Contains(string(r.body), `"api_key"`) {
		t.Errorf("spawn from a script gave no key: %s", r.body)
	}
	sameContent(t, "dump → spawn", content(t, g, "src"), content(t, g, "from-sql"))

	// The same dump into an existing, empty database.
	spawnKey(t, admin, "into")
	r = sendAs(t, g, key[:0]+g.adminKey, "POST", "/api/db/into/import", "application/sql", dump.body)
	mustStatus(t, r, 200, "import of the dump")
	sameContent(t, "dump → import", content(t, g, "src"), content(t, g, "into"))

	// The file, with the read-write key.
	file := sendAs(t, g, key, "GET", "/api/db/src/export?format=sqlite", "", nil)
	mustStatus(t, file, 200, "file export")
	if !bytes.HasPrefix(file.body, []byte("SQLite format 3\x00")) {
		t.Fatalf("not a SQLite file: %.20q", file.body)
	}
	if file.body[18] != 1 || file.body[19] != 1 {
		t.Errorf("the exported file is not in rollback-journal mode: %d/%d", file.body[18], file.body[19])
	}
	r = spawnFrom(t, g, "from-file", "application/vnd.sqlite3", file.body)
	mustStatus(t, r, 201, "spawn from the file")
	sameContent(t, "file → spawn", want, content(t, g, "from-file"))

	// The sqlite3 shell replays the dump and reads the file.
	bin := sqlite3Bin(t)
	dir := t.TempDir()
	shellDB := filepath.Join(dir, "shell.db")
	cmd := exec.Command(bin, "-bail", shellDB)
	cmd.Stdin = bytes.NewReader(dump.body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sqlite3 replay: %v\n%s", err, out)
	}
	shellFile, err := os.ReadFile(shellDB)
	if err != nil {
		t.Fatal(err)
	}
	r = spawnFrom(t, g, "from-shell", "application/vnd.sqlite3", shellFile)
	mustStatus(t, r, 201, "spawn from the shell's replay")
	sameContent(t, "dump → sqlite3 → spawn", want, content(t, g, "from-shell"))
	exported := filepath.Join(dir, "exported.db")
	if err := os.WriteFile(exported, file.body, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, exported, "PRAGMA integrity_check; SELECT count(*) FROM kinds;").CombinedOutput()
	if err != nil || string(out) != "ok\n5\n" {
		t.Fatalf("sqlite3 on the exported file: %v %q", err, out)
	}
}

// pendingEmpty checks that nothing of a failed spawn of db is left: no
// file, no pending marker, no listing; the name spawns anew.
func nothingLeft(t *testing.T, g *gateway, dataDir, db string) {
	t.Helper()
	if _, err := os.Lstat(filepath.Join(dataDir, "databases", db)); !os.IsNotExist(err) {
		t.Errorf("%s: its directory is still there (%v)", db, err)
	}
	if _, err := os.Lstat(filepath.Join(dataDir, ".forge", "pending", db)); !os.IsNotExist(err) {
		t.Errorf("%s: its pending marker is still there (%v)", db, err)
	}
	list := sendAs(t, g, g.adminKey, "GET", "/admin/databases", "", nil)
	if strings.Contains(string(list.body), `"`+db+`"`) {
		t.Errorf("%s is listed: %s", db, list.body)
	}
	keys := sendAs(t, g, g.adminKey, "GET", "/admin/databases/"+db+"/keys", "", nil)
	if keys.status != 404 {
		t.Errorf("%s: keys answer %d %s", db, keys.status, keys.body)
	}
}

// TestImportHostile: hostile files and bodies get a clear 4xx and leave
// nothing behind.
func TestImportHostile(t *testing.T) {
	dataDir := t.TempDir()
	g := start(t, dataDir)
	admin := g.client()
	spawnKey(t, admin, "good")
	sqlOK(t, g, "good", "CREATE TABLE t(a INTEGER, b TEXT)")
	sqlOK(t, g, "good", "INSERT INTO t SELECT value, 'row ' || value FROM generate_series(1, 2000)")
	file := sendAs(t, g, g.adminKey, "GET", "/api/db/good/export", "", nil)
	mustStatus(t, file, 200, "export")
	valid := file.body

	corrupt := bytes.Clone(valid)
	for i := 4096 + 200; i < len(corrupt) && i < 4096*3; i++ { // page 2 and 3: garbage
		corrupt[i] = byte(i * 7)
	}
	wrongPage := bytes.Clone(valid)
	wrongPage[16], wrongPage[17] = 0x03, 0x00 // page size 768
	reserved := bytes.Clone(valid)
	reserved[20] = 8
	// Files whose schema names reserved objects (made by the shell): a
	// bookkeeping table with a forged record (dropped at the spawn, below)
	// and a view of a reserved name (refused).
	bin := sqlite3Bin(t)
	withSQL := func(name, sql string) []byte {
		path := filepath.Join(t.TempDir(), name+".db")
		if err := os.WriteFile(path, valid, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(bin, path, sql).CombinedOutput(); err != nil {
			t.Fatalf("sqlite3: %v %s", err, out)
		}
		b, _ := os.ReadFile(path)
		return b
	}
	sneakyFile := withSQL("sneaky", "CREATE VIEW _forge_view AS SELECT 1;")
	bookkept := withSQL("bookkept", "CREATE TABLE _forge_idempotency(scope, key, answer); "+
		"INSERT INTO _forge_idempotency VALUES ('x', 'k', 'forged'); CREATE INDEX _forge_i ON _forge_idempotency(key); "+
		"CREATE TABLE _forge_audit(x); INSERT INTO _forge_audit VALUES (1);")
	t.Run("bookkeeping tables dropped", func(t *testing.T) {
		mustStatus(t, sendAs(t, g, g.adminKey, "POST", "/admin/databases/spawn/bookkept", "application/vnd.sqlite3", bookkept), 201, "spawn")
		out, err := exec.Command(bin, "-readonly", dbFile(dataDir, "bookkept"),
			"SELECT count(*) FROM sqlite_schema WHERE name LIKE '\\_forge\\_%' ESCAPE '\\';").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "0" {
			t.Fatalf("reserved objects left in the spawned file: %v %s", err, out)
		}
		// The client's own content came with it.
		if r := sqlOK(t, g, "bookkept", "SELECT count(*) AS n FROM t"); !strings.Contains(string(r.body), `"n":2000`) {
			t.Fatalf("the spawned database lost the file's rows: %s", r.body)
		}
	})

	cases := []struct {
		name, mt string
		body     []byte
		status   int
		code     string
	}{
		{"empty file", "application/vnd.sqlite3", nil, 400, "INVALID_DATABASE_FILE"},
		{"wrong header", "application/vnd.sqlite3", append([]byte("SQLite format 2\x00"), valid[16:]...), 400, "INVALID_DATABASE_FILE"},
		{"text", "application/vnd.sqlite3", bytes.Repeat([]byte("hello "), 1000), 400, "INVALID_DATABASE_FILE"},
		{"truncated mid-page", "application/vnd.sqlite3", valid[:len(valid)-100], 400, "INVALID_DATABASE_FILE"},
		{"truncated by pages", "application/vnd.sqlite3", valid[:4096*2], 400, "INVALID_DATABASE_FILE"},
		{"bad page size", "application/vnd.sqlite3", wrongPage, 400, "INVALID_DATABASE_FILE"},
		{"reserved bytes", "application/vnd.sqlite3", reserved, 400, "INVALID_DATABASE_FILE"},
		{"corrupt pages", "application/vnd.sqlite3", corrupt, 400, "INVALID_DATABASE_FILE"},
		{"reserved view", "application/vnd.sqlite3", sneakyFile, 400, "INVALID_DATABASE_FILE"},
		{"script error", "application/sql", []byte("CREATE TABLE a(x); INSERT INTO nope VALUES (1);"), 400, "SQL_ERROR"},
		{"script attach", "application/sql", []byte("CREATE TABLE a(x); ATTACH 'x.db' AS x;"), 403, "SQL_NOT_AUTHORIZED"},
		{"script bookkeeping", "application/sql", []byte("CREATE TABLE _forge_idempotency(x);"), 403, "SQL_NOT_AUTHORIZED"},
		{"script rollback", "application/sql", []byte("BEGIN; CREATE TABLE a(x); ROLLBACK; -- due to errors"), 400, "INVALID_SQL_SCRIPT"},
		{"script open quote", "application/sql", []byte("CREATE TABLE a(x); INSERT INTO a VALUES ('never closed);"), 400, "INVALID_SQL_SCRIPT"},
		{"script huge statement", "application/sql", append([]byte("SELECT '"), append(bytes.Repeat([]byte("x"), 200_000), "';"...)...), 400, "INVALID_SQL_SCRIPT"},
		{"compressed", "application/sql", []byte("\x1f\x8b"), 415, "UNSUPPORTED_MEDIA_TYPE"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := fmt.Sprintf("hostile%d", i)
			var hdr []string
			if tc.name == "compressed" {
				hdr = []string{"Content-Encoding", "gzip"}
			}
			r := sendAs(t, g, g.adminKey, "POST", "/admin/databases/spawn/"+db, tc.mt, tc.body, hdr...)
			if r.status != tc.status || r.code() != tc.code {
				t.Fatalf("status %d %s, want %d %s; body %s", r.status, r.code(), tc.status, tc.code, r.body)
			}
			nothingLeft(t, g, dataDir, db)
			// The name is free: the seed's spawn makes it.
			mustStatus(t, sendAs(t, g, g.adminKey, "POST", "/admin/databases/spawn/"+db, "", nil), 201, "spawn after")
		})
	}

	// A file never replaces a database.
	r := spawnFrom(t, g, "good", "application/vnd.sqlite3", valid)
	if r.status != 409 || r.code() != "DATABASE_EXISTS" {
		t.Fatalf("spawn from a file over a database: %d %s", r.status, r.body)
	}
	sqlOK(t, g, "good", "SELECT count(*) FROM t")

	// A file whose schema does what the sandbox refuses is accepted; its
	// objects are refused when used, as any client SQL.
	spawnKey(t, admin, "trap")
	sqlOK(t, g, "trap", "CREATE TABLE t(a)")
	trapFile := filepath.Join(t.TempDir(), "trap.db")
	if err := os.WriteFile(trapFile, exportRaw(t, g, "trap"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, trapFile,
		"CREATE VIEW paths AS SELECT * FROM pragma_database_list;"+
			"CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN SELECT * FROM pragma_database_list; END;").CombinedOutput(); err != nil {
		t.Fatalf("sqlite3: %v %s", err, out)
	}
	trap, _ := os.ReadFile(trapFile)
	mustStatus(t, spawnFrom(t, g, "trapped", "application/vnd.sqlite3", trap), 201, "spawn of the trap")
	for _, q := range []string{"SELECT * FROM paths", "INSERT INTO t VALUES (1)"} {
		b, _ := json.Marshal(map[string]string{"sql": q})
		r := sendAs(t, g, g.adminKey, "POST", "/api/db/trapped/query", "application/json", b)
		// Refused by the authorizer, or by SQLite itself first: with
		// trusted_schema off a view or trigger may not use a pragma
		// function ("unsafe use of virtual table").
		if !(r.status == 403 && r.code() == "SQL_NOT_AUTHORIZED" || r.status == 400 && strings.Contains(string(r.body), "unsafe use")) {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}

	// CSV into an existing database: hostile bodies, nothing written.
	csvCases := []struct {
		name, query string
		body        string
		status      int
		code        string
	}{
		{"no table", "", "a,b\n1,2\n", 422, "VALIDATION_ERROR"},
		{"empty", "?table=c", "", 400, "INVALID_CSV"},
		{"ragged", "?table=c", "a,b\n1,2\n3\n", 400, "INVALID_CSV"},
		{"bare quote", "?table=c", "a,b\n1,x\"y\n", 400, "INVALID_CSV"},
		{"open quote", "?table=c", "a,b\n1,\"never closed\n2,3\n", 400, "INVALID_CSV"},
		{"duplicate column", "?table=c", "a,A\n1,2\n", 400, "INVALID_CSV"},
		{"reserved column", "?table=c", "_forge_x\n1\n", 400, "INVALID_CSV"},
		{"too many columns", "?table=c", strings.Repeat("c,", 2500) + "z\n", 400, "INVALID_CSV"},
		{"huge record", "?table=c", "a\n\"" + strings.Repeat("x", 1<<20+10) + "\"\n", 400, "INVALID_CSV"},
		{"not utf-8", "?table=c", "a\n\xff\xfe\n", 400, "INVALID_CSV"},
		{"reserved table", "?table=_forge_idempotency", "a\n1\n", 403, "SQL_NOT_AUTHORIZED"},
		{"sqlite table", "?table=sqlite_master", "a\n1\n", 400, "INVALID_IDENTIFIER"},
		{"unknown column of a table", "?table=t", "a,zzz\n1,2\n", 400, "SQL_ERROR"},
		{"wrong type", "", "a\n1\n", 415, "UNSUPPORTED_MEDIA_TYPE"},
	}
	for _, tc := range csvCases {
		t.Run("csv "+tc.name, func(t *testing.T) {
			mt := "text/csv"
			if tc.name == "wrong type" {
				mt = "application/json"
			}
			r := sendAs(t, g, g.adminKey, "POST", "/api/db/good/import"+tc.query, mt, []byte(tc.body))
			if r.status != tc.status || r.code() != tc.code {
				t.Fatalf("status %d %s, want %d %s; body %.300s", r.status, r.code(), tc.status, tc.code, r.body)
			}
		})
	}
	if r := sqlOK(t, g, "good", "SELECT count(*) AS n FROM sqlite_schema WHERE name = 'c'"); !strings.Contains(string(r.body), `"n":0`) {
		t.Errorf("a refused import left its table: %s", r.body)
	}
	// A row SQLite refuses is named by its line; the rows before it are not kept.
	sqlOK(t, g, "good", "CREATE TABLE strict_t(a INTEGER NOT NULL)")
	r = sendAs(t, g, g.adminKey, "POST", "/api/db/good/import?table=strict_t", "text/csv", []byte("a\n1\n2\n\"\"\n"))
	if r.status != 400 || r.code() != "SQL_ERROR" || !strings.Contains(string(r.body), "CSV line 4") {
		t.Errorf("a refused row: %d %s", r.status, r.body)
	}
	if r := sqlOK(t, g, "good", "SELECT count(*) AS n FROM strict_t"); !strings.Contains(string(r.body), `"n":0`) {
		t.Errorf("rows before the refused one were kept: %s", r.body)
	}
	// Ragged half-way: the first rows are not kept either.
	r = sendAs(t, g, g.adminKey, "POST", "/api/db/good/import?table=t", "text/csv", []byte("a,b\n9001,x\n9002\n"))
	mustStatus(t, r, 400, "ragged into t")
	if r := sqlOK(t, g, "good", "SELECT count(*) AS n FROM t"); !strings.Contains(string(r.body), `"n":2000`) {
		t.Errorf("rows of a refused import were kept: %s", r.body)
	}
}

// exportRaw reads database db's file as the gateway stopped touching it:
// through the export route.
func exportRaw(t *testing.T, g *gateway, db string) []byte {
	t.Helper()
	r := sendAs(t, g, g.adminKey, "GET", "/api/db/"+db+"/export?format=sqlite", "", nil)
	mustStatus(t, r, 200, "export "+db)
	return r.body
}

// TestImportCSV: a table created with inferred types, and rows into one
// that exists.
func TestImportCSV(t *testing.T) {
	g := start(t, t.TempDir())
	key := spawnKey(t, g.client(), "csv")
	body := "\xef\xbb\xbfid,price,name,note,mixed\n1,2.5,apple,,1\n2,3,\"pear, green\",\"say \"\"hi\"\"\",x\n-3,1e3,\"multi\nline\",,2.5\n"
	r := sendAs(t, g, key, "POST", "/api/db/csv/import?table=fruit", "text/csv; charset=utf-8", []byte(body))
	mustStatus(t, r, 200, "csv import")
	var got map[string]any
	_ = json.Unmarshal(r.body, &got)
	if got["created"] != true || got["rows_affected"] != float64(3) {
		t.Fatalf("answer %s", r.body)
	}
	wantCols := `[{"name":"id","type":"INTEGER"},{"name":"price","type":"REAL"},{"name":"name","type":"TEXT"},{"name":"note","type":"TEXT"},{"name":"mixed","type":"TEXT"}]`
	if cols, _ := json.Marshal(got["columns"]); string(cols) != wantCols {
		t.Errorf("columns %s, want %s", cols, wantCols)
	}
	rows := sqlOK(t, g, "csv", "SELECT id, typeof(id) AS ti, price, typeof(price) AS tp, name, note, mixed FROM fruit ORDER BY rowid")
	want := `{"data":[{"id":1,"ti":"integer","price":2.5,"tp":"real","name":"apple","note":null,"mixed":"1"},` +
		`{"id":2,"ti":"integer","price":3.0,"tp":"real","name":"pear, green","note":"say \"hi\"","mixed":"x"},` +
		`{"id":-3,"ti":"integer","price":1000.0,"tp":"real","name":"multi\nline","note":null,"mixed":"2.5"}],"rows_affected":3}`
	if !reflect.DeepEqual(contracttest.J(t, `{"data":`+string(dataOf(t, rows.body))+`,"rows_affected":3}`), contracttest.J(t, want)) {
		t.Errorf("rows\n got %s\nwant %s", rows.body, want)
	}
	// Into the existing table: affinity converts, the header may name a subset.
	r = sendAs(t, g, key, "POST", "/api/db/csv/import?table=FRUIT", "text/csv", []byte("name,id\nplum,7\n"))
	mustStatus(t, r, 200, "csv into an existing table")
	if !strings.Contains(string(r.body), `"created":false`) {
		t.Errorf("answer %s", r.body)
	}
	rows = sqlOK(t, g, "csv", "SELECT typeof(id) AS t FROM fruit WHERE name = 'plum'")
	if !strings.Contains(string(rows.body), `"integer"`) {
		t.Errorf("affinity: %s", rows.body)
	}
}

// TestCheckpoints: create, list, restore (atomic, undoable), delete,
// limits, and deleting the database removes them.
func TestCheckpoints(t *testing.T) {
	dataDir := t.TempDir()
	g := start(t, dataDir, "FORGE_MAX_CHECKPOINTS=3")
	key := spawnKey(t, g.client(), "cp")
	sqlOK(t, g, "cp", "CREATE TABLE t(v INTEGER)")
	sqlOK(t, g, "cp", "INSERT INTO t VALUES (1)")
	r := sendAs(t, g, key, "POST", "/api/db/cp/checkpoints", "application/json", []byte(`{"name": "before-migration"}`))
	mustStatus(t, r, 201, "create")
	var c struct {
		Name      string    `json:"name"`
		CreatedAt time.Time `json:"created_at"`
		Size      int64     `json:"size_bytes"`
	}
	if err := json.Unmarshal(r.body, &c); err != nil || c.Name != "before-migration" || c.Size <= 0 || time.Since(c.CreatedAt) > time.Minute {
		t.Fatalf("checkpoint %s (%v)", r.body, err)
	}
	if r := sendAs(t, g, key, "POST", "/api/db/cp/checkpoints", "application/json", []byte(`{"name": "before-migration"}`)); r.code() != "CHECKPOINT_EXISTS" {
		t.Errorf("same name again: %d %s", r.status, r.body)
	}
	for _, bad := range []string{`{"name": "../x"}`, `{"name": ".hidden"}`, `{"name": ""}`, `{"name": "a/b"}`} {
		if r := sendAs(t, g, key, "POST", "/api/db/cp/checkpoints", "application/json", []byte(bad)); r.status != 400 || r.code() != "INVALID_CHECKPOINT_NAME" {
			t.Errorf("%s: %d %s", bad, r.status, r.body)
		}
	}
	sqlOK(t, g, "cp", "DROP TABLE t")
	sqlOK(t, g, "cp", "CREATE TABLE migrated(x)")

	r = sendAs(t, g, key, "POST", "/api/db/cp/checkpoints/before-migration/restore", "", nil)
	mustStatus(t, r, 200, "restore")
	var restored struct {
		Undo struct {
			Name string `json:"name"`
			Auto bool   `json:"auto"`
		} `json:"undo_checkpoint"`
	}
	_ = json.Unmarshal(r.body, &restored)
	if !restored.Undo.Auto || !strings.HasPrefix(restored.Undo.Name, "before-restore-") {
		t.Fatalf("restore answer %s", r.body)
	}
	if r := sqlOK(t, g, "cp", "SELECT group_concat(name) AS n FROM sqlite_schema WHERE name NOT LIKE '\\_forge\\_%' ESCAPE '\\'"); !strings.Contains(string(r.body), `"n":"t"`) {
		t.Fatalf("after restore: %s", r.body)
	}
	// The restore is undone by its automatic checkpoint.
	mustStatus(t, sendAs(t, g, key, "POST", "/api/db/cp/checkpoints/"+restored.Undo.Name+"/restore", "", nil), 200, "undo")
	if r := sqlOK(t, g, "cp", "SELECT group_concat(name) AS n FROM sqlite_schema WHERE name NOT LIKE '\\_forge\\_%' ESCAPE '\\'"); !strings.Contains(string(r.body), `"n":"migrated"`) {
		t.Fatalf("after undo: %s", r.body)
	}
	list := sendAs(t, g, key, "GET", "/api/db/cp/checkpoints", "", nil)
	mustStatus(t, list, 200, "list")
	var l struct {
		Checkpoints []struct{ Name string } `json:"checkpoints"`
	}
	_ = json.Unmarshal(list.body, &l)
	if len(l.Checkpoints) != 3 || l.Checkpoints[0].Name != "before-migration" {
		t.Fatalf("list %s", list.body)
	}
	// At the limit (3): a new checkpoint is refused; a restore makes room
	// by dropping the oldest automatic one.
	if r := sendAs(t, g, key, "POST", "/api/db/cp/checkpoints", "", nil); r.status != 409 || r.code() != "CHECKPOINT_LIMIT" {
		t.Errorf("past the limit: %d %s", r.status, r.body)
	}
	mustStatus(t, sendAs(t, g, key, "POST", "/api/db/cp/checkpoints/before-migration/restore", "", nil), 200, "restore at the limit")
	mustStatus(t, sendAs(t, g, key, "DELETE", "/api/db/cp/checkpoints/before-migration", "", nil), 200, "delete")
	if r := sendAs(t, g, key, "DELETE", "/api/db/cp/checkpoints/before-migration", "", nil); r.status != 404 || r.code() != "CHECKPOINT_NOT_FOUND" {
		t.Errorf("delete again: %d %s", r.status, r.body)
	}
	if r := sendAs(t, g, key, "POST", "/api/db/cp/checkpoints/nope/restore", "", nil); r.status != 404 || r.code() != "CHECKPOINT_NOT_FOUND" {
		t.Errorf("restore of none: %d %s", r.status, r.body)
	}
	if r := sendAs(t, g, g.adminKey, "GET", "/api/db/ghost/checkpoints", "", nil); r.status != 404 || r.code() != "DATABASE_NOT_FOUND" {
		t.Errorf("checkpoints of no database: %d %s", r.status, r.body)
	}
	cpDir := filepath.Join(dataDir, ".forge", "checkpoints", "cp")
	if entries, _ := os.ReadDir(cpDir); len(entries) == 0 {
		t.Fatalf("no checkpoint files in %s", cpDir)
	}
	mustStatus(t, sendAs(t, g, g.adminKey, "DELETE", "/admin/databases/cp", "", nil), 200, "delete database")
	if _, err := os.Lstat(cpDir); !os.IsNotExist(err) {
		t.Errorf("the checkpoints outlived their database: %v", err)
	}
	// A new database of the same name starts without checkpoints.
	key = spawnKey(t, g.client(), "cp")
	if r := sendAs(t, g, key, "GET", "/api/db/cp/checkpoints", "", nil); string(r.body) != `{"checkpoints":[]}` {
		t.Errorf("new database's checkpoints: %s", r.body)
	}
}

// TestRestoreUnderWrites: writers hammer the database while it is
// restored; every write sent after the restore answered is there, and
// the state is the checkpoint's plus those writes.
func TestRestoreUnderWrites(t *testing.T) {
	g := start(t, t.TempDir())
	key := spawnKey(t, g.client(), "rw")
	sqlOK(t, g, "rw", "CREATE TABLE t(id INTEGER PRIMARY KEY, phase TEXT)")
	sqlOK(t, g, "rw", "INSERT INTO t(phase) VALUES ('base')")
	mustStatus(t, sendAs(t, g, key, "POST", "/api/db/rw/checkpoints", "application/json", []byte(`{"name":"base"}`)), 201, "checkpoint")

	var restoredAt atomic.Int64 // unix nanos when the restore's answer came; 0 before
	type ack struct {
		id         int64
		sent, done int64 // unix nanos the request was sent and answered
	}
	var (
		mu    sync.Mutex
		acked []ack
		next  atomic.Int64
		stop  atomic.Bool
		wg    sync.WaitGroup
	)
	next.Store(1000)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				id := next.Add(1)
				sent := time.Now().UnixNano()
				b, _ := json.Marshal(map[string]any{"sql": "INSERT INTO t(id, phase) VALUES (?, 'w')", "params": []any{id}})
				r := sendAs(t, g, key, "POST", "/api/db/rw/query", "application/json", b, "X-Query-Timeout", "20s")
				if r.status == 200 {
					mu.Lock()
					acked = append(acked, ack{id, sent, time.Now().UnixNano()})
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	restoreSent := time.Now().UnixNano()
	r := sendAs(t, g, key, "POST", "/api/db/rw/checkpoints/base/restore", "", nil, "X-Query-Timeout", "20s")
	restoredAt.Store(time.Now().UnixNano())
	mustStatus(t, r, 200, "restore under writes")
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	rows := sqlOK(t, g, "rw", "SELECT id FROM t WHERE phase = 'w' ORDER BY id")
	var got struct {
		Data []struct {
			ID int64 `json:"id"`
		} `json:"data"`
	}
	_ = json.Unmarshal(rows.body, &got)
	have := map[int64]bool{}
	for _, d := range got.Data {
		have[d.ID] = true
	}
	after, lost := 0, 0
	for _, a := range acked {
		if a.sent > restoredAt.Load() {
			after++
			if !have[a.id] {
				lost++
			}
		}
	}
	if after == 0 {
		t.Fatal("no write was sent after the restore answered")
	}
	if lost > 0 {
		t.Fatalf("%d of %d writes sent after the restore answered are gone", lost, after)
	}
	// What was written before the restore was asked for (and is not in
	// its checkpoint) is in the automatic checkpoint, not in the database.
	before, survived := 0, 0
	for _, a := range acked {
		if a.done < restoreSent {
			before++
			if have[a.id] {
				survived++
			}
		}
	}
	if before == 0 || survived > 0 {
		t.Errorf("%d of %d writes answered before the restore was asked for survived it", survived, before)
	}
	if r := sqlOK(t, g, "rw", "SELECT count(*) AS n FROM t WHERE phase = 'base'"); !strings.Contains(string(r.body), `"n":1`) {
		t.Errorf("base row: %s", r.body)
	}
	ids := make([]int64, 0, len(have))
	for id := range have {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	t.Logf("%d writes acknowledged, %d sent after the restore, %d in the database", len(acked), after, len(ids))
}

// TestBranches: a spawn with {"from": …} copies a database (as it is, or
// at a checkpoint) into a new one with its own key; a body without
// "from" is ignored, as the seed's spawn always did.
func TestBranches(t *testing.T) {
	dataDir := t.TempDir()
	g := start(t, dataDir)
	spawnKey(t, g.client(), "trunk")
	movesFixture(t, g, "trunk")
	mustStatus(t, sendAs(t, g, g.adminKey, "POST", "/api/db/trunk/checkpoints", "application/json", []byte(`{"name":"v1"}`)), 201, "checkpoint")
	atV1 := content(t, g, "trunk")
	sqlOK(t, g, "trunk", "INSERT INTO log VALUES ('after v1')")
	now := content(t, g, "trunk")

	r := sendAs(t, g, g.adminKey, "POST", "/admin/databases/spawn/twig", "application/json", []byte(`{"from": "trunk"}`))
	mustStatus(t, r, 201, "branch")
	var ans map[string]any
	_ = json.Unmarshal(r.body, &ans)
	key, _ := ans["api_key"].(string)
	if ans["from"] != "trunk" || !strings.HasPrefix(key, "dbf_") {
		t.Fatalf("branch answer %s", r.body)
	}
	sameContent(t, "branch", now, content(t, g, "twig"))
	if b, err := os.ReadFile(filepath.Join(dataDir, "databases", "twig", "branch.json")); err != nil || !strings.Contains(string(b), `"from":"trunk"`) {
		t.Errorf("branch record: %s %v", b, err)
	}
	// Its own key, its own data.
	b, _ := json.Marshal(map[string]string{"sql": "INSERT INTO log VALUES ('twig only')"})
	mustStatus(t, sendAs(t, g, key, "POST", "/api/db/twig/query", "application/json", b), 200, "write to the branch")
	if r := sqlOK(t, g, "trunk", "SELECT count(*) AS n FROM log WHERE msg = 'twig only'"); !strings.Contains(string(r.body), `"n":0`) {
		t.Errorf("a branch's write reached its parent")
	}
	r = sendAs(t, g, g.adminKey, "POST", "/admin/databases/spawn/leaf", "application/json", []byte(`{"from": "trunk", "checkpoint": "v1"}`))
	mustStatus(t, r, 201, "branch at a checkpoint")
	sameContent(t, "branch at v1", atV1, content(t, g, "leaf"))

	for _, tc := range []struct{ db, body, code string }{
		{"nob1", `{"from": "ghost"}`, "DATABASE_NOT_FOUND"},
		{"nob2", `{"from": "trunk", "checkpoint": "nope"}`, "CHECKPOINT_NOT_FOUND"},
		{"twig", `{"from": "trunk"}`, "DATABASE_EXISTS"},
	} {
		r := sendAs(t, g, g.adminKey, "POST", "/admin/databases/spawn/"+tc.db, "application/json", []byte(tc.body))
		if r.code() != tc.code {
			t.Errorf("%s %s: %d %s", tc.db, tc.body, r.status, r.body)
		}
		if tc.db != "twig" {
			nothingLeft(t, g, dataDir, tc.db)
		}
	}
	// The seed's spawn ignores a body without "from".
	mustStatus(t, sendAs(t, g, g.adminKey, "POST", "/admin/databases/spawn/plain", "application/json", []byte(`{"anything": 1}`)), 201, "seed spawn")
	mustStatus(t, sendAs(t, g, g.adminKey, "POST", "/admin/databases/spawn/plain", "application/json", []byte(`not json`)), 200, "seed re-spawn")
}
