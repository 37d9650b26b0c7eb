package tables

import (
	"context"
	"errors"
	"testing"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/sqlbuild"
	"github.com/praetorian/db-forge/wasm"
)

func filters(kv ...any) []forge.Filter {
	var fs []forge.Filter
	for i := 0; i < len(kv); i += 2 {
		fs = append(fs, forge.Filter{Column: kv[i].(string), Value: row(kv[i+1])[0]})
	}
	return fs
}

func record(kv ...any) forge.Record {
	r := forge.Record{}
	for i := 0; i < len(kv); i += 2 {
		r = append(r, forge.Field{Column: kv[i].(string), Value: row(kv[i+1])[0]})
	}
	return r
}

func inputError(t *testing.T, err error, code string) {
	t.Helper()
	var ie *forge.InputError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v (%T): want a *forge.InputError %s", err, err, code)
	}
	if ie.Code != code {
		t.Errorf("input error code %s (%s), want %s", ie.Code, ie.Message, code)
	}
}

func TestSelectRows(t *testing.T) {
	t.Parallel()
	e, _, db := newDB(t, wasm.Config{})
	exec(t, e, db, `CREATE TABLE people(id INTEGER PRIMARY KEY, Name TEXT, age INTEGER, city TEXT);
INSERT INTO people VALUES (3, 'Cy', 30, 'Paris');
INSERT INTO people VALUES (1, 'Al', 30, 'Oslo');
INSERT INTO people VALUES (2, 'Bo', 17, 'Paris');
INSERT INTO people VALUES (4, 'Di', 30, 'Paris');
CREATE TABLE kv(k TEXT PRIMARY KEY, v) WITHOUT ROWID;
INSERT INTO kv VALUES ('b', 2);
INSERT INTO kv VALUES ('a', 1);
CREATE VIEW adults AS SELECT Name, city FROM people WHERE age >= 18;
CREATE TABLE shadow(rowid TEXT, x INTEGER);
INSERT INTO shadow VALUES ('z', 1);
INSERT INTO shadow VALUES ('a', 2);
CREATE TABLE "we""ird" ("col umn" TEXT);
INSERT INTO "we""ird" VALUES ('q')`)
	peopleCols := []string{"id", "Name", "age", "city"}
	cases := []struct {
		name     string
		table    string
		filters  []forge.Filter
		wantCols []string
		want     [][]forge.Value
	}{
		{"all in rowid order", "people", nil, peopleCols, rows(
			row(1, "Al", 30, "Oslo"), row(2, "Bo", 17, "Paris"), row(3, "Cy", 30, "Paris"), row(4, "Di", 30, "Paris"))},
		{"one filter", "people", filters("city", "Paris"), peopleCols, rows(
			row(2, "Bo", 17, "Paris"), row(3, "Cy", 30, "Paris"), row(4, "Di", 30, "Paris"))},
		{"filters ANDed", "people", filters("city", "Paris", "age", 30), peopleCols, rows(
			row(3, "Cy", 30, "Paris"), row(4, "Di", 30, "Paris"))},
		{"three filters", "people", filters("city", "Paris", "age", 30, "Name", "Di"), peopleCols, rows(
			row(4, "Di", 30, "Paris"))},
		{"no match", "people", filters("city", "Rome"), peopleCols, nil},
		{"column case ignored", "people", filters("NAME", "Al", "CiTy", "Oslo"), peopleCols, rows(row(1, "Al", 30, "Oslo"))},
		{"table case ignored", "PEOPLE", filters("id", 2), peopleCols, rows(row(2, "Bo", 17, "Paris"))},
		{"text filter on integer column", "people", filters("age", "17"), peopleCols, rows(row(2, "Bo", 17, "Paris"))},
		{"without rowid", "kv", nil, []string{"k", "v"}, rows(row("a", 1), row("b", 2))},
		{"without rowid filtered", "kv", filters("k", "b"), []string{"k", "v"}, rows(row("b", 2))},
		{"view", "adults", nil, []string{"Name", "city"}, rows(row("Al", "Oslo"), row("Cy", "Paris"), row("Di", "Paris"))},
		{"view filtered", "adults", filters("city", "Paris"), []string{"Name", "city"}, rows(row("Cy", "Paris"), row("Di", "Paris"))},
		{"column named rowid", "shadow", nil, []string{"rowid", "x"}, rows(row("z", 1), row("a", 2))},
		{"quoted names", `we"ird`, filters("col umn", "q"), []string{"col umn"}, rows(row("q"))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			res, err := e.SelectRows(context.Background(), db, tc.table, tc.filters, rec)
			if err != nil {
				t.Fatal(err)
			}
			if !res.ReturnsRows || res.RowsAffected != int64(len(tc.want)) {
				t.Errorf("result %+v, want ReturnsRows and %d rows", res, len(tc.want))
			}
			checkCols(t, tc.name, rec.cols, tc.wantCols)
			checkRows(t, tc.name, rec.rows, tc.want)
		})
	}

	errCases := []struct {
		name    string
		table   string
		filters []forge.Filter
		check   func(t *testing.T, err error)
	}{
		{"unknown column", "people", filters("city", "Paris", "nope", 1), func(t *testing.T, err error) {
			inputError(t, err, CodeUnknownColumn)
		}},
		{"column filtered twice", "people", filters("age", 1, "AGE", 2), func(t *testing.T, err error) {
			inputError(t, err, CodeDuplicateColumn)
		}},
		{"unknown table", "nope", nil, func(t *testing.T, err error) {
			if !errors.Is(err, forge.ErrTableNotFound) {
				t.Errorf("error %v, want %v", err, forge.ErrTableNotFound)
			}
		}},
		{"empty table name", "", nil, func(t *testing.T, err error) {
			inputError(t, err, sqlbuild.CodeInvalidIdentifier)
		}},
		{"NUL in table name", "peo\x00ple", nil, func(t *testing.T, err error) {
			inputError(t, err, sqlbuild.CodeInvalidIdentifier)
		}},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			_, err := e.SelectRows(context.Background(), db, tc.table, tc.filters, rec)
			tc.check(t, err)
			if rec.columnsCalls != 0 {
				t.Error("rows were written before the error")
			}
		})
	}
}

func TestInsertRows(t *testing.T) {
	t.Parallel()
	const schema = `CREATE TABLE items(id INTEGER PRIMARY KEY, sku TEXT UNIQUE, qty INTEGER DEFAULT 7, note TEXT DEFAULT 'none', price REAL DEFAULT 1100.0, extra)`
	all := func(t *testing.T, e *fixture, db string) [][]forge.Value {
		t.Helper()
		rec := &recorder{}
		if _, err := e.SelectRows(context.Background(), db, "items", nil, rec); err != nil {
			t.Fatal(err)
		}
		return rec.rows
	}
	cases := []struct {
		name      string
		table     string
		records   []forge.Record
		wantN     int64
		wantErr   func(t *testing.T, err error)
		wantAfter [][]forge.Value // rows of items afterwards (one row, sku 'seed', is there before)
	}{
		{"missing keys take defaults", "items", []forge.Record{record("sku", "a"), record("sku", "b", "qty", 2, "extra", []byte{0, 1})}, 2, nil, rows(
			row(1, "seed", 1, "s", 1.5, nil), row(2, "a", 7, "none", 1100.0, nil), row(3, "b", 2, "none", 1100.0, []byte{0, 1}))},
		{"explicit null is not the default", "items", []forge.Record{record("sku", "a", "qty", nil)}, 1, nil, rows(
			row(1, "seed", 1, "s", 1.5, nil), row(2, "a", nil, "none", 1100.0, nil))},
		{"empty record is DEFAULT VALUES", "items", []forge.Record{{}}, 1, nil, rows(
			row(1, "seed", 1, "s", 1.5, nil), row(2, nil, 7, "none", 1100.0, nil))},
		{"case-insensitive names", "ITEMS", []forge.Record{record("SKU", "a", "Qty", 3)}, 1, nil, rows(
			row(1, "seed", 1, "s", 1.5, nil), row(2, "a", 3, "none", 1100.0, nil))},
		{"no records", "items", nil, 0, nil, rows(row(1, "seed", 1, "s", 1.5, nil))},
		{"second row violates UNIQUE", "items", []forge.Record{record("sku", "a"), record("sku", "seed")}, 0,
			func(t *testing.T, err error) {
				if se := sqlError(t, err); se.Code != "SQLITE_CONSTRAINT_UNIQUE" {
					t.Errorf("code %s (%s), want SQLITE_CONSTRAINT_UNIQUE", se.Code, se.Message)
				}
			}, rows(row(1, "seed", 1, "s", 1.5, nil))},
		{"rows violate UNIQUE together", "items", []forge.Record{record("sku", "a"), record("sku", "b"), record("sku", "a")}, 0,
			func(t *testing.T, err error) { sqlError(t, err) }, rows(row(1, "seed", 1, "s", 1.5, nil))},
		{"unknown column", "items", []forge.Record{record("sku", "a"), record("sku", "b", "nope", 1)}, 0,
			func(t *testing.T, err error) { inputError(t, err, CodeUnknownColumn) }, rows(row(1, "seed", 1, "s", 1.5, nil))},
		{"column twice in a row", "items", []forge.Record{record("sku", "a", "SKU", "b")}, 0,
			func(t *testing.T, err error) { inputError(t, err, CodeDuplicateColumn) }, rows(row(1, "seed", 1, "s", 1.5, nil))},
		{"unknown table", "nope", []forge.Record{record("sku", "a")}, 0,
			func(t *testing.T, err error) {
				if !errors.Is(err, forge.ErrTableNotFound) {
					t.Errorf("error %v, want %v", err, forge.ErrTableNotFound)
				}
			}, rows(row(1, "seed", 1, "s", 1.5, nil))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, _, db := newDB(t, wasm.Config{})
			exec(t, e, db, schema+";\nINSERT INTO items VALUES (1, 'seed', 1, 's', 1.5, NULL)")
			n, err := e.InsertRows(context.Background(), db, tc.table, tc.records)
			if tc.wantErr != nil {
				tc.wantErr(t, err)
			} else if err != nil {
				t.Fatal(err)
			}
			if n != tc.wantN {
				t.Errorf("inserted %d, want %d", n, tc.wantN)
			}
			checkRows(t, "items afterwards", all(t, e, db), tc.wantAfter)
			// No transaction is left open: another batch goes in.
			if _, err := e.InsertRows(context.Background(), db, "items", []forge.Record{record("sku", "later")}); err != nil {
				t.Fatalf("insert after: %v", err)
			}
		})
	}

	t.Run("every kind", func(t *testing.T) {
		t.Parallel()
		e, _, db := newDB(t, wasm.Config{})
		exec(t, e, db, "CREATE TABLE v(x)")
		vals := []forge.Value{
			forge.IntValue(9007199254740993), forge.FloatValue(1100), forge.TextValue(unicodeText),
			forge.BlobValue([]byte{0, 0, 7}), forge.NullValue(),
		}
		var recs []forge.Record
		var want [][]forge.Value
		for _, v := range vals {
			recs = append(recs, forge.Record{{Column: "x", Value: v}})
			want = append(want, []forge.Value{v})
		}
		n, err := e.InsertRows(context.Background(), db, "v", recs)
		if err != nil || n != int64(len(vals)) {
			t.Fatalf("InsertRows = %d, %v", n, err)
		}
		rec := &recorder{}
		if _, err := e.SelectRows(context.Background(), db, "v", nil, rec); err != nil {
			t.Fatal(err)
		}
		checkRows(t, "every kind", rec.rows, want)
	})

	t.Run("large batch", func(t *testing.T) {
		t.Parallel()
		e, _, db := newDB(t, wasm.Config{StmtCache: 2})
		exec(t, e, db, "CREATE TABLE big(id INTEGER PRIMARY KEY, a, b, c)")
		var recs []forge.Record
		// Rows name different column sets, more than the statement cache holds.
		sets := [][]string{{"a"}, {"b"}, {"c"}, {"a", "b"}, {"c", "a"}}
		var sum int64
		for i := range 2000 {
			r := forge.Record{}
			for _, c := range sets[i%len(sets)] {
				r = append(r, forge.Field{Column: c, Value: forge.IntValue(int64(i))})
				sum += int64(i)
			}
			recs = append(recs, r)
		}
		n, err := e.InsertRows(context.Background(), db, "big", recs)
		if err != nil || n != 2000 {
			t.Fatalf("InsertRows = %d, %v", n, err)
		}
		if got := queryInt(t, e, db, "SELECT count(*) FROM big"); got != 2000 {
			t.Errorf("count %d, want 2000", got)
		}
		if got := queryInt(t, e, db, "SELECT coalesce(sum(a), 0) + coalesce(sum(b), 0) + coalesce(sum(c), 0) FROM big"); got != sum {
			t.Errorf("sum %d, want %d", got, sum)
		}
	})
}

func TestCreateTable(t *testing.T) {
	t.Parallel()
	e, _, db := newDB(t, wasm.Config{})
	ctx := context.Background()
	def := func(v forge.Value) *forge.Value { return &v }
	spec := forge.TableSpec{Name: "things", Columns: []forge.ColumnSpec{
		{Name: "id", Type: "INTEGER", PrimaryKey: true},
		{Name: "name", Type: "varchar(32)", NotNull: true, Unique: true, Default: def(forge.TextValue("it's"))},
		{Name: "weight", Type: "REAL", Default: def(forge.FloatValue(1100))},
		{Name: "count", Type: "int", Default: def(forge.IntValue(-3))},
		{Name: "data", Type: "BLOB", Default: def(forge.BlobValue([]byte{0, 0xab}))},
		{Name: "maybe", Default: def(forge.NullValue())},
	}}
	if err := e.CreateTable(ctx, db, spec); err != nil {
		t.Fatal(err)
	}
	// IF NOT EXISTS: creating it again, even differently, succeeds and
	// changes nothing.
	if err := e.CreateTable(ctx, db, spec); err != nil {
		t.Fatalf("second create: %v", err)
	}
	other := forge.TableSpec{Name: "THINGS", Columns: []forge.ColumnSpec{{Name: "other", Type: "TEXT"}}}
	if err := e.CreateTable(ctx, db, other); err != nil {
		t.Fatalf("create with another spec: %v", err)
	}
	rec, _ := query(t, e, db, "SELECT name, type, \"notnull\", pk FROM pragma_table_info('things')", forge.Params{})
	checkRows(t, "table_info", rec.rows, rows(
		row("id", "INTEGER", 0, 1), row("name", "VARCHAR(32)", 1, 0), row("weight", "REAL", 0, 0),
		row("count", "INT", 0, 0), row("data", "BLOB", 0, 0), row("maybe", "", 0, 0)))

	// Defaults come back with their kinds; INTEGER PRIMARY KEY is the rowid.
	if _, err := e.InsertRows(ctx, db, "things", []forge.Record{{}}); err != nil {
		t.Fatal(err)
	}
	sel := &recorder{}
	if _, err := e.SelectRows(ctx, db, "things", nil, sel); err != nil {
		t.Fatal(err)
	}
	checkRows(t, "defaults", sel.rows, rows(row(1, "it's", 1100.0, -3, []byte{0, 0xab}, nil)))
	// UNIQUE and NOT NULL hold.
	_, err := e.InsertRows(ctx, db, "things", []forge.Record{{}})
	if se := sqlError(t, err); se.Code != "SQLITE_CONSTRAINT_UNIQUE" {
		t.Errorf("duplicate default name: code %s, want SQLITE_CONSTRAINT_UNIQUE", se.Code)
	}
	_, err = e.InsertRows(ctx, db, "things", []forge.Record{record("name", nil)})
	if se := sqlError(t, err); se.Code != "SQLITE_CONSTRAINT_NOTNULL" {
		t.Errorf("null name: code %s, want SQLITE_CONSTRAINT_NOTNULL", se.Code)
	}

	t.Run("composite primary key", func(t *testing.T) {
		spec := forge.TableSpec{Name: "pairs", Columns: []forge.ColumnSpec{
			{Name: "a", Type: "TEXT", PrimaryKey: true}, {Name: "b", Type: "INTEGER", PrimaryKey: true}, {Name: "v"},
		}}
		if err := e.CreateTable(ctx, db, spec); err != nil {
			t.Fatal(err)
		}
		if _, err := e.InsertRows(ctx, db, "pairs", []forge.Record{record("a", "x", "b", 1), record("a", "x", "b", 2)}); err != nil {
			t.Fatal(err)
		}
		_, err := e.InsertRows(ctx, db, "pairs", []forge.Record{record("a", "x", "b", 1)})
		if se := sqlError(t, err); se.Code != "SQLITE_CONSTRAINT_PRIMARYKEY" {
			t.Errorf("code %s, want SQLITE_CONSTRAINT_PRIMARYKEY", se.Code)
		}
	})

	bad := []struct {
		name string
		spec forge.TableSpec
		code string
	}{
		{"type is SQL", forge.TableSpec{Name: "bad1", Columns: []forge.ColumnSpec{{Name: "x", Type: "INT); DROP TABLE things; --"}}}, sqlbuild.CodeInvalidType},
		{"bad table name", forge.TableSpec{Name: "bad name", Columns: []forge.ColumnSpec{{Name: "x"}}}, sqlbuild.CodeInvalidIdentifier},
		{"reserved table name", forge.TableSpec{Name: "sqlite_x", Columns: []forge.ColumnSpec{{Name: "x"}}}, sqlbuild.CodeInvalidIdentifier},
		{"bad column name", forge.TableSpec{Name: "bad2", Columns: []forge.ColumnSpec{{Name: "x\"y"}}}, sqlbuild.CodeInvalidIdentifier},
		{"no columns", forge.TableSpec{Name: "bad3"}, sqlbuild.CodeInvalidTable},
		{"duplicate columns", forge.TableSpec{Name: "bad4", Columns: []forge.ColumnSpec{{Name: "x"}, {Name: "X"}}}, sqlbuild.CodeInvalidTable},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			inputError(t, e.CreateTable(ctx, db, tc.spec), tc.code)
		})
	}
	tables, _ := query(t, e, db, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name", forge.Params{})
	checkRows(t, "tables", tables.rows, rows(row("pairs"), row("things")))
}
