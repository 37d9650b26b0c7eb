package diff_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/praetorian/db-forge/diff"
	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/volumes"
	"github.com/praetorian/db-forge/wasm"
)

// A real engine; "checkpoints" are copies made by CopyTo, opened as the
// gateway opens them (OpenFileReader).

type env struct {
	e      *wasm.Engine
	layout *volumes.Layout
	dir    string
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	layout, err := volumes.Open(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	e, err := wasm.New(wasm.Config{CacheDir: filepath.Join(os.TempDir(), "db-forge-test-wasm-cache"), QueryTimeout: time.Minute, MaxQueryTimeout: time.Minute}, layout.Resolve, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			tb.Errorf("close engine: %v", err)
		}
	})
	return &env{e: e, layout: layout, dir: tb.TempDir()}
}

func (v *env) create(tb testing.TB, db string) {
	tb.Helper()
	if _, err := v.layout.Create(db); err != nil {
		tb.Fatal(err)
	}
}

// exec runs statements split on ";\n" in one write unit.
func (v *env) exec(tb testing.TB, db, script string) {
	tb.Helper()
	err := v.e.Write(context.Background(), db, func(tx forge.Tx) error {
		for _, sql := range strings.Split(script, ";\n") {
			if strings.TrimSpace(sql) == "" {
				continue
			}
			sql, own := strings.CutPrefix(strings.TrimSpace(sql), "!") // the gateway's own statement
			if _, err := tx.Run(context.Background(), forge.Statement{SQL: sql, Bookkeeping: own}, nil); err != nil {
				return fmt.Errorf("%s: %w", sql, err)
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// checkpoint copies db to the checkpoint name.
func (v *env) checkpoint(tb testing.TB, db, name string) {
	tb.Helper()
	if err := v.e.CopyTo(context.Background(), db, filepath.Join(v.dir, db+"."+name+".db"), wasm.CopyOptions{}); err != nil {
		tb.Fatal(err)
	}
}

func (v *env) OpenDatabase(ctx context.Context, db string) (diff.Source, error) {
	if ok, _ := v.layout.Exists(db); !ok {
		return nil, forge.ErrDatabaseNotFound
	}
	r, err := v.e.OpenReader(ctx, db)
	if err != nil {
		return nil, err
	}
	return source{r}, nil
}

func (v *env) OpenCheckpoint(ctx context.Context, db, name string) (diff.Source, error) {
	r, err := v.e.OpenFileReader(ctx, filepath.Join(v.dir, db+"."+name+".db"))
	if errors.Is(err, forge.ErrDatabaseNotFound) {
		return nil, forge.ErrCheckpointNotFound
	}
	if err != nil {
		return nil, err
	}
	return source{r}, nil
}

type source struct{ r *wasm.Reader }

func (s source) Query(sql string, args ...forge.Value) (diff.Rows, error) {
	c, err := s.r.Query(sql, args...)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (s source) Close() { s.r.Close() }

// render writes a diff's rows one per line: "table op key before -> after".
func render(d forge.Diff) []string {
	var out []string
	for _, t := range d.Tables {
		if t.Skipped != "" {
			out = append(out, t.Table+" skipped")
			continue
		}
		for _, c := range t.Changes {
			out = append(out, fmt.Sprintf("%s %s %s %s -> %s", t.Table, c.Op, rec(c.Key), rec(c.Before), rec(c.After)))
		}
	}
	return out
}

func rec(r forge.Record) string {
	if r == nil {
		return "-"
	}
	parts := make([]string, len(r))
	for i, f := range r {
		parts[i] = f.Column + "=" + val(f.Value)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func val(v forge.Value) string {
	switch v.Kind {
	case forge.Integer:
		return strconv.FormatInt(v.Int, 10)
	case forge.Float:
		return strconv.FormatFloat(v.Float, 'g', -1, 64) + "r"
	case forge.Text:
		return strconv.Quote(v.Str)
	case forge.Blob:
		return "x'" + hex.EncodeToString(v.Bytes) + "'"
	}
	return "NULL"
}

func schemaLines(d forge.Diff) []string {
	var out []string
	for _, c := range d.Schema {
		s := c.Type + " " + c.Name + " " + c.Change
		if len(c.ColumnsAdded)+len(c.ColumnsDropped)+len(c.ColumnsChanged) > 0 {
			s += fmt.Sprintf(" +%v -%v ~%v", c.ColumnsAdded, c.ColumnsDropped, c.ColumnsChanged)
		}
		out = append(out, s)
	}
	return out
}

func TestDiffAgainstCheckpoint(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		setup, change string
		want          []string
		schema        []string
	}{
		{
			name:   "insert update delete by integer primary key",
			setup:  "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);\nINSERT INTO t VALUES (1,'a'),(2,'b'),(3,'c')",
			change: "INSERT INTO t VALUES (4,'d');\nUPDATE t SET v = 'B' WHERE id = 2;\nDELETE FROM t WHERE id = 3",
			want: []string{
				`t update {id=2} {id=2,v="b"} -> {id=2,v="B"}`,
				`t delete {id=3} {id=3,v="c"} -> -`,
				`t insert {id=4} - -> {id=4,v="d"}`,
			},
		},
		{
			name:   "NULLs, storage classes and blobs",
			setup:  "CREATE TABLE t(id INTEGER PRIMARY KEY, v);\nINSERT INTO t VALUES (1,NULL),(2,1),(3,x'00ff'),(4,'x'),(5,2.5)",
			change: "UPDATE t SET v = 0 WHERE id = 1;\nUPDATE t SET v = 1.0 WHERE id = 2;\nUPDATE t SET v = x'00fe' WHERE id = 3;\nUPDATE t SET v = NULL WHERE id = 4;\nUPDATE t SET v = 2.5 WHERE id = 5",
			want: []string{
				`t update {id=1} {id=1,v=NULL} -> {id=1,v=0}`,
				`t update {id=2} {id=2,v=1} -> {id=2,v=1r}`,
				`t update {id=3} {id=3,v=x'00ff'} -> {id=3,v=x'00fe'}`,
				`t update {id=4} {id=4,v="x"} -> {id=4,v=NULL}`,
			},
		},
		{
			name:   "a table without a primary key goes by rowid",
			setup:  "CREATE TABLE t(v);\nINSERT INTO t VALUES ('a'),('b')",
			change: "UPDATE t SET v = 'c' WHERE rowid = 2;\nINSERT INTO t(rowid, v) VALUES (9, 'z')",
			want: []string{
				`t update {rowid=2} {v="b"} -> {v="c"}`,
				`t insert {rowid=9} - -> {v="z"}`,
			},
		},
		{
			name:   "WITHOUT ROWID, composite key, mixed directions",
			setup:  "CREATE TABLE t(a TEXT, b INT, v, PRIMARY KEY (a, b DESC)) WITHOUT ROWID;\nINSERT INTO t VALUES ('x',1,1),('x',2,2),('y',1,3)",
			change: "DELETE FROM t WHERE a='x' AND b=1;\nINSERT INTO t VALUES ('x',3,4);\nUPDATE t SET v = 30 WHERE a = 'y'",
			want: []string{
				`t insert {a="x",b=3} - -> {a="x",b=3,v=4}`,
				`t delete {a="x",b=1} {a="x",b=1,v=1} -> -`,
				`t update {a="y",b=1} {a="y",b=1,v=3} -> {a="y",b=1,v=30}`,
			},
		},
		{
			name:   "a text key under NOCASE, replaced rows are updates",
			setup:  "CREATE TABLE kv(k TEXT PRIMARY KEY COLLATE NOCASE, v);\nINSERT INTO kv VALUES ('a',1),('B',2),('c',3)",
			change: "INSERT OR REPLACE INTO kv VALUES ('b',2);\nINSERT OR REPLACE INTO kv VALUES ('a',1)",
			want: []string{
				`kv update {k="B"} {k="B",v=2} -> {k="b",v=2}`,
			},
		},
		{
			name:   "NULLs in a rowid table's primary key",
			setup:  "CREATE TABLE t(a, b, v, PRIMARY KEY (a, b));\nINSERT INTO t VALUES (NULL,1,'n1'),(NULL,1,'n2'),(1,NULL,'m')",
			change: "UPDATE t SET v = 'N2' WHERE v = 'n2';\nINSERT INTO t VALUES (NULL,NULL,'z')",
			want: []string{
				`t insert {a=NULL,b=NULL} - -> {a=NULL,b=NULL,v="z"}`,
				`t update {a=NULL,b=1} {a=NULL,b=1,v="n2"} -> {a=NULL,b=1,v="N2"}`,
			},
		},
		{
			name:   "a descending key that may hold NULLs, text and reals",
			setup:  "CREATE TABLE t(a, b, v, PRIMARY KEY (a DESC, b));\nINSERT INTO t VALUES (NULL,1,0),(1,NULL,0),(2.5,1,0),('x',1,0),(x'01',1,0),(2,2,0)",
			change: "UPDATE t SET v = 1;\nINSERT INTO t VALUES (NULL,NULL,1),(2,1,1)",
			want: []string{
				`t update {a=x'01',b=1} {a=x'01',b=1,v=0} -> {a=x'01',b=1,v=1}`,
				`t update {a="x",b=1} {a="x",b=1,v=0} -> {a="x",b=1,v=1}`,
				`t update {a=2.5r,b=1} {a=2.5r,b=1,v=0} -> {a=2.5r,b=1,v=1}`,
				`t insert {a=2,b=1} - -> {a=2,b=1,v=1}`,
				`t update {a=2,b=2} {a=2,b=2,v=0} -> {a=2,b=2,v=1}`,
				`t update {a=1,b=NULL} {a=1,b=NULL,v=0} -> {a=1,b=NULL,v=1}`,
				`t insert {a=NULL,b=NULL} - -> {a=NULL,b=NULL,v=1}`,
				`t update {a=NULL,b=1} {a=NULL,b=1,v=0} -> {a=NULL,b=1,v=1}`,
			},
		},
		{
			name:   "hostile names",
			setup:  "CREATE TABLE \"we\"\"ird ; name\"(\"i\"\"d\" INTEGER PRIMARY KEY, \"rowid\" TEXT, \"é\" TEXT);\nINSERT INTO \"we\"\"ird ; name\" VALUES (1,'r','e')",
			change: "UPDATE \"we\"\"ird ; name\" SET \"é\" = 'E'",
			want: []string{
				`we"ird ; name update {i"d=1} {i"d=1,rowid="r",é="e"} -> {i"d=1,rowid="r",é="E"}`,
			},
		},
		{
			name:   "tables added and dropped, columns added",
			setup:  "CREATE TABLE gone(id INTEGER PRIMARY KEY);\nINSERT INTO gone VALUES (1);\nCREATE TABLE t(id INTEGER PRIMARY KEY, v);\nINSERT INTO t VALUES (1, 'a')",
			change: "DROP TABLE gone;\nCREATE TABLE new(id INTEGER PRIMARY KEY);\nINSERT INTO new VALUES (7);\nALTER TABLE t ADD COLUMN w DEFAULT 5;\nCREATE INDEX t_v ON t(v)",
			want: []string{
				`gone delete {id=1} {id=1} -> -`,
				`new insert {id=7} - -> {id=7}`,
			},
			schema: []string{"table gone dropped", "table new added", "table t modified +[w] -[] ~[]", "index t_v added"},
		},
		{
			name:   "a changed primary key is not matched",
			setup:  "CREATE TABLE t(a INT PRIMARY KEY, b);\nINSERT INTO t VALUES (1,2)",
			change: "DROP TABLE t;\nCREATE TABLE t(a, b PRIMARY KEY);\nINSERT INTO t VALUES (1,2)",
			want:   []string{"t skipped"},
			schema: []string{"table t modified +[] -[] ~[a b]"},
		},
		{
			name:   "virtual tables and their shadow tables are not compared",
			setup:  "CREATE VIRTUAL TABLE f USING fts5(body);\nINSERT INTO f VALUES ('one')",
			change: "INSERT INTO f VALUES ('two')",
			want:   []string{"f skipped"},
		},
		{
			name:   "bookkeeping tables are not shown",
			setup:  "CREATE TABLE t(id INTEGER PRIMARY KEY);\n!CREATE TABLE _forge_idem(k INTEGER PRIMARY KEY)",
			change: "INSERT INTO t VALUES (1);\n!INSERT INTO _forge_idem VALUES (1);\n!CREATE TABLE _forge_new(k)",
			want:   []string{`t insert {id=1} - -> {id=1}`},
		},
	}
	v := newEnv(t)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := "db" + strconv.Itoa(i)
			v.create(t, db)
			v.exec(t, db, tc.setup)
			v.checkpoint(t, db, "before")
			v.exec(t, db, tc.change)
			s := diff.New(v, diff.Config{})
			d, err := s.Diff(context.Background(), db, forge.DiffQuery{AgainstKind: "checkpoint", AgainstName: "before"})
			if err != nil {
				t.Fatal(err)
			}
			if got := render(d); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if got := schemaLines(d); strings.Join(got, "\n") != strings.Join(tc.schema, "\n") {
				t.Errorf("schema:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.schema, "\n"))
			}
			if d.Truncated {
				t.Error("truncated")
			}
			// Pages of one row each, cursor after cursor, list the same
			// rows: the resume condition agrees with the key's order.
			var paged []string
			q := forge.DiffQuery{AgainstKind: "checkpoint", AgainstName: "before", Limit: 1}
			for n := 0; ; n++ {
				p, err := s.Diff(context.Background(), db, q)
				if err != nil {
					t.Fatalf("page %d: %v", n, err)
				}
				if n > 0 && len(p.Schema) > 0 {
					t.Errorf("page %d repeats the schema changes", n)
				}
				paged = append(paged, render(p)...)
				if !p.Truncated {
					break
				}
				if n > len(tc.want)+1 {
					t.Fatal("pages do not end")
				}
				q.Cursor = p.Next
			}
			if strings.Join(paged, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("paged rows:\n%s\nwant:\n%s", strings.Join(paged, "\n"), strings.Join(tc.want, "\n"))
			}
			// The summary counts the same rows.
			sum, err := s.Diff(context.Background(), db, forge.DiffQuery{AgainstKind: "checkpoint", AgainstName: "before", Summary: true})
			if err != nil {
				t.Fatal(err)
			}
			for j, td := range sum.Tables {
				if len(td.Changes) != 0 {
					t.Errorf("summary lists rows of %s", td.Table)
				}
				if j < len(d.Tables) && (td.Inserted != d.Tables[j].Inserted || td.Deleted != d.Tables[j].Deleted || td.Updated != d.Tables[j].Updated) {
					t.Errorf("summary of %s = %+v, page = %+v", td.Table, td, d.Tables[j])
				}
			}
		})
	}
}

// The scans are served by the key's index (or the table's b-tree) in
// order: no sort, which would hold the table in memory.
func TestScansNeedNoSort(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	v.create(t, "db")
	v.exec(t, "db", `CREATE TABLE ipk(id INTEGER PRIMARY KEY, v);
CREATE TABLE norowid(a TEXT, b INT, v, PRIMARY KEY (a COLLATE NOCASE, b DESC)) WITHOUT ROWID;
CREATE TABLE textpk(k TEXT PRIMARY KEY COLLATE RTRIM, v);
CREATE TABLE nullable(a, b DESC, v, PRIMARY KEY (a DESC, b));
CREATE TABLE plain(v)`)
	src, err := v.OpenDatabase(context.Background(), "db")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for _, name := range []string{"ipk", "norowid", "textpk", "nullable", "plain"} {
		for _, after := range []bool{false, true} {
			sql, nargs, err := diff.PlanSQL(src, name, after)
			if err != nil {
				t.Fatal(err)
			}
			args := make([]forge.Value, nargs)
			for i := range args {
				args[i] = forge.IntValue(1)
			}
			rows, err := src.Query("EXPLAIN QUERY PLAN "+sql, args...)
			if err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
			var plan []string
			for rows.Next() {
				plan = append(plan, string(rows.Row().Text(3)))
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if p := strings.Join(plan, "; "); strings.Contains(p, "TEMP B-TREE") || len(plan) == 0 {
				t.Errorf("%s: plan %q sorts", sql, p)
			}
		}
	}
}

func TestDiffAgainstAnotherDatabase(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	v.create(t, "a")
	v.create(t, "b")
	v.exec(t, "a", "CREATE TABLE t(id INTEGER PRIMARY KEY, v);\nINSERT INTO t VALUES (1,'x'),(2,'y')")
	v.exec(t, "b", "CREATE TABLE t(id INTEGER PRIMARY KEY, v);\nINSERT INTO t VALUES (1,'x'),(3,'z')")
	d, err := diff.New(v, diff.Config{}).Diff(context.Background(), "a", forge.DiffQuery{AgainstKind: "db", AgainstName: "b"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`t insert {id=2} - -> {id=2,v="y"}`, `t delete {id=3} {id=3,v="z"} -> -`}
	if got := render(d); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDiffRefuses(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	v.create(t, "a")
	v.exec(t, "a", "CREATE TABLE t(id INTEGER PRIMARY KEY);\nINSERT INTO t VALUES (1),(2),(3)")
	v.checkpoint(t, "a", "c")
	v.exec(t, "a", "DELETE FROM t")
	s := diff.New(v, diff.Config{MaxLimit: 10})
	page, err := s.Diff(context.Background(), "a", forge.DiffQuery{AgainstKind: "checkpoint", AgainstName: "c", Limit: 1})
	if err != nil || !page.Truncated || page.Next == "" {
		t.Fatalf("first page: %+v, %v", page, err)
	}
	var ie *forge.InputError
	for _, tc := range []struct {
		name string
		db   string
		q    forge.DiffQuery
		want error // nil: an InputError
	}{
		{"itself", "a", forge.DiffQuery{AgainstKind: "db", AgainstName: "a"}, nil},
		{"limit over the cap", "a", forge.DiffQuery{AgainstKind: "checkpoint", AgainstName: "c", Limit: 11}, nil},
		{"a cursor of another against", "a", forge.DiffQuery{AgainstKind: "checkpoint", AgainstName: "d", Cursor: page.Next}, nil},
		{"a cursor with a summary", "a", forge.DiffQuery{AgainstKind: "checkpoint", AgainstName: "c", Cursor: page.Next, Summary: true}, nil},
		{"not a cursor", "a", forge.DiffQuery{AgainstKind: "checkpoint", AgainstName: "c", Cursor: "%%%"}, nil},
		{"no such checkpoint", "a", forge.DiffQuery{AgainstKind: "checkpoint", AgainstName: "nope"}, forge.ErrCheckpointNotFound},
		{"no such database", "a", forge.DiffQuery{AgainstKind: "db", AgainstName: "nope"}, forge.ErrDatabaseNotFound},
		{"no database", "nope", forge.DiffQuery{AgainstKind: "db", AgainstName: "a"}, forge.ErrDatabaseNotFound},
	} {
		_, err := s.Diff(context.Background(), tc.db, tc.q)
		if tc.want == nil && !errors.As(err, &ie) || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestParseAgainst(t *testing.T) {
	t.Parallel()
	for in, ok := range map[string]bool{
		"checkpoint:x": true, "db:y": true, "db:": false, "checkpoint": false, "": false, "file:/etc/passwd": false, "db:a:b": true,
	} {
		_, _, err := diff.ParseAgainst(in)
		if (err == nil) != ok {
			t.Errorf("%q: %v", in, err)
		}
	}
}

// Many rows and large values: the read-ahead's batches (by count and by
// bytes) end and are recycled mid-table, and the rows still pair up.
func TestDiffAcrossBatches(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	v.create(t, "db")
	v.exec(t, "db", `CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB);
INSERT INTO t SELECT x, CASE WHEN x % 100 = 0 THEN zeroblob(300000) ELSE x END FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000) SELECT x FROM c)`)
	v.checkpoint(t, "db", "before")
	v.exec(t, "db", `UPDATE t SET b = -1 WHERE id % 97 = 0;
DELETE FROM t WHERE id % 211 = 5;
INSERT INTO t VALUES (5000, zeroblob(10))`)
	var want []string
	for id := 1; id <= 3000; id++ {
		switch {
		case id%211 == 5:
			want = append(want, fmt.Sprintf("delete %d", id))
		case id%97 == 0:
			want = append(want, fmt.Sprintf("update %d", id))
		}
	}
	want = append(want, "insert 5000")
	s := diff.New(v, diff.Config{})
	for _, limit := range []int{1000, 7} {
		var got []string
		q := forge.DiffQuery{AgainstKind: "checkpoint", AgainstName: "before", Limit: limit}
		for n := 0; ; n++ {
			d, err := s.Diff(context.Background(), "db", q)
			if err != nil {
				t.Fatal(err)
			}
			for _, td := range d.Tables {
				for _, c := range td.Changes {
					got = append(got, fmt.Sprintf("%s %d", c.Op, c.Key[0].Value.Int))
				}
			}
			if !d.Truncated {
				break
			}
			if n > len(want) {
				t.Fatal("pages do not end")
			}
			q.Cursor = d.Next
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("limit %d: %d rows %v\nwant %d %v", limit, len(got), got, len(want), want)
		}
	}
}
