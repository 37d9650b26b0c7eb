package diff

import (
	"slices"
	"strings"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/sqlbuild"
)

// schema is one side's sqlite_schema, without the gateway's bookkeeping
// (forge.ReservedPrefix) and SQLite's own objects (sqlite_*).
type schema struct {
	objects map[objectKey]object
	tables  map[string]*table // by folded name
}

type objectKey struct{ typ, name string } // name folded

type object struct {
	typ, name, tbl, sql string
}

// table is what a diff needs of a table: its columns and the key its
// rows are matched and ordered by.
type table struct {
	name string
	kind string // "table", "virtual", "shadow"
	sql  string
	cols []column
	key  keySpec
	// skip says why its rows cannot be compared ("" = they can).
	skip string
}

type column struct {
	name, typ string
	notNull   bool
	dflt      string // the default's SQL text, "" none
	hasDflt   bool
	pk        int
	hidden    int
}

// keySpec is a table's key: the primary key's columns in the order of its
// index (with their collations and directions), or the rowid alone. A
// rowid table whose primary key may hold NULL (SQLite allows it) is
// ordered by the rowid after the key, which only matters among rows
// whose key has a NULL: tiebreak names the rowid then.
type keySpec struct {
	cols     []keyCol
	tiebreak string
}

type keyCol struct {
	name     string // a column, or a rowid alias when rowid is set
	coll     string // BINARY, NOCASE or RTRIM
	desc     bool
	nullable bool
	rowid    bool
}

// names are the key's names as the answer shows them.
func (k keySpec) names() []string {
	out := make([]string, len(k.cols))
	for i, c := range k.cols {
		out[i] = c.name
		if c.rowid {
			out[i] = "rowid"
		}
	}
	return out
}

func (k keySpec) equal(o keySpec) bool {
	return (k.tiebreak == "") == (o.tiebreak == "") && slices.EqualFunc(k.cols, o.cols, func(a, b keyCol) bool {
		return a.rowid == b.rowid && a.desc == b.desc && a.coll == b.coll && (a.rowid || fold(a.name) == fold(b.name))
	})
}

// fold is SQLite's case folding of names (ASCII only).
func fold(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// hidden reports a name the diff leaves out: the gateway's bookkeeping
// and SQLite's own objects.
func hidden(name string) bool {
	return forge.IsReserved(name) || len(name) >= 7 && strings.EqualFold(name[:7], "sqlite_")
}

// query runs sql on src and calls fn for each row.
func query(src Source, sql string, fn func(forge.Row) error, args ...forge.Value) error {
	rows, err := src.Query(sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Row()); err != nil {
			return err
		}
	}
	return rows.Err()
}

func readSchema(src Source) (*schema, error) {
	s := &schema{objects: map[objectKey]object{}, tables: map[string]*table{}}
	err := query(src, "SELECT type, name, tbl_name, sql FROM sqlite_schema", func(r forge.Row) error {
		o := object{typ: string(r.Text(0)), name: string(r.Text(1)), tbl: string(r.Text(2)), sql: string(r.Text(3))}
		if hidden(o.name) || hidden(o.tbl) || r.Kind(3) == forge.Null {
			return nil // an automatic index has no SQL: its table's does
		}
		s.objects[objectKey{o.typ, fold(o.name)}] = o
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = query(src, "SELECT name, type FROM pragma_table_list WHERE schema = 'main'", func(r forge.Row) error {
		name := string(r.Text(0))
		if hidden(name) {
			return nil
		}
		kind := string(r.Text(1))
		if kind == "view" {
			return nil
		}
		s.tables[fold(name)] = &table{name: name, kind: kind, sql: s.objects[objectKey{"table", fold(name)}].sql}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, t := range s.tables {
		if err := describe(src, t); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// describe reads t's columns and key.
func describe(src Source, t *table) error {
	if t.kind != "table" {
		// A virtual table's columns need its module, which the other
		// side may lack; its shadow tables are its storage.
		t.skip = "a " + t.kind + " table: its rows are not compared"
		return nil
	}
	arg := forge.TextValue(t.name)
	err := query(src, `SELECT name, type, "notnull", dflt_value, pk, hidden FROM pragma_table_xinfo(?1)`, func(r forge.Row) error {
		c := column{name: string(r.Text(0)), typ: string(r.Text(1)), notNull: r.Int(2) != 0,
			dflt: string(r.Text(3)), hasDflt: r.Kind(3) != forge.Null, pk: int(r.Int(4)), hidden: int(r.Int(5))}
		t.cols = append(t.cols, c)
		return nil
	}, arg)
	if err != nil {
		return err
	}
	var pkIndex string
	withoutRowid := false
	err = query(src, `SELECT name, origin FROM pragma_index_list(?1) WHERE origin = 'pk'`, func(r forge.Row) error {
		pkIndex = string(r.Text(0))
		return nil
	}, arg)
	if err != nil {
		return err
	}
	err = query(src, `SELECT wr FROM pragma_table_list(?1) WHERE schema = 'main'`, func(r forge.Row) error {
		withoutRowid = r.Int(0) != 0
		return nil
	}, arg)
	if err != nil {
		return err
	}
	names := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = c.name
	}
	alias := sqlbuild.RowidAlias(names)
	if pkIndex == "" {
		// The rowid: an INTEGER PRIMARY KEY column is its name.
		for _, c := range t.cols {
			if c.pk == 1 && !withoutRowid {
				t.key.cols = []keyCol{{name: c.name, coll: "BINARY"}}
				return nil
			}
		}
		if alias == "" {
			t.skip = `its columns are named "rowid", "_rowid_" and "oid", so its rows have no key to match by`
			return nil
		}
		t.key.cols = []keyCol{{name: alias, coll: "BINARY", rowid: true}}
		return nil
	}
	err = query(src, `SELECT name, coll, "desc" FROM pragma_index_xinfo(?1) WHERE key = 1 ORDER BY seqno`, func(r forge.Row) error {
		k := keyCol{name: string(r.Text(0)), coll: strings.ToUpper(string(r.Text(1))), desc: r.Int(2) != 0}
		if i := slices.IndexFunc(t.cols, func(c column) bool { return c.name == k.name }); i >= 0 {
			k.nullable = !withoutRowid && !t.cols[i].notNull
		}
		t.key.cols = append(t.key.cols, k)
		return nil
	}, forge.TextValue(pkIndex))
	if err != nil {
		return err
	}
	for _, k := range t.key.cols {
		switch k.coll {
		case "BINARY", "NOCASE", "RTRIM":
		default:
			t.skip = "its primary key has the collation " + k.coll + ", which the diff cannot order by"
			return nil
		}
		if k.nullable && alias != "" {
			t.key.tiebreak = alias
		}
	}
	if len(t.key.cols) == 0 {
		t.skip = "its primary key could not be read"
	}
	return nil
}

// tableNames are the tables of either side, folded, in order.
func tableNames(b, a *schema) []string {
	var out []string
	for n := range b.tables {
		out = append(out, n)
	}
	for n := range a.tables {
		if b.tables[n] == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// compareSchema lists the objects added, dropped and modified, tables
// first, then by type and name.
func compareSchema(b, a *schema) []forge.SchemaChange {
	var out []forge.SchemaChange
	for k, ao := range a.objects {
		bo, ok := b.objects[k]
		switch {
		case !ok:
			out = append(out, forge.SchemaChange{Type: ao.typ, Name: ao.name, Change: "added", After: ao.sql})
		case bo.sql != ao.sql:
			c := forge.SchemaChange{Type: ao.typ, Name: ao.name, Change: "modified", Before: bo.sql, After: ao.sql}
			if k.typ == "table" && b.tables[k.name] != nil && a.tables[k.name] != nil {
				c.ColumnsAdded, c.ColumnsDropped, c.ColumnsChanged = compareColumns(b.tables[k.name].cols, a.tables[k.name].cols)
			}
			out = append(out, c)
		}
	}
	for k, bo := range b.objects {
		if _, ok := a.objects[k]; !ok {
			out = append(out, forge.SchemaChange{Type: bo.typ, Name: bo.name, Change: "dropped", Before: bo.sql})
		}
	}
	rank := func(t string) int {
		if t == "table" {
			return 0
		}
		return 1
	}
	slices.SortFunc(out, func(x, y forge.SchemaChange) int {
		if d := rank(x.Type) - rank(y.Type); d != 0 {
			return d
		}
		if c := strings.Compare(x.Type, y.Type); c != 0 {
			return c
		}
		return strings.Compare(fold(x.Name), fold(y.Name))
	})
	return out
}

// compareColumns tells the columns added, dropped and changed (type,
// NOT NULL, default, primary key or generation) between b and a.
func compareColumns(b, a []column) (added, dropped, changed []string) {
	find := func(cs []column, name string) (column, bool) {
		i := slices.IndexFunc(cs, func(c column) bool { return fold(c.name) == fold(name) })
		if i < 0 {
			return column{}, false
		}
		return cs[i], true
	}
	for _, c := range a {
		old, ok := find(b, c.name)
		switch {
		case !ok:
			added = append(added, c.name)
		case old != c:
			changed = append(changed, c.name)
		}
	}
	for _, c := range b {
		if _, ok := find(a, c.name); !ok {
			dropped = append(dropped, c.name)
		}
	}
	return added, dropped, changed
}
