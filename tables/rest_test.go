package tables

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/wasm"
)

// readRows runs ReadRows and fails the test on error.
func readRows(tb testing.TB, e *fixture, table string, params ...string) (*recorder, forge.Page) {
	tb.Helper()
	rec := &recorder{}
	_, page, err := e.ReadRows(context.Background(), "db", table, qp(params...), rec)
	if err != nil {
		tb.Fatalf("%s %v: %v", table, params, err)
	}
	return rec, page
}

// col is column i of every row.
func col(rec *recorder, i int) []any {
	var out []any
	for _, r := range rec.rows {
		switch v := r[i]; v.Kind {
		case forge.Integer:
			out = append(out, int(v.Int))
		case forge.Float:
			out = append(out, v.Float)
		case forge.Text:
			out = append(out, v.Str)
		case forge.Null:
			out = append(out, nil)
		default:
			out = append(out, v.Bytes)
		}
	}
	return out
}

func ids(vals ...any) []any { return vals }

const peopleSQL = `CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT, age INTEGER, city TEXT, score REAL);
INSERT INTO people VALUES (1, 'Al', 30, 'Oslo', 1.5);
INSERT INTO people VALUES (2, 'Bo', 17, 'Paris', NULL);
INSERT INTO people VALUES (3, 'Cy', 30, 'paris', 3.0);
INSERT INTO people VALUES (4, 'Di', NULL, 'Pa%ris', 2.0);
INSERT INTO people VALUES (5, 'E_d', 45, NULL, 2.0);
INSERT INTO people VALUES (6, 'O''Hara', 52, 'New "York"', -1)`

func TestReadRowsFilters(t *testing.T) {
	t.Parallel()
	e, _, _ := newDB(t, wasm.Config{})
	exec(t, e, "db", peopleSQL)
	tests := []struct {
		name   string
		params []string
		want   []any // ids, in rowid order
	}{
		{"no filter: every row", nil, ids(1, 2, 3, 4, 5, 6)},
		{"equality", []string{"city", "Paris"}, ids(2)},
		{"exact", []string{"age__exact", "30"}, ids(1, 3)},
		{"not (NULL is neither)", []string{"age__not", "30"}, ids(2, 5, 6)},
		{"gt", []string{"age__gt", "30"}, ids(5, 6)},
		{"gte", []string{"age__gte", "30"}, ids(1, 3, 5, 6)},
		{"lt", []string{"age__lt", "30"}, ids(2)},
		{"lte", []string{"age__lte", "30"}, ids(1, 2, 3)},
		{"range", []string{"age__gte", "18", "age__lt", "50"}, ids(1, 3, 5)},
		{"real column", []string{"score__gt", "1.9"}, ids(3, 4, 5)},
		{"contains, case-insensitive", []string{"city__contains", "ARI"}, ids(2, 3)},
		{"contains takes % literally", []string{"city__contains", "a%r"}, ids(4)},
		{"startswith", []string{"city__startswith", "pa"}, ids(2, 3, 4)},
		{"endswith", []string{"name__endswith", "_d"}, ids(5)},
		{"endswith takes _ literally", []string{"name__endswith", "_"}, nil},
		{"like is a pattern", []string{"name__like", "_o"}, ids(2)},
		{"glob is case-sensitive", []string{"city__glob", "P*"}, ids(2, 4)},
		{"in comma list", []string{"name__in", "Al,Cy,Zed"}, ids(1, 3)},
		{"in JSON array of numbers", []string{"age__in", "[17, 52]"}, ids(2, 6)},
		{"in text numbers match integers", []string{"age__in", "17,52"}, ids(2, 6)},
		{"in empty", []string{"age__in", "[]"}, nil},
		{"isnull", []string{"age__isnull", "1"}, ids(4)},
		{"notnull", []string{"city__notnull", "1"}, ids(1, 2, 3, 4, 6)},
		{"isnull=0", []string{"score__isnull", "0"}, ids(1, 3, 4, 5, 6)},
		{"ANDed", []string{"age__gte", "30", "city__notnull", "1", "score__lt", "2"}, ids(1, 6)},
		{"quote in value", []string{"name", "O'Hara"}, ids(6)},
		{"double quote in value", []string{"city", `New "York"`}, ids(6)},
		{"SQL in value", []string{"name", "x' OR '1'='1"}, nil},
		{"SQL in a like", []string{"name__like", "%' OR 1=1 --"}, nil},
		{"column case ignored", []string{"AGE__GT", "45"}, ids(6)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec, page := readRows(t, e, "people", tc.params...)
			if got := col(rec, 0); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ids %v, want %v", got, tc.want)
			}
			if page != (forge.Page{}) {
				t.Fatalf("page %+v without paging", page)
			}
		})
	}
	if n := queryInt(t, e, "db", "SELECT count(*) FROM people"); n != 6 {
		t.Fatalf("%d rows after the hostile values", n)
	}
}

func TestReadRowsErrors(t *testing.T) {
	t.Parallel()
	e, _, _ := newDB(t, wasm.Config{})
	exec(t, e, "db", peopleSQL+`;
CREATE VIEW v AS SELECT name FROM people`)
	tests := []struct {
		name   string
		table  string
		params []string
		code   string
	}{
		{"unknown column", "people", []string{"nope", "1"}, CodeUnknownColumn},
		{"unknown column with op", "people", []string{"nope__gt", "1"}, CodeUnknownColumn},
		{"unknown _ parameter", "people", []string{"_nope", "1"}, CodeUnknownParameter},
		{"unknown sort column", "people", []string{"_sort", "nope"}, CodeUnknownColumn},
		{"sort on an injection", "people", []string{"_sort", `age"; DROP TABLE people; --`}, CodeUnknownColumn},
		{"unknown _col", "people", []string{"_col", "nope"}, CodeUnknownColumn},
		{"unknown _nocol", "people", []string{"_nocol", "nope"}, CodeUnknownColumn},
		{"nocol every column", "v", []string{"_nocol", "name"}, CodeInvalidValue},
		{"col twice", "people", []string{"_col", "id", "_col", "ID"}, CodeInvalidValue},
		{"sort twice", "people", []string{"_sort", "id", "_sort_desc", "ID"}, CodeInvalidValue},
		{"same op, different case", "people", []string{"age", "1", "AGE__exact", "2"}, CodeInvalidValue},
		{"bad limit alias", "people", []string{"limit", "x"}, CodeInvalidValue},
		{"limit with _size", "people", []string{"limit", "3", "_size", "2"}, CodeInvalidValue},
		{"next and offset", "people", []string{"_next", encodeToken(pageToken{kind: tokenOffset}), "_offset", "2"}, CodeInvalidValue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := e.ReadRows(context.Background(), "db", tc.table, qp(tc.params...), &recorder{})
			inputError(t, err, tc.code)
		})
	}
	for _, table := range []string{"nope", "_forge_idem", "_FORGE_x"} {
		if _, _, err := e.ReadRows(context.Background(), "db", table, nil, &recorder{}); err != forge.ErrTableNotFound {
			t.Errorf("%s: %v, want ErrTableNotFound", table, err)
		}
	}
}

func TestReadRowsSortAndColumns(t *testing.T) {
	t.Parallel()
	e, _, _ := newDB(t, wasm.Config{})
	exec(t, e, "db", peopleSQL)
	tests := []struct {
		name   string
		params []string
		cols   []string
		want   []any // column 0
	}{
		{"sort ascending, NULL first, rowid breaks ties", []string{"_sort", "age"}, []string{"id", "name", "age", "city", "score"}, ids(4, 2, 1, 3, 5, 6)},
		{"sort descending, NULL last, rowid descending breaks ties", []string{"_sort_desc", "age"}, nil, ids(6, 5, 3, 1, 2, 4)},
		{"two keys", []string{"_sort_desc", "score", "_sort", "name"}, nil, ids(3, 4, 5, 1, 6, 2)},
		{"text sort", []string{"_sort", "name"}, nil, ids(1, 2, 3, 4, 5, 6)},
		{"_col picks and orders", []string{"_col", "name", "_col", "ID"}, []string{"name", "id"}, ids("Al", "Bo", "Cy", "Di", "E_d", "O'Hara")},
		{"_nocol leaves out", []string{"_nocol", "city", "_nocol", "score", "_sort_desc", "id"}, []string{"id", "name", "age"}, ids(6, 5, 4, 3, 2, 1)},
		{"_col with a filter on another column", []string{"_col", "name", "age__gt", "40"}, []string{"name"}, ids("E_d", "O'Hara")},
		{"_offset", []string{"_offset", "4"}, nil, ids(5, 6)},
		{"offset alias", []string{"offset", "4", "limit", "1"}, nil, ids(5)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec, _ := readRows(t, e, "people", tc.params...)
			if tc.cols != nil {
				checkCols(t, tc.name, rec.cols, tc.cols)
			}
			if got := col(rec, 0); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("%v, want %v", got, tc.want)
			}
		})
	}
}

// pageAll reads table page by page (size rows) with params, and returns
// the first column of every row and the number of pages.
func pageAll(tb testing.TB, e *fixture, table string, size int, between func(page int), params ...string) ([]any, int) {
	tb.Helper()
	var all []any
	next := ""
	for pages := 1; ; pages++ {
		p := append([]string{"_size", fmt.Sprint(size)}, params...)
		if next != "" {
			p = append(p, "_next", next)
		}
		rec, page := readRows(tb, e, table, p...)
		if !page.Paged || len(rec.rows) > size {
			tb.Fatalf("page %d: %+v, %d rows", pages, page, len(rec.rows))
		}
		all = append(all, col(rec, 0)...)
		if page.More != (page.Next != "") {
			tb.Fatalf("page %d: more %v, next %q", pages, page.More, page.Next)
		}
		if !page.More {
			return all, pages
		}
		if len(rec.rows) != size {
			tb.Fatalf("page %d: %d rows and more follow", pages, len(rec.rows))
		}
		next = page.Next
		if between != nil {
			between(pages)
		}
		if pages > 10000 {
			tb.Fatal("paging does not end")
		}
	}
}

func TestKeysetPaging(t *testing.T) {
	t.Parallel()
	e, _, _ := newDB(t, wasm.Config{})
	exec(t, e, "db", `CREATE TABLE t(id INTEGER PRIMARY KEY, g INTEGER, s TEXT, r REAL);
CREATE INDEX t_g ON t(g);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 103)
INSERT INTO t SELECT i, CASE WHEN i % 7 = 0 THEN NULL ELSE i % 5 END, CASE WHEN i % 11 = 0 THEN NULL ELSE char(65 + i % 3) END, (i % 4) * 0.5 FROM n;
CREATE TABLE kv(a TEXT, b INTEGER, v, PRIMARY KEY (a, b)) WITHOUT ROWID;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 40)
INSERT INTO kv SELECT char(97 + i % 4), i, i FROM n;
CREATE VIEW odd AS SELECT id, g FROM t WHERE id % 2 = 1;
CREATE TABLE "we""ird [t]"("col ""q""" TEXT, "日本" INTEGER);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 30)
INSERT INTO "we""ird [t]" SELECT 'v' || (i % 3), i FROM n`)
	tests := []struct {
		name   string
		table  string
		params []string
		want   string // the SQL whose first column is the whole answer in order
	}{
		{"rowid", "t", nil, "SELECT id FROM t ORDER BY rowid"},
		{"filtered", "t", []string{"g", "2"}, "SELECT id FROM t WHERE g = 2 ORDER BY rowid"},
		{"sort with NULLs", "t", []string{"_sort", "g"}, "SELECT id FROM t ORDER BY g, rowid"},
		{"sort desc with NULLs", "t", []string{"_sort_desc", "g"}, "SELECT id FROM t ORDER BY g DESC, rowid DESC"},
		{"two keys mixed", "t", []string{"_sort", "s", "_sort_desc", "r"}, "SELECT id FROM t ORDER BY s, r DESC, rowid DESC"},
		{"two keys desc", "t", []string{"_sort_desc", "s", "_sort_desc", "g"}, "SELECT id FROM t ORDER BY s DESC, g DESC, rowid DESC"},
		{"sort and filter", "t", []string{"_sort_desc", "r", "g__in", "1,3"}, "SELECT id FROM t WHERE g IN (1,3) ORDER BY r DESC, rowid DESC"},
		{"without rowid", "kv", nil, "SELECT a FROM kv ORDER BY a, b"},
		{"without rowid sorted", "kv", []string{"_sort_desc", "v"}, "SELECT a FROM kv ORDER BY v DESC, a DESC, b DESC"},
		{"view: offsets", "odd", nil, "SELECT id FROM odd"},
		{"view sorted", "odd", []string{"_sort", "g"}, "SELECT id FROM odd ORDER BY g, id"},
		{"hostile names", `we"ird [t]`, []string{"_sort", `col "q"`}, `SELECT "col ""q""" FROM "we""ird [t]" ORDER BY 1, rowid`},
	}
	for _, tc := range tests {
		for _, size := range []int{1, 7, 50, 1000} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, size), func(t *testing.T) {
				t.Parallel()
				want, _ := query(t, e, "db", tc.want, forge.Params{})
				got, pages := pageAll(t, e, tc.table, size, nil, tc.params...)
				if !reflect.DeepEqual(got, col(want, 0)) {
					t.Fatalf("pages give\n%v\nwant\n%v", got, col(want, 0))
				}
				if wantPages := len(want.rows)/size + 1; pages != wantPages && pages != wantPages-1 {
					t.Fatalf("%d pages of %d rows for %d rows", pages, size, len(want.rows))
				}
			})
		}
	}
}

// TestKeysetPagingUnderInserts: rows inserted between pages (before,
// inside and after the part already read) never make a page repeat a
// row or skip one that was there when paging began.
func TestKeysetPagingUnderInserts(t *testing.T) {
	t.Parallel()
	e, _, _ := newDB(t, wasm.Config{})
	exec(t, e, "db", `CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 200)
INSERT INTO t SELECT i * 10, i % 13 FROM n`)
	for _, sort := range [][]string{nil, {"_sort", "k"}, {"_sort_desc", "k"}} {
		t.Run(fmt.Sprint(sort), func(t *testing.T) {
			before, _ := query(t, e, "db", "SELECT id FROM t", forge.Params{})
			inserted := 0
			var mu sync.Mutex
			got, _ := pageAll(t, e, "t", 9, func(page int) {
				mu.Lock()
				defer mu.Unlock()
				// New rows everywhere in the key space: low ids, ids
				// between existing ones, and past the end.
				for _, id := range []int{page, page*10 + 5, 5000 + page} {
					exec(t, e, "db", fmt.Sprintf("INSERT OR IGNORE INTO t VALUES (%d, %d)", id+inserted*100000, (page*7)%13))
				}
				inserted++
			}, sort...)
			seen := map[any]bool{}
			for _, id := range got {
				if seen[id] {
					t.Fatalf("row %v answered twice", id)
				}
				seen[id] = true
			}
			for _, id := range col(before, 0) {
				if !seen[id] {
					t.Fatalf("row %v, there before paging began, skipped", id)
				}
			}
		})
	}
}

// TestKeysetPagingConcurrentInserts: a writer inserts rows all over the
// key space while a reader pages through the table: no row twice, none of
// those there at the start missed.
func TestKeysetPagingConcurrentInserts(t *testing.T) {
	t.Parallel()
	e, _, _ := newDB(t, wasm.Config{})
	exec(t, e, "db", `CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER NOT NULL);
CREATE INDEX t_k ON t(k);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 500)
INSERT INTO t SELECT i * 1000, i % 17 FROM n`)
	before, _ := query(t, e, "db", "SELECT id FROM t", forge.Params{})
	for _, sort := range [][]string{nil, {"_sort", "k"}, {"_sort_desc", "k"}} {
		stop := make(chan struct{})
		done := make(chan error)
		go func() {
			defer close(done)
			for i := 1; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// Between existing ids, below them and past the end.
				_, err := e.Query(context.Background(), "db", forge.Statement{
					SQL:    "INSERT OR IGNORE INTO t VALUES (?, ?), (?, ?)",
					Params: forge.Params{Positional: []forge.Value{forge.IntValue(int64(i*7919%500000 + 1)), forge.IntValue(int64(i % 17)), forge.IntValue(int64(1_000_000 + i)), forge.IntValue(int64(i % 5))}},
				}, nil)
				if err != nil {
					done <- err
					return
				}
			}
		}()
		got, _ := pageAll(t, e, "t", 13, nil, sort...)
		close(stop)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		seen := map[any]bool{}
		for _, id := range got {
			if seen[id] {
				t.Fatalf("%v: row %v answered twice", sort, id)
			}
			seen[id] = true
		}
		for _, id := range col(before, 0) {
			if !seen[id] {
				t.Fatalf("%v: row %v, there before paging began, skipped", sort, id)
			}
		}
		t.Logf("%v: %d rows paged, %d there at the start", sort, len(got), len(before.rows))
	}
}

// countingEngine runs units of work on the real engine and adds up the
// virtual machine steps of every statement (Statement.Meta): a measure
// of work that does not depend on the machine's speed.
type countingEngine struct {
	*wasm.Engine
	mu    sync.Mutex
	steps int64
}

type countingTx struct {
	forge.Tx
	e *countingEngine
}

func (c countingTx) Run(ctx context.Context, q forge.Statement, w forge.RowWriter) (forge.Result, error) {
	q.Meta = true
	res, err := c.Tx.Run(ctx, q, w)
	c.e.mu.Lock()
	c.e.steps += res.Meta.VMSteps
	c.e.mu.Unlock()
	return res, err
}

func (c *countingEngine) Read(ctx context.Context, db string, fn func(forge.Tx) error) error {
	return c.Engine.Read(ctx, db, func(tx forge.Tx) error { return fn(countingTx{tx, c}) })
}

// TestKeysetPagingLinear: paging through a whole table costs O(rows):
// four times the rows take about four times the steps (an offset scan
// would take sixteen), on the rowid order and on an indexed sort.
func TestKeysetPagingLinear(t *testing.T) {
	t.Parallel()
	e, _, _ := newDB(t, wasm.Config{})
	exec(t, e, "db", `CREATE TABLE small(id INTEGER PRIMARY KEY, k INTEGER NOT NULL, g INTEGER, n INTEGER);
CREATE INDEX small_k ON small(k);
CREATE INDEX small_g ON small(g);
CREATE INDEX small_n ON small(n);
CREATE INDEX small_gk ON small(g, k);
CREATE TABLE big(id INTEGER PRIMARY KEY, k INTEGER NOT NULL, g INTEGER, n INTEGER);
CREATE INDEX big_k ON big(k);
CREATE INDEX big_g ON big(g);
CREATE INDEX big_n ON big(n);
CREATE INDEX big_gk ON big(g, k);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2000)
INSERT INTO small SELECT i, (i * 7919) % 2000, i % 2, CASE WHEN i % 10 = 0 THEN NULL ELSE i % 100 END FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 8000)
INSERT INTO big SELECT i, (i * 7919) % 8000, i % 2, CASE WHEN i % 10 = 0 THEN NULL ELSE i % 400 END FROM n`)
	ce := &countingEngine{Engine: e.Engine}
	counted := &fixture{Engine: e.Engine, Service: New(ce)}
	// A filter with a sort needs an index on both, (g, k), and so do
	// mixed directions; a column that holds NULLs either way.
	for _, params := range [][]string{nil, {"_sort", "k"}, {"_sort_desc", "k"}, {"g", "1"}, {"_sort", "n"},
		{"_sort_desc", "n"}, {"_sort_desc", "n", "n__gte", "0"}, {"g", "1", "_sort", "k"},
		{"_sort", "g", "_sort_desc", "k"}, {"_sort_desc", "g", "_sort", "k"}} {
		steps := func(table string) int64 {
			ce.mu.Lock()
			ce.steps = 0
			ce.mu.Unlock()
			pageAll(t, counted, table, 50, nil, params...)
			ce.mu.Lock()
			defer ce.mu.Unlock()
			return ce.steps
		}
		s, b := steps("small"), steps("big")
		ratio := float64(b) / float64(s)
		t.Logf("%v: %d steps for 2,000 rows, %d for 8,000: ×%.2f", params, s, b, ratio)
		if ratio > 6 {
			t.Errorf("%v: four times the rows took %.1f times the steps: paging is not linear", params, ratio)
		}
	}
}

func TestReadRowsPageAndCount(t *testing.T) {
	t.Parallel()
	e, _, _ := newDB(t, wasm.Config{})
	exec(t, e, "db", peopleSQL)
	rec, page := readRows(t, e, "people", "_size", "2", "_count", "1", "age__notnull", "1")
	if got := col(rec, 0); !reflect.DeepEqual(got, ids(1, 2)) || !page.Paged || !page.More || page.Next == "" || !page.Counted || page.Count != 5 {
		t.Fatalf("%v %+v", got, page)
	}
	rec, page = readRows(t, e, "people", "_size", "10", "_count", "1")
	if len(rec.rows) != 6 || page.More || page.Next != "" || page.Count != 6 {
		t.Fatalf("%d rows, %+v", len(rec.rows), page)
	}
	// limit is _size unless the table has a column "limit".
	exec(t, e, "db", `CREATE TABLE lim("limit" INTEGER, "offset" INTEGER);
INSERT INTO lim VALUES (1, 1);
INSERT INTO lim VALUES (5, 2)`)
	rec, page = readRows(t, e, "lim", "limit", "5")
	if got := col(rec, 1); !reflect.DeepEqual(got, ids(2)) || page.Paged {
		t.Fatalf("limit on a table with a limit column: %v %+v", got, page)
	}
	rec, page = readRows(t, e, "people", "limit", "1")
	if len(rec.rows) != 1 || !page.Paged || !page.More {
		t.Fatalf("limit alias: %d rows %+v", len(rec.rows), page)
	}
	// A token for another sort order, or tampered values, are refused
	// or bound: never SQL.
	_, page = readRows(t, e, "people", "_size", "2", "_sort", "age")
	for name, params := range map[string][]string{
		"another sort":       {"_next", page.Next, "_size", "2"},
		"another table":      {"_next", page.Next, "_size", "2", "_sort", "name"},
		"garbage":            {"_next", "AAAA", "_size", "2"},
		"offset on a table":  {"_next", encodeToken(pageToken{kind: tokenOffset, sig: page2sig(t, e)}), "_size", "2"},
		"wrong key count":    {"_next", encodeToken(pageToken{kind: tokenKeyset, sig: page2sig(t, e), keys: []forge.Value{forge.IntValue(1), forge.IntValue(2)}}), "_size", "2"},
		"keyset on a view":   {"_next", page.Next, "_size", "2", "_sort", "age"},
		"another table name": {"_next", page.Next},
	} {
		table := "people"
		if strings.Contains(name, "view") || strings.Contains(name, "table name") {
			exec(t, e, "db", "CREATE VIEW IF NOT EXISTS pv AS SELECT * FROM people")
			table = "pv"
		}
		_, _, err := e.ReadRows(context.Background(), "db", table, qp(params...), &recorder{})
		inputError(t, err, CodeInvalidToken)
	}
	hostile := encodeToken(pageToken{kind: tokenKeyset, sig: page2sig(t, e), keys: []forge.Value{forge.TextValue("1 OR 1=1; DROP TABLE people")}})
	rec, _ = readRows(t, e, "people", "_next", hostile, "_size", "10")
	if len(rec.rows) != 0 || queryInt(t, e, "db", "SELECT count(*) FROM people") != 6 {
		t.Fatalf("a hostile key: %d rows", len(rec.rows))
	}
}

// page2sig is the signature of people's rowid order.
func page2sig(t *testing.T, e *fixture) uint32 {
	_, page := readRows(t, e, "people", "_size", "1")
	tok, err := decodeToken(page.Next)
	if err != nil {
		t.Fatal(err)
	}
	return tok.sig
}

func TestUpdateDeleteRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name    string
		update  bool
		params  []string
		set     forge.Record
		code    string // an input error, or ""
		n       int64
		checkSQ string // SELECT group_concat(...) after
		want    string
	}{
		{"update one", true, []string{"id", "2"}, record("city", "Rome"), "", 1, "SELECT city FROM people WHERE id = 2", "Rome"},
		{"update by op", true, []string{"age__gte", "45"}, record("score", 0), "", 2, "SELECT group_concat(id) FROM people WHERE score = 0", "5,6"},
		{"update NULL", true, []string{"age__isnull", "1"}, record("age", nil, "name", "x'y"), "", 1, "SELECT name FROM people WHERE id = 4", "x'y"},
		{"update every row", true, []string{"_all", "1"}, record("score", 9), "", 6, "SELECT count(*) FROM people WHERE score = 9", "6"},
		{"update no match", true, []string{"id", "99"}, record("score", 9), "", 0, "SELECT count(*) FROM people WHERE score = 9", "0"},
		{"update SQL in value", true, []string{"id", "1"}, record("name", "'; DROP TABLE people; --"), "", 1, "SELECT count(*) FROM people", "6"},
		{"update without filter", true, nil, record("score", 9), CodeFilterRequired, 0, "", ""},
		{"update filter and _all", true, []string{"id", "1", "_all", "1"}, record("score", 9), CodeInvalidValue, 0, "", ""},
		{"update unknown set column", true, []string{"id", "1"}, record("nope", 1), CodeUnknownColumn, 0, "", ""},
		{"update duplicate set column", true, []string{"id", "1"}, record("age", 1, "AGE", 2), CodeDuplicateColumn, 0, "", ""},
		{"update unknown filter", true, []string{"nope", "1"}, record("age", 1), CodeUnknownColumn, 0, "", ""},
		{"update with _sort", true, []string{"id", "1", "_sort", "id"}, record("age", 1), CodeUnknownParameter, 0, "", ""},
		{"update constraint fails whole", true, []string{"_all", "1"}, record("id", 1), "SQL", 0, "SELECT count(DISTINCT id) FROM people", "6"},
		{"delete one", false, []string{"name", "O'Hara"}, nil, "", 1, "SELECT count(*) FROM people", "5"},
		{"delete by in", false, []string{"id__in", "[1,2,77]"}, nil, "", 2, "SELECT group_concat(id) FROM people", "3,4,5,6"},
		{"delete every row", false, []string{"_all", "1"}, nil, "", 6, "SELECT count(*) FROM people", "0"},
		{"delete without filter", false, nil, nil, CodeFilterRequired, 0, "SELECT count(*) FROM people", "6"},
		{"delete _all=0 is no filter", false, []string{"_all", "0"}, nil, CodeFilterRequired, 0, "", ""},
		{"delete with _size", false, []string{"id", "1", "_size", "1"}, nil, CodeUnknownParameter, 0, "", ""},
		{"delete with a result option", false, []string{"id", "1", "_shape", "arrays"}, nil, CodeUnknownParameter, 0, "SELECT count(*) FROM people", "6"},
		{"update with a result option", true, []string{"id", "1", "_format", "csv"}, record("age", 1), CodeUnknownParameter, 0, "", ""},
		{"delete SQL in value", false, []string{"name", "x' OR '1'='1"}, nil, "", 0, "SELECT count(*) FROM people", "6"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, _, _ := newDB(t, wasm.Config{})
			exec(t, e, "db", peopleSQL)
			var n int64
			var err error
			if tc.update {
				n, err = e.UpdateRows(ctx, "db", "people", qp(tc.params...), tc.set)
			} else {
				n, err = e.DeleteRows(ctx, "db", "people", qp(tc.params...))
			}
			switch tc.code {
			case "":
				if err != nil || n != tc.n {
					t.Fatalf("%d, %v; want %d", n, err, tc.n)
				}
			case "SQL":
				sqlError(t, err)
			default:
				inputError(t, err, tc.code)
			}
			if tc.checkSQ != "" {
				rec, _ := query(t, e, "db", tc.checkSQ, forge.Params{})
				if got := fmt.Sprint(col(rec, 0)[0]); got != tc.want {
					t.Fatalf("%s: %s, want %s", tc.checkSQ, got, tc.want)
				}
			}
		})
	}
	e, _, _ := newDB(t, wasm.Config{})
	for _, table := range []string{"nope", "_forge_idem"} {
		if _, err := e.DeleteRows(ctx, "db", table, qp("_all", "1")); err != forge.ErrTableNotFound {
			t.Errorf("%s: %v", table, err)
		}
	}
}

func TestUpsertAndReturn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const schema = `CREATE TABLE t(id INTEGER PRIMARY KEY, email TEXT UNIQUE, name TEXT, n INTEGER DEFAULT 7);
INSERT INTO t VALUES (1, 'a@x', 'A', 1);
CREATE TABLE nopk(x INTEGER, y TEXT);
CREATE TABLE comp(a TEXT, b INTEGER, v TEXT, PRIMARY KEY (a, b)) WITHOUT ROWID;
INSERT INTO comp VALUES ('k', 1, 'old')`
	tests := []struct {
		name  string
		table string
		rows  []forge.Record
		opt   forge.InsertOptions
		code  string
		n     int64
		cols  []string
		data  [][]forge.Value
		after string
		want  string
	}{
		{"return defaults and ids", "t", []forge.Record{record("email", "b@x"), record("name", "C", "n", nil)}, forge.InsertOptions{Return: true}, "", 2,
			[]string{"id", "email", "name", "n"}, rows(row(2, "b@x", nil, 7), row(3, nil, "C", nil)), "SELECT count(*) FROM t", "3"},
		{"upsert on the primary key updates given columns only", "t", []forge.Record{record("id", 1, "name", "A2"), record("id", 5, "name", "E")},
			forge.InsertOptions{Upsert: true}, "", 2, nil, nil, "SELECT group_concat(id || ifnull(email, '-') || name || n) FROM t", "1a@xA21,5-E7"},
		{"upsert on_conflict a unique column", "t", []forge.Record{record("email", "a@x", "name", "viaEmail")},
			forge.InsertOptions{Upsert: true, OnConflict: []string{"EMAIL"}, Return: true}, "", 1,
			[]string{"id", "email", "name", "n"}, rows(row(1, "a@x", "viaEmail", 1)), "SELECT count(*) FROM t", "1"},
		{"upsert of key columns only does nothing", "t", []forge.Record{record("id", 1)}, forge.InsertOptions{Upsert: true, Return: true}, "", 0,
			[]string{"id", "email", "name", "n"}, nil, "SELECT name FROM t", "A"},
		{"upsert composite key", "comp", []forge.Record{record("a", "k", "b", 1, "v", "new"), record("a", "k", "b", 2, "v", "two")},
			forge.InsertOptions{Upsert: true}, "", 2, nil, nil, "SELECT group_concat(v) FROM comp", "new,two"},
		{"upsert without a key", "nopk", []forge.Record{record("x", 1)}, forge.InsertOptions{Upsert: true}, CodeInvalidValue, 0, nil, nil, "", ""},
		{"on_conflict without upsert", "t", []forge.Record{record("id", 1)}, forge.InsertOptions{OnConflict: []string{"id"}}, CodeInvalidValue, 0, nil, nil, "", ""},
		{"on_conflict unknown", "t", []forge.Record{record("id", 1)}, forge.InsertOptions{Upsert: true, OnConflict: []string{"nope"}}, CodeUnknownColumn, 0, nil, nil, "", ""},
		{"on_conflict not unique: SQL error, nothing written", "t", []forge.Record{record("id", 9, "name", "x")}, forge.InsertOptions{Upsert: true, OnConflict: []string{"name"}}, "SQL", 0, nil, nil, "SELECT count(*) FROM t", "1"},
		{"return all or nothing", "t", []forge.Record{record("id", 8), record("id", 8)}, forge.InsertOptions{Return: true}, "SQL", 0, nil, nil, "SELECT count(*) FROM t", "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, _, _ := newDB(t, wasm.Config{})
			exec(t, e, "db", schema)
			rec := &recorder{}
			n, err := e.InsertRowsWith(ctx, "db", tc.table, tc.rows, tc.opt, rec)
			switch tc.code {
			case "":
				if err != nil || n != tc.n {
					t.Fatalf("%d, %v; want %d", n, err, tc.n)
				}
				if tc.opt.Return {
					if tc.data != nil || rec.cols != nil {
						checkCols(t, tc.name, rec.cols, tc.cols)
					}
					checkRows(t, tc.name, rec.rows, tc.data)
				}
			case "SQL":
				sqlError(t, err)
			default:
				inputError(t, err, tc.code)
			}
			if tc.after != "" {
				r, _ := query(t, e, "db", tc.after, forge.Params{})
				if got := fmt.Sprint(col(r, 0)[0]); got != tc.want {
					t.Fatalf("%s: %s, want %s", tc.after, got, tc.want)
				}
			}
		})
	}
}

func TestSchemaRoutes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, _, _ := newDB(t, wasm.Config{})
	exec(t, e, "db", `CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT 'x', age INTEGER, g AS (age * 2));
CREATE INDEX p_age ON p(age, name);
CREATE TABLE c(id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id) ON DELETE CASCADE, u TEXT UNIQUE);
CREATE TRIGGER tr AFTER INSERT ON p BEGIN SELECT 1; END;
CREATE VIEW v AS SELECT name FROM p;
CREATE TABLE "we""ird [t]"("日本" INTEGER);
INSERT INTO p(name, age) VALUES ('a', 1), ('b', 2)`)
	// A bookkeeping table, made as the engine makes its own.
	if err := e.Write(ctx, "db", func(tx forge.Tx) error {
		_, err := tx.Run(ctx, forge.Statement{SQL: "CREATE TABLE _forge_secret(x)", Bookkeeping: true}, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	list, err := e.ListTables(ctx, "db")
	if err != nil {
		t.Fatal(err)
	}
	two, zero := int64(2), int64(0)
	want := []forge.TableSummary{{Name: "c", Type: "table", Rows: &zero}, {Name: "p", Type: "table", Rows: &two},
		{Name: "v", Type: "view"}, {Name: `we"ird [t]`, Type: "table", Rows: &zero}}
	if !reflect.DeepEqual(list, want) {
		b, _ := json.Marshal(list)
		t.Fatalf("tables %s", b)
	}
	all, err := e.Schema(ctx, "db", "", false)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range all {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{"c", "p", "v", `we"ird [t]`}) {
		t.Fatalf("schema lists %q", names)
	}
	b, _ := json.Marshal(all[1])
	const compact = `{"name":"p","type":"table","columns":[{"name":"id","type":"INTEGER","pk":1},` +
		`{"name":"name","type":"TEXT","not_null":true,"default":"'x'"},{"name":"age","type":"INTEGER"},` +
		`{"name":"g","type":"","generated":"virtual"}],"indexes":[{"name":"p_age","columns":["age","name"]}],"triggers":[{"name":"tr"}]}`
	if string(b) != compact {
		t.Fatalf("compact p:\n%s\nwant\n%s", b, compact)
	}
	b, _ = json.Marshal(all[0])
	if want := `{"name":"c","type":"table","columns":[{"name":"id","type":"INTEGER","pk":1},{"name":"pid","type":"INTEGER"},{"name":"u","type":"TEXT"}],` +
		`"indexes":[{"name":"sqlite_autoindex_c_1","columns":["u"],"unique":true}],"foreign_keys":[{"columns":["pid"],"table":"p","to":["id"]}]}`; string(b) != want {
		t.Fatalf("compact c:\n%s\nwant\n%s", b, want)
	}
	one, err := e.Schema(ctx, "db", "C", true)
	if err != nil || len(one) != 1 {
		t.Fatal(one, err)
	}
	if one[0].SQL == "" || one[0].ForeignKeys[0].OnDelete != "CASCADE" || one[0].Indexes[0].Origin != "u" {
		t.Fatalf("verbose c: %+v", one[0])
	}
	for _, name := range []string{"nope", "_forge_secret", "sqlite_schema", "sqlite_master"} {
		if _, err := e.Schema(ctx, "db", name, false); err != forge.ErrTableNotFound {
			t.Errorf("%s: %v", name, err)
		}
	}
	// DROP: tables and views, never bookkeeping.
	for _, name := range []string{"_forge_secret", "nope"} {
		if _, err := e.DropTable(ctx, "db", name); err != forge.ErrTableNotFound {
			t.Errorf("drop %s: %v", name, err)
		}
	}
	for _, name := range []string{"V", `we"ird [t]`, "c"} {
		if _, err := e.DropTable(ctx, "db", name); err != nil {
			t.Fatalf("drop %s: %v", name, err)
		}
	}
	list, err = e.ListTables(ctx, "db")
	if err != nil || len(list) != 1 || list[0].Name != "p" {
		t.Fatalf("after drops: %+v %v", list, err)
	}
	if n := queryInt(t, e, "db", "SELECT count(*) FROM sqlite_schema WHERE name = '_forge_secret'"); n != 1 {
		t.Fatal("the bookkeeping table went")
	}
}

// TestSchemaSize measures the schema's answer for fifty tables, compact
// and verbose (docs/API.md states the figures).
func TestSchemaSize(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, _, _ := newDB(t, wasm.Config{})
	var b strings.Builder
	for i := range 50 {
		fmt.Fprintf(&b, "CREATE TABLE table_%02d(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE, created_at TEXT DEFAULT CURRENT_TIMESTAMP, amount REAL, owner_id INTEGER REFERENCES table_00(id));\n", i)
		fmt.Fprintf(&b, "CREATE INDEX table_%02d_name ON table_%02d(name);\n", i, i)
	}
	exec(t, e, "db", strings.TrimSuffix(b.String(), ";\n"))
	var sizes []int
	for _, verbose := range []bool{false, true} {
		s, err := e.Schema(ctx, "db", "", verbose)
		if err != nil || len(s) != 50 {
			t.Fatal(len(s), err)
		}
		out, _ := json.Marshal(map[string]any{"tables": s})
		sizes = append(sizes, len(out))
	}
	t.Logf("50 tables of 6 columns, 2 indexes, 1 foreign key: %d bytes compact, %d verbose", sizes[0], sizes[1])
	if sizes[0] >= sizes[1] {
		t.Fatalf("compact %d, verbose %d", sizes[0], sizes[1])
	}
}

// TestKnownTablesFollowSchemaChanges: the memory of looked-up tables never
// answers with columns a table no longer has, nor misses new ones.
func TestKnownTablesFollowSchemaChanges(t *testing.T) {
	t.Parallel()
	e, layout, _ := newDB(t, wasm.Config{})
	if _, err := layout.Create("db2"); err != nil {
		t.Fatal(err)
	}
	exec(t, e, "db", `CREATE TABLE t(a INTEGER);
INSERT INTO t VALUES (1)`)
	exec(t, e, "db2", `CREATE TABLE t(b TEXT, c TEXT);
INSERT INTO t VALUES ('x', 'y')`)
	cols := func(db string, params ...string) []string {
		t.Helper()
		rec := &recorder{}
		if _, _, err := e.ReadRows(context.Background(), db, "t", qp(params...), rec); err != nil {
			t.Fatalf("%s: %v", db, err)
		}
		return rec.cols
	}
	for range 2 {
		checkCols(t, "db", cols("db", "_col", "a"), []string{"a"})
		checkCols(t, "db2, same table name", cols("db2", "_col", "c"), []string{"c"})
	}
	exec(t, e, "db", "ALTER TABLE t ADD COLUMN z INTEGER DEFAULT 5")
	checkCols(t, "after ALTER TABLE", cols("db", "_nocol", "a"), []string{"z"})
	exec(t, e, "db", `DROP TABLE t;
CREATE TABLE t(q TEXT PRIMARY KEY, r) WITHOUT ROWID`)
	if _, _, err := e.ReadRows(context.Background(), "db", "t", qp("_col", "z"), &recorder{}); err == nil {
		t.Fatal("a dropped column is still known")
	}
	exec(t, e, "db", `DROP TABLE t;
CREATE VIEW t AS SELECT 1 AS v`)
	checkCols(t, "a view in its place", cols("db", "_col", "v"), []string{"v"})
	exec(t, e, "db", `DROP VIEW t;
CREATE VIEW t AS SELECT 2 AS w`)
	checkCols(t, "another view", cols("db", "_col", "w"), []string{"w"})
}
