package tables

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/wasm"
)

func TestSmokeREST(t *testing.T) {
	e, _, db := newDB(t, wasm.Config{})
	exec(t, e, db, `CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT 'x', age INTEGER, g AS (age*2));
CREATE INDEX p_age ON p(age);
CREATE TABLE c(id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id) ON DELETE CASCADE);
CREATE TRIGGER tr AFTER INSERT ON p BEGIN SELECT 1; END;
CREATE VIEW v AS SELECT name FROM p;
INSERT INTO p(name, age) VALUES ('a', 1), ('b', 2), ('c', NULL), ('d', 4)`)
	ctx := context.Background()
	rec := &recorder{}
	res, page, err := e.ReadRows(ctx, db, "p", []forge.QueryParam{{"age__gte", "1"}, {"_size", "2"}, {"_sort_desc", "age"}, {"_count", "1"}}, rec)
	t.Log(res, page, err, rec.cols, rec.rows)
	rec = &recorder{}
	res, page, err = e.ReadRows(ctx, db, "p", []forge.QueryParam{{"age__gte", "1"}, {"_size", "2"}, {"_sort_desc", "age"}, {"_next", page.Next}}, rec)
	t.Log(res, page, err, rec.cols, rec.rows)
	l, err := e.ListTables(ctx, db)
	b, _ := json.Marshal(l)
	t.Log(string(b), err)
	s, err := e.Schema(ctx, db, "", false)
	b, _ = json.Marshal(s)
	t.Log(string(b), err)
	s, err = e.Schema(ctx, db, "p", true)
	b, _ = json.Marshal(s)
	t.Log(string(b), err)
}
