package app_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/praetorian/db-forge/internal/contracttest"
)

// dbFile is database name's SQLite file under data directory dir.
func dbFile(dir, name string) string { return filepath.Join(dir, "databases", name, name+".db") }

// overwrite writes n bytes of b at off in the file at path.
func overwrite(t *testing.T, path string, off int64, n int, b byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte{b}, n), off); err != nil {
		t.Fatal(err)
	}
}

// noWAL fails the test when a database file has a WAL beside it: the
// damage must be in the file SQLite reads, not masked by newer frames.
func noWAL(t *testing.T, path string) {
	t.Helper()
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Fatalf("%s-wal is still there (%d bytes) after a clean stop", path, fi.Size())
	}
}

// firstRowid is the rowid of the first cell of the table leaf page at
// off in the file at path (the b-tree page format of SQLite's file
// format document): the damaged page's rows are known without asking
// SQLite, which may not read it any more.
func firstRowid(t *testing.T, path string, off int64) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := b[off:]
	if page[0] != 0x0D {
		t.Fatalf("page at %d is of type %#x, not a table leaf", off, page[0])
	}
	cell := page[binary.BigEndian.Uint16(page[8:10]):]
	_, n := varint(cell) // the payload's size
	rowid, _ := varint(cell[n:])
	return rowid
}

// varint decodes one of SQLite's variable-length integers.
func varint(b []byte) (v int64, n int) {
	for i := 0; i < 8; i++ {
		v = v<<7 | int64(b[i]&0x7F)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return v<<8 | int64(b[8]), 9
}

// corruptLines are the log's warn lines about database db being damaged.
func corruptLines(logs, db string) []string {
	var out []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, `"level":"warn"`) && strings.Contains(l, "database file is damaged") &&
			strings.Contains(l, `"db":"`+db+`"`) {
			out = append(out, l)
		}
	}
	return out
}

// TestDamagedDatabases (issue 10, finding 3): a database whose header
// was overwritten, and one with a damaged b-tree page, while the gateway
// had them closed. Before, the first answered reads with 500
// INTERNAL_ERROR and writes with 400 SQLITE_NOTADB, the second 400
// SQLITE_CORRUPT on a scan, nothing was logged, nothing listed. Now each
// request that meets the damage answers 500 DATABASE_CORRUPT, read or
// write, the log has one warn line per database with SQLite's message,
// the list and /health mark them (the gateway stays ready), the metric
// counts them, the integrity-check route reports them, and the other
// database works.
func TestDamagedDatabases(t *testing.T) {
	dir := t.TempDir()
	g := start(t, dir)
	admin := g.client()
	for _, db := range []string{"hdr", "pages", "fine"} {
		contracttest.Expect(t, admin.Do(t, "POST", "/admin/databases/spawn/"+db, nil), 201, "")
		contracttest.Expect(t, admin.Do(t, "POST", "/api/db/"+db+"/query", `{"sql": "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)"}`), 200, "")
		// 2,000 rows of 200 bytes: about 100 leaf pages under one root.
		contracttest.Expect(t, admin.Do(t, "POST", "/api/db/"+db+"/query", `{"sql":
			"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000) INSERT INTO t SELECT x, printf('%0200d', x) FROM c"}`), 200, "")
	}
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}

	// The header: the first 100 bytes, "SQLite format 3" included.
	hdr := dbFile(dir, "hdr")
	noWAL(t, hdr)
	overwrite(t, hdr, 0, 100, 0xA5)
	// A leaf page of t in the middle of the file (page 1 is the schema,
	// page 2 t's root, the rest its leaves, rowids in order).
	pages := dbFile(dir, "pages")
	noWAL(t, pages)
	head := make([]byte, 100)
	f, err := os.Open(pages)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.ReadAt(head, 0)
	fi, _ := f.Stat()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	pageSize := int64(binary.BigEndian.Uint16(head[16:18]))
	count := fi.Size() / pageSize
	if count < 50 {
		t.Fatalf("%d pages of %d bytes: too few to damage one in the middle", count, pageSize)
	}
	mid := count / 2 // 1-based page number
	rowid := firstRowid(t, pages, (mid-1)*pageSize)
	overwrite(t, pages, (mid-1)*pageSize, int(pageSize), 0x5A)

	g = start(t, dir)
	admin = g.client()
	const corrupt = "The database file is damaged (%s); restore it from a copy or delete it. " +
		"POST /admin/databases/{db_name}/integrity-check tells what SQLite finds."
	notADB := strings.Replace(corrupt, "%s", "file is not a database", 1)
	malformed := strings.Replace(corrupt, "%s", "database disk image is malformed", 1)
	expectCorrupt := func(t *testing.T, r contracttest.Response, detail string) {
		t.Helper()
		contracttest.ExpectError(t, r, 500, detail)
		if code := r.Body.(map[string]any)["error"].(map[string]any)["code"]; code != "DATABASE_CORRUPT" {
			t.Fatalf("code %v, want DATABASE_CORRUPT: %s", code, r.Raw)
		}
	}

	t.Run("header: every read and write", func(t *testing.T) {
		expectCorrupt(t, admin.Do(t, "POST", "/api/db/hdr/query", `{"sql": "SELECT count(*) AS n FROM t"}`), notADB)
		expectCorrupt(t, admin.Do(t, "POST", "/api/db/hdr/query", `{"sql": "SELECT 1 AS one"}`), notADB)
		expectCorrupt(t, admin.Do(t, "POST", "/api/db/hdr/query", `{"sql": "INSERT INTO t(v) VALUES ('x')"}`), notADB)
		expectCorrupt(t, admin.Do(t, "GET", "/api/db/hdr/tables/t/rows?id=1", nil), notADB)
		expectCorrupt(t, admin.Do(t, "POST", "/api/db/hdr/tables/t/rows", `{"rows": [{"v": "x"}]}`), notADB)
		expectCorrupt(t, admin.Do(t, "POST", "/api/db/hdr/tables", `{"table_name": "u", "columns": [{"name": "a", "type": "TEXT"}]}`), notADB)
	})

	t.Run("page: what reads the page", func(t *testing.T) {
		// A scan reads every leaf; so do the rows route without filters,
		// an UPDATE of every row, and an INSERT whose rowid belongs on the
		// damaged page (the b-tree descends to it to place the row).
		expectCorrupt(t, admin.Do(t, "POST", "/api/db/pages/query", `{"sql": "SELECT sum(length(v)) AS n FROM t"}`), malformed)
		expectCorrupt(t, admin.Do(t, "GET", "/api/db/pages/tables/t/rows", nil), malformed)
		expectCorrupt(t, admin.Do(t, "POST", "/api/db/pages/query", `{"sql": "UPDATE t SET v = 'x'"}`), malformed)
		expectCorrupt(t, admin.Do(t, "POST", "/api/db/pages/query", fmt.Sprintf(`{"sql": "INSERT OR REPLACE INTO t(id, v) VALUES (%d, 'x')"}`, rowid)), malformed)
		// What does not read the damaged page cannot see the damage:
		// a row found by its rowid on another page, and an INSERT at the
		// end of the table, succeed, as SQLite itself answers them.
		contracttest.Expect(t, admin.Do(t, "POST", "/api/db/pages/query", `{"sql": "SELECT id FROM t WHERE id = 1"}`), 200,
			`{"data": [{"id": 1}], "rows_affected": 1}`)
		contracttest.Expect(t, admin.Do(t, "POST", "/api/db/pages/query", `{"sql": "INSERT INTO t(v) VALUES ('appended')"}`), 200, "")
		contracttest.Expect(t, admin.Do(t, "POST", "/api/db/pages/tables/t/rows", `{"rows": [{"v": "appended too"}]}`), 201, "")
	})

	t.Run("the other database works", func(t *testing.T) {
		contracttest.Expect(t, admin.Do(t, "POST", "/api/db/fine/query", `{"sql": "SELECT count(*) AS n FROM t"}`), 200,
			`{"data": [{"n": 2000}], "rows_affected": 1}`)
		contracttest.Expect(t, admin.Do(t, "POST", "/api/db/fine/tables/t/rows", `{"rows": [{"v": "y"}]}`), 201, "")
	})

	t.Run("one warn line per database, with SQLite's message", func(t *testing.T) {
		logs := g.logs.String()
		for db, msg := range map[string]string{"hdr": "file is not a database", "pages": "database disk image is malformed"} {
			lines := corruptLines(logs, db)
			if len(lines) != 1 || !strings.Contains(lines[0], `"sqlite":"`+msg+`"`) {
				t.Errorf("%s: %d warn lines, want 1 with %q:\n%s", db, len(lines), msg, strings.Join(lines, "\n"))
			}
		}
		if lines := corruptLines(logs, "fine"); len(lines) != 0 {
			t.Errorf("fine is logged as damaged: %s", lines)
		}
		if strings.Contains(logs, `"level":"error"`) {
			t.Errorf("a damaged database is not an error of the gateway's:\n%s", logs)
		}
	})

	t.Run("the list marks them", func(t *testing.T) {
		r := admin.Do(t, "GET", "/admin/databases", nil)
		contracttest.Expect(t, r, 200, "")
		for _, it := range r.Body.([]any) {
			m := it.(map[string]any)
			name := m["name"].(string)
			since, _ := time.Parse(time.RFC3339, stringOf(m["damaged_since"]))
			switch name {
			case "hdr", "pages":
				if m["damaged"] != true || m["damage"] == "" || since.IsZero() || m["status"] != "running" {
					t.Errorf("%s not marked damaged: %v", name, m)
				}
			default:
				if _, ok := m["damaged"]; ok {
					t.Errorf("%s marked: %v", name, m)
				}
				if len(m) != 4 {
					t.Errorf("%s: the seed's fields changed: %v", name, m)
				}
			}
		}
	})

	t.Run("health stays ready and names them to the admin key", func(t *testing.T) {
		r := admin.Do(t, "GET", "/health", nil)
		contracttest.Expect(t, r, 200, "")
		m := r.Body.(map[string]any)
		d, _ := m["damaged"].(map[string]any)
		if m["status"] != "ok" || d == nil || stringOf(d["count"]) != "2" {
			t.Fatalf("/health: %s", r.Raw)
		}
		var names []string
		for _, it := range d["databases"].([]any) {
			names = append(names, it.(map[string]any)["db_name"].(string))
		}
		if strings.Join(names, ",") != "hdr,pages" {
			t.Errorf("/health lists %v", names)
		}
		r = admin.WithKey("").Do(t, "GET", "/health", nil)
		contracttest.Expect(t, r, 200, "")
		if d := r.Body.(map[string]any)["damaged"].(map[string]any); stringOf(d["count"]) != "2" || d["databases"] != nil {
			t.Errorf("public /health: %s", r.Raw)
		}
	})

	t.Run("integrity check", func(t *testing.T) {
		contracttest.Expect(t, admin.Do(t, "POST", "/admin/databases/hdr/integrity-check", nil), 200,
			`{"db_name": "hdr", "ok": false, "problems": ["file is not a database"]}`)
		r := admin.Do(t, "POST", "/admin/databases/pages/integrity-check", nil)
		contracttest.Expect(t, r, 200, "")
		if m := r.Body.(map[string]any); m["ok"] != false || len(m["problems"].([]any)) == 0 {
			t.Fatalf("pages: %s", r.Raw)
		}
		t.Logf("pages: %s", r.Raw)
		contracttest.Expect(t, admin.Do(t, "POST", "/admin/databases/fine/integrity-check", nil), 200,
			`{"db_name": "fine", "ok": true, "problems": []}`)
		contracttest.ExpectError(t, admin.Do(t, "POST", "/admin/databases/ghost/integrity-check", nil), 404, "Database not found.")
	})

	t.Run("metrics", func(t *testing.T) {
		s, _ := series(t, admin)
		if s["forge_engine_corruptions_total"] != 2 || s["forge_engine_damaged_databases"] != 2 {
			t.Errorf("corruptions_total %v, damaged_databases %v, want 2 and 2",
				s["forge_engine_corruptions_total"], s["forge_engine_damaged_databases"])
		}
	})

	t.Run("delete clears the mark", func(t *testing.T) {
		contracttest.Expect(t, admin.Do(t, "DELETE", "/admin/databases/hdr", nil), 200, "")
		s, _ := series(t, admin)
		if s["forge_engine_corruptions_total"] != 2 || s["forge_engine_damaged_databases"] != 1 {
			t.Errorf("after delete: corruptions_total %v, damaged_databases %v, want 2 and 1",
				s["forge_engine_corruptions_total"], s["forge_engine_damaged_databases"])
		}
		contracttest.Expect(t, admin.Do(t, "POST", "/admin/databases/spawn/hdr", nil), 201, "")
		contracttest.Expect(t, admin.Do(t, "POST", "/api/db/hdr/query", `{"sql": "SELECT 1 AS one"}`), 200,
			`{"data": [{"one": 1}], "rows_affected": 1}`)
	})
}

// stringOf is a JSON value (a string, a json.Number) as text; "" for none.
func stringOf(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// copyFile copies src over dst with src's mode, as cp -p does.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, fi.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
}

// moveAside does the recovery's first two steps: the damaged key database
// goes aside, its WAL and shared-memory files go.
func moveAside(t *testing.T, meta string) {
	t.Helper()
	if err := os.Rename(meta, meta+".damaged"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{meta + "-wal", meta + "-shm"} {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
}

// TestDamagedKeyStore (issue 10, finding 3): a damaged .forge/meta.db
// stopped the start with "sqlite3: file is not a database" and nothing
// more. The gateway keeps a last good copy (meta.good.db) after every key
// change; a damaged key database stops the start with the file, SQLite's
// message and the exact steps, and after them the old keys work. Without
// a copy, the steps start with an empty key store and the admin key.
func TestDamagedKeyStore(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, ".forge")
	meta, good := filepath.Join(state, "meta.db"), filepath.Join(state, "meta.good.db")
	g := start(t, dir, "FORGE_LOG_LEVEL=debug")
	admin := g.client()
	rw := spawnKey(t, admin, "k")
	_, ro := mintKey(t, admin, "k", `{"scope": "read-only"}`)
	goneID, gone := mintKey(t, admin, "k", `{"scope": "read-write"}`)
	contracttest.Expect(t, admin.Do(t, "DELETE", "/admin/databases/k/keys/"+goneID, nil), 200, "")
	contracttest.Expect(t, admin.WithKey(rw).Do(t, "POST", "/api/db/k/query", `{"sql": "CREATE TABLE t(a)"}`), 200, "")
	// Another database's keys, swept with it.
	spawnKey(t, admin, "swept")
	contracttest.Expect(t, admin.Do(t, "DELETE", "/admin/databases/swept", nil), 200, "")
	// The last change just before the stop: the copy taken at shutdown
	// has it.
	_, last := mintKey(t, admin, "k", `{"scope": "read-only"}`)
	if fi, err := os.Stat(good); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v, want mode 0600", good, fi, err)
	}
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
	// What a copy costs (off the requests' path).
	var took []string
	for _, l := range strings.Split(g.logs.String(), "\n") {
		if strings.Contains(l, "key database copied") {
			if _, rest, ok := strings.Cut(l, `"took":`); ok {
				took = append(took, strings.TrimRight(rest, "}"))
			}
		}
	}
	// The start's copy, then at least the last change's (at shutdown if
	// not before), and no more than one for each change: spawn, mint,
	// mint, revoke, spawn, the delete's two sweeps, mint.
	if len(took) < 2 || len(took) > 9 {
		t.Errorf("%d copies, want 2 to 9: %v", len(took), took)
	}
	t.Logf("copies of the key database took (ms): %s", strings.Join(took, " "))

	overwrite(t, meta, 0, 100, 0xA5)
	var out syncBuffer
	err := runOnce(dir, &out)
	if err == nil {
		t.Fatal("the gateway started on a damaged key database")
	}
	fi, _ := os.Stat(good)
	copied := fi.ModTime().UTC().Format(time.RFC3339)
	for _, want := range []string{
		"the key database " + meta + " is damaged (SQLite: file is not a database)",
		"mv " + meta + " " + meta + ".damaged\n",
		"rm -f " + meta + "-wal " + meta + "-shm\n",
		"cp -p " + good + " " + meta + "\n",
		"the last good copy the gateway kept, of " + copied,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the start's error lacks %q:\n%v", want, err)
		}
	}
	t.Logf("the start's error:\n%v", err)

	// The steps, as the error gives them.
	moveAside(t, meta)
	copyFile(t, good, meta)
	g = start(t, dir)
	admin = g.client()
	contracttest.Expect(t, admin.WithKey(rw).Do(t, "POST", "/api/db/k/query", `{"sql": "INSERT INTO t VALUES (1)"}`), 200, "")
	contracttest.Expect(t, admin.WithKey(ro).Do(t, "GET", "/api/db/k/tables/t/rows", nil), 200, `{"data": [{"a": 1}], "rows_affected": 1}`)
	contracttest.ExpectError(t, admin.WithKey(gone).Do(t, "GET", "/api/db/k/tables/t/rows", nil), 401, "API key revoked.")
	contracttest.Expect(t, admin.WithKey(last).Do(t, "GET", "/api/db/k/tables/t/rows", nil), 200, "")
	if n := len(admin.Do(t, "GET", "/admin/databases/k/keys", nil).Body.([]any)); n != 4 {
		t.Errorf("k has %d keys after the restore, want 4", n)
	}
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}

	// No copy: the steps start with an empty key store.
	if err := os.Remove(good); err != nil {
		t.Fatal(err)
	}
	overwrite(t, meta, 0, 100, 0xA5)
	err = runOnce(dir, &out)
	if err == nil {
		t.Fatal("the gateway started on a damaged key database")
	}
	for _, want := range []string{
		"the key database " + meta + " is damaged (SQLite: file is not a database)",
		"mv " + meta + " " + meta + ".damaged\n",
		"there is no last good copy (" + good + ")",
		"the admin key still works (it is FORGE_ADMIN_KEY or " + filepath.Join(state, "admin.key"),
		"POST /admin/databases/{db_name}/keys",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the start's error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "cp -p") {
		t.Errorf("a copy to restore is offered, and there is none:\n%v", err)
	}
	moveAside(t, meta)
	g = start(t, dir)
	admin = g.client()
	contracttest.ExpectError(t, admin.WithKey(rw).Do(t, "POST", "/api/db/k/query", `{"sql": "SELECT 1"}`), 401, "Invalid API key.")
	contracttest.Expect(t, admin.Do(t, "GET", "/api/db/k/tables/t/rows", nil), 200, `{"data": [{"a": 1}], "rows_affected": 1}`)
	if _, err := os.Stat(good); err != nil {
		t.Errorf("the new start took no copy: %v", err)
	}
}
