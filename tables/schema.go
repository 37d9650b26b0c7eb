package tables

import (
	"context"
	"strconv"
	"strings"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/sqlbuild"
)

// The schema routes: the list of tables and views, their description,
// and DROP. Every query here reads SQLite's own catalogue through the
// table-valued pragmas, one statement per kind of thing (columns,
// indexes, foreign keys, triggers) for all the tables at once, so that a
// schema of fifty tables costs five statements, not two hundred. The
// engine's bookkeeping tables (forge.ReservedPrefix) and SQLite's own
// (sqlite_*) are never listed.

// shown selects the catalogue's tables and views a client sees (l is
// pragma_table_list); ?1, when bound to a name, narrows to that one.
const shown = `l.schema = 'main' AND l.type IN ('table', 'view', 'virtual')
 AND l.name NOT LIKE 'sqlite\_%' ESCAPE '\' AND l.name NOT LIKE '\_forge\_%' ESCAPE '\'`

const (
	objectsSQL = `SELECT l.name, l.type, l.wr, l.strict, s.sql FROM pragma_table_list l
 LEFT JOIN sqlite_schema s ON s.name = l.name AND s.type IN ('table', 'view')
 WHERE ` + shown + ` AND (?1 IS NULL OR l.name = ?1 COLLATE NOCASE) ORDER BY l.name`
	schemaColumnsSQL = `SELECT l.name, c.name, c.type, c."notnull", c.dflt_value, c.pk, c.hidden
 FROM pragma_table_list l, pragma_table_xinfo(l.name) c
 WHERE ` + shown + ` AND (?1 IS NULL OR l.name = ?1 COLLATE NOCASE) AND c.hidden != 1 ORDER BY l.name, c.cid`
	schemaIndexesSQL = `SELECT l.name, i.name, i."unique", i.origin, i.partial, s.sql, ii.name
 FROM pragma_table_list l, pragma_index_list(l.name) i, pragma_index_info(i.name) ii
 LEFT JOIN sqlite_schema s ON s.type = 'index' AND s.name = i.name
 WHERE ` + shown + ` AND (?1 IS NULL OR l.name = ?1 COLLATE NOCASE) ORDER BY l.name, i.name, ii.seqno`
	schemaForeignKeysSQL = `SELECT l.name, f.id, f."table", f."from", f."to", f.on_update, f.on_delete
 FROM pragma_table_list l, pragma_foreign_key_list(l.name) f
 WHERE ` + shown + ` AND (?1 IS NULL OR l.name = ?1 COLLATE NOCASE) ORDER BY l.name, f.id, f.seq`
	schemaTriggersSQL = `SELECT tbl_name, name, sql FROM sqlite_schema
 WHERE type = 'trigger' AND (?1 IS NULL OR tbl_name = ?1 COLLATE NOCASE) ORDER BY tbl_name, name`
	stat1SQL = `SELECT tbl, stat FROM sqlite_stat1 WHERE tbl = ?1 COLLATE NOCASE`
	hasStat1 = `SELECT count(*) FROM pragma_table_list WHERE schema = 'main' AND name = 'sqlite_stat1'`
)

// countCap bounds the exact count of GET …/tables: a table of more rows
// gets an estimate.
const countCap = 10000

// ListTables lists db's tables and views with an estimate of their rows
// (docs/API.md says how it is made).
func (s *Service) ListTables(ctx context.Context, db string) ([]forge.TableSummary, error) {
	var out []forge.TableSummary
	err := s.e.Read(ctx, db, func(tx forge.Tx) error {
		var objs collector
		if err := run(ctx, tx, objectsSQL, []forge.Value{forge.NullValue()}, &objs); err != nil {
			return err
		}
		stats, err := hasStats(ctx, tx)
		if err != nil {
			return err
		}
		out = make([]forge.TableSummary, 0, len(objs.rows))
		for _, o := range objs.rows {
			ts := forge.TableSummary{Name: o[0].Str, Type: kindName(o[1].Str)}
			if o[1].Str != "view" {
				n, err := estimate(ctx, tx, ts.Name, o[2].Int != 0, stats)
				if err != nil {
					return err
				}
				ts.Rows = &n
			}
			out = append(out, ts)
		}
		return nil
	})
	return out, err
}

func kindName(k string) string {
	if k == "virtual" {
		return "table"
	}
	return k
}

func hasStats(ctx context.Context, tx forge.Tx) (bool, error) {
	var c countWriter
	_, err := tx.Run(ctx, forge.Statement{SQL: hasStat1}, &c)
	return c.n > 0, err
}

// estimate is a table's rows: counted exactly up to countCap; past it,
// ANALYZE's figure (sqlite_stat1) when there is one, else the largest
// rowid (exact for a table only ever appended to), else countCap+1.
func estimate(ctx context.Context, tx forge.Tx, table string, withoutRowid, stats bool) (int64, error) {
	var c countWriter
	q := "SELECT count(*) FROM (SELECT 1 FROM " + sqlbuild.Quote(table) + " LIMIT " + strconv.Itoa(countCap+1) + ")"
	if _, err := tx.Run(ctx, forge.Statement{SQL: q}, &c); err != nil {
		return 0, err
	}
	if c.n <= countCap {
		return c.n, nil
	}
	if stats {
		var st collector
		if err := run(ctx, tx, stat1SQL, []forge.Value{forge.TextValue(table)}, &st); err != nil {
			return 0, err
		}
		best := int64(-1)
		for _, r := range st.rows {
			first, _, _ := strings.Cut(r[1].Str, " ")
			if n, err := strconv.ParseInt(first, 10, 64); err == nil && n > best {
				best = n
			}
		}
		if best > countCap {
			return best, nil
		}
	}
	if !withoutRowid {
		var m countWriter
		if _, err := tx.Run(ctx, forge.Statement{SQL: "SELECT max(_rowid_) FROM " + sqlbuild.Quote(table)}, &m); err == nil && m.n > countCap {
			return m.n, nil
		}
	}
	return c.n, nil
}

// Schema describes every table and view of db (table "" ) or the one
// named table (forge.ErrTableNotFound when there is none). verbose adds
// the SQL of each object, indexes' origins and foreign keys' actions.
func (s *Service) Schema(ctx context.Context, db, table string, verbose bool) ([]forge.TableSchema, error) {
	var arg []forge.Value
	if table != "" {
		if err := sqlbuild.ValidateExistingIdentifier("table", table); err != nil {
			return nil, err
		}
		if forge.IsReserved(table) {
			return nil, forge.ErrTableNotFound
		}
		arg = []forge.Value{forge.TextValue(table)}
	} else {
		arg = []forge.Value{forge.NullValue()}
	}
	var out []forge.TableSchema
	err := s.e.Read(ctx, db, func(tx forge.Tx) error {
		var err error
		out, err = readSchema(ctx, tx, arg, verbose)
		return err
	})
	if err == nil && table != "" && len(out) == 0 {
		return nil, forge.ErrTableNotFound
	}
	return out, err
}

func readSchema(ctx context.Context, tx forge.Tx, arg []forge.Value, verbose bool) ([]forge.TableSchema, error) {
	var objs, cols, idx, fks, trg collector
	for _, q := range []struct {
		sql string
		c   *collector
	}{{objectsSQL, &objs}, {schemaColumnsSQL, &cols}, {schemaIndexesSQL, &idx}, {schemaForeignKeysSQL, &fks}, {schemaTriggersSQL, &trg}} {
		if err := run(ctx, tx, q.sql, arg, q.c); err != nil {
			return nil, err
		}
	}
	out := make([]forge.TableSchema, len(objs.rows))
	at := make(map[string]int, len(objs.rows))
	for i, o := range objs.rows {
		ts := forge.TableSchema{Name: o[0].Str, Type: kindName(o[1].Str), WithoutRowid: o[2].Int != 0, Strict: o[3].Int != 0,
			Columns: []forge.ColumnInfo{}}
		if verbose {
			ts.SQL = o[4].Str
		}
		out[i] = ts
		at[ts.Name] = i
	}
	for _, c := range cols.rows {
		i, ok := at[c[0].Str]
		if !ok {
			continue
		}
		ci := forge.ColumnInfo{Name: c[1].Str, Type: c[2].Str, NotNull: c[3].Int != 0, PK: int(c[5].Int)}
		if c[4].Kind != forge.Null {
			d := c[4].Str
			ci.Default = &d
		}
		switch c[6].Int {
		case 2:
			ci.Generated = "virtual"
		case 3:
			ci.Generated = "stored"
		}
		out[i].Columns = append(out[i].Columns, ci)
	}
	for _, r := range idx.rows {
		i, ok := at[r[0].Str]
		if !ok {
			continue
		}
		t := &out[i]
		col := r[6].Str
		if r[6].Kind == forge.Null {
			col = "(expression)"
		}
		if n := len(t.Indexes); n > 0 && t.Indexes[n-1].Name == r[1].Str {
			t.Indexes[n-1].Columns = append(t.Indexes[n-1].Columns, col)
			continue
		}
		ii := forge.IndexInfo{Name: r[1].Str, Unique: r[2].Int != 0, Columns: []string{col}}
		if verbose {
			ii.Origin, ii.Partial, ii.SQL = r[3].Str, r[4].Int != 0, r[5].Str
		}
		t.Indexes = append(t.Indexes, ii)
	}
	lastID := int64(-1)
	for _, r := range fks.rows {
		i, ok := at[r[0].Str]
		if !ok {
			continue
		}
		t := &out[i]
		if n := len(t.ForeignKeys); n > 0 && r[1].Int == lastID {
			fk := &t.ForeignKeys[n-1]
			fk.Columns = append(fk.Columns, r[3].Str)
			fk.To = append(fk.To, r[4].Str)
			continue
		}
		lastID = r[1].Int
		fk := forge.ForeignKey{Table: r[2].Str, Columns: []string{r[3].Str}, To: []string{r[4].Str}}
		if verbose {
			fk.OnUpdate, fk.OnDelete = r[5].Str, r[6].Str
		}
		t.ForeignKeys = append(t.ForeignKeys, fk)
	}
	for _, r := range trg.rows {
		i, ok := at[r[0].Str]
		if !ok {
			// tbl_name as written in the trigger: match its case.
			for name, j := range at {
				if strings.EqualFold(name, r[0].Str) {
					i, ok = j, true
					break
				}
			}
			if !ok {
				continue
			}
		}
		ti := forge.TriggerInfo{Name: r[1].Str}
		if verbose {
			ti.SQL = r[2].Str
		}
		out[i].Triggers = append(out[i].Triggers, ti)
	}
	return out, nil
}

// DropTable drops the table or view named table.
func (s *Service) DropTable(ctx context.Context, db, table string) (string, error) {
	if err := sqlbuild.ValidateExistingIdentifier("table", table); err != nil {
		return "", err
	}
	var name string
	err := s.e.Write(ctx, db, func(tx forge.Tx) error {
		t, err := lookUp(ctx, tx, table)
		if err != nil {
			return err
		}
		name = t.name
		what := "TABLE "
		if t.kind == "view" {
			what = "VIEW "
		}
		_, err = tx.Run(ctx, forge.Statement{SQL: "DROP " + what + sqlbuild.Quote(t.name)}, nil)
		return err
	})
	return name, err
}

func run(ctx context.Context, tx forge.Tx, sql string, args []forge.Value, c *collector) error {
	_, err := tx.Run(ctx, forge.Statement{SQL: sql, Params: forge.Params{Positional: args}}, c)
	return err
}

// collector keeps a copy of every row (the catalogue's, which are few).
type collector struct {
	n    int
	rows [][]forge.Value
}

func (c *collector) Columns(names []string) error { c.n = len(names); return nil }

func (c *collector) Row(r forge.Row) error {
	vals := make([]forge.Value, c.n)
	for i := range vals {
		vals[i] = rowValue(r, i)
	}
	c.rows = append(c.rows, vals)
	return nil
}
