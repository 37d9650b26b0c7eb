package diff

import (
	"slices"
	"strings"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/sqlbuild"
)

// keyExprs are the key's column expressions in the order of the key:
// a quoted column, or a rowid alias as it is.
func keyExpr(k keyCol) string {
	if k.rowid {
		return k.name
	}
	return sqlbuild.Quote(k.name)
}

// orderTerm is one term of the ORDER BY a key's index serves: its
// collation and direction (none for the rowid).
func orderTerm(k keyCol) string {
	if k.rowid || k.coll == "" {
		return keyExpr(k)
	}
	s := keyExpr(k) + " COLLATE " + k.coll
	if k.desc {
		s += " DESC"
	}
	return s
}

// width is the count of key values a row starts with (and a cursor holds).
func (k keySpec) width() int {
	if k.tiebreak != "" {
		return len(k.cols) + 1
	}
	return len(k.cols)
}

// scanSQL selects t's rows in key order, the key's values first, then
// every column (*); after a cursor, only the rows past its key.
func scanSQL(t *table, after []forge.Value) (string, []forge.Value) {
	k := t.key
	var b strings.Builder
	b.WriteString("SELECT ")
	for _, c := range k.cols {
		b.WriteString(keyExpr(c))
		b.WriteString(", ")
	}
	if k.tiebreak != "" {
		b.WriteString(k.tiebreak + ", ")
	}
	b.WriteString("* FROM ")
	b.WriteString(sqlbuild.Quote(t.name))
	var args []forge.Value
	if after != nil {
		var where string
		where, args = resumeClause(k, after)
		b.WriteString(" WHERE ")
		b.WriteString(where)
	}
	b.WriteString(" ORDER BY ")
	for i, c := range k.cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(orderTerm(c))
	}
	if k.tiebreak != "" {
		b.WriteString(", " + k.tiebreak)
	}
	return b.String(), args
}

// resumeClause is the condition "the row's key comes after key" in the
// order of scanSQL: a range on the first column (which the key's index
// serves) and the lexicographic condition, written for NULLs as SQLite
// orders them (first ascending, last descending).
func resumeClause(k keySpec, key []forge.Value) (string, []forge.Value) {
	cols := slices.Clone(k.cols)
	n := len(k.cols)
	vals := key[:n]
	if k.tiebreak != "" && slices.ContainsFunc(vals, func(v forge.Value) bool { return v.Kind == forge.Null }) {
		cols = append(cols, keyCol{name: k.tiebreak, rowid: true})
		vals = key[:n+1]
	}
	collated := func(c keyCol) string {
		if c.rowid || c.coll == "" {
			return keyExpr(c)
		}
		return keyExpr(c) + " COLLATE " + c.coll
	}
	var where []string
	var args []forge.Value
	if v := vals[0]; v.Kind != forge.Null {
		lead := collated(cols[0]) + " >= ?"
		if cols[0].desc {
			lead = collated(cols[0]) + " <= ?"
			if cols[0].nullable {
				lead = "(" + lead + " OR " + keyExpr(cols[0]) + " IS NULL)"
			}
		}
		where, args = append(where, lead), append(args, v)
	}
	var ors []string
	for i := range cols {
		var and []string
		var own []forge.Value
		for j := 0; j < i; j++ {
			if vals[j].Kind == forge.Null {
				and = append(and, keyExpr(cols[j])+" IS NULL")
			} else {
				and, own = append(and, collated(cols[j])+" = ?"), append(own, vals[j])
			}
		}
		c, v := cols[i], vals[i]
		switch {
		case v.Kind == forge.Null && c.desc:
			continue // nothing comes after NULL, descending
		case v.Kind == forge.Null:
			and = append(and, keyExpr(c)+" IS NOT NULL")
		case !c.desc:
			and, own = append(and, collated(c)+" > ?"), append(own, v)
		case c.nullable:
			and, own = append(and, "("+collated(c)+" < ? OR "+keyExpr(c)+" IS NULL)"), append(own, v)
		default:
			and, own = append(and, collated(c)+" < ?"), append(own, v)
		}
		ors = append(ors, "("+strings.Join(and, " AND ")+")")
		args = append(args, own...)
	}
	if len(ors) == 0 {
		ors = []string{"0"}
	}
	where = append(where, "("+strings.Join(ors, " OR ")+")")
	return strings.Join(where, " AND "), args
}

// table diffs one table's rows: before's bt against after's at (either
// nil when the table is on one side only), from the key resume on.
func (r *run) table(name string, bt, at *table, resume []forge.Value) error {
	t := at
	if t == nil {
		t = bt
	}
	if t.kind == "shadow" {
		return nil // a virtual table's storage: the virtual table says it was not compared
	}
	td := forge.TableDiff{Table: t.name, Key: t.key.names()}
	switch {
	case bt != nil && bt.skip != "":
		td.Skipped = bt.skip
	case at != nil && at.skip != "":
		td.Skipped = at.skip
	case bt != nil && at != nil && !bt.key.equal(at.key):
		td.Skipped = "its primary key changed, so rows cannot be matched by it"
	}
	if td.Skipped != "" {
		td.Key = nil
		if resume == nil {
			r.out.Tables = append(r.out.Tables, td)
		}
		return nil
	}
	if resume != nil && len(resume) != t.key.width() {
		return invalid(`Query parameter "cursor" no longer fits table %q: its key changed since the page before.`, t.name)
	}
	var bRows, aRows Rows
	var bCols, aCols []string
	if bt != nil {
		sql, args := scanSQL(bt, resume)
		rows, err := r.before.Query(sql, args...)
		if err != nil {
			return err
		}
		p := prefetch(rows)
		defer p.Close()
		bRows = p
		bCols = bRows.Columns()
	}
	if at != nil {
		sql, args := scanSQL(at, resume)
		rows, err := r.after.Query(sql, args...)
		if err != nil {
			return err
		}
		p := prefetch(rows)
		defer p.Close()
		aRows = p
		aCols = aRows.Columns()
	}
	w := t.key.width()
	m := newMatcher(w, bCols, aCols)
	bOK := bRows != nil && bRows.Next()
	aOK := aRows != nil && aRows.Next()
	checks := 0
	for bOK || aOK {
		if checks++; checks&1023 == 0 {
			if err := r.ctx.Err(); err != nil {
				return ctxError(err)
			}
		}
		var c int
		switch {
		case !aOK:
			c = -1
		case !bOK:
			c = 1
		default:
			c = compareKeys(t.key, bRows.Row(), aRows.Row())
		}
		stop := false
		switch {
		case c < 0: // only before: deleted
			if stop = r.emit(&td, forge.ChangeDelete, t.key, m, bRows.Row(), nil); !stop {
				bOK = bRows.Next()
			}
		case c > 0: // only after: inserted
			if stop = r.emit(&td, forge.ChangeInsert, t.key, m, nil, aRows.Row()); !stop {
				aOK = aRows.Next()
			}
		default:
			if !m.same(bRows.Row(), aRows.Row()) {
				stop = r.emit(&td, forge.ChangeUpdate, t.key, m, bRows.Row(), aRows.Row())
			}
			if !stop {
				bOK, aOK = bRows.Next(), aRows.Next()
			}
		}
		if stop {
			break
		}
	}
	if bRows != nil {
		if err := bRows.Err(); err != nil {
			return err
		}
	}
	if aRows != nil {
		if err := aRows.Err(); err != nil {
			return err
		}
	}
	if td.Inserted+td.Deleted+td.Updated > 0 {
		r.out.Tables = append(r.out.Tables, td)
	}
	return nil
}

// matcher knows where each side's columns are in its rows.
type matcher struct {
	width        int
	bCols, aCols []string // the columns after the key's values
	common       [][2]int // row indexes of the columns both sides have
}

func newMatcher(width int, bCols, aCols []string) *matcher {
	m := &matcher{width: width}
	if len(bCols) >= width {
		m.bCols = bCols[width:]
	}
	if len(aCols) >= width {
		m.aCols = aCols[width:]
	}
	for j, a := range m.aCols {
		if i := slices.IndexFunc(m.bCols, func(b string) bool { return fold(b) == fold(a) }); i >= 0 {
			m.common = append(m.common, [2]int{width + i, width + j})
		}
	}
	return m
}

// same: every column both sides have holds the same value.
func (m *matcher) same(b, a forge.Row) bool {
	for _, p := range m.common {
		if !same(b, p[0], a, p[1]) {
			return false
		}
	}
	return true
}

// compareKeys orders the rows b and a by the key (their first values).
func compareKeys(k keySpec, b, a forge.Row) int {
	hasNull := false
	for i, c := range k.cols {
		x, y := valueOf(b, i), valueOf(a, i)
		hasNull = hasNull || x.kind == forge.Null
		if d := compare(x, y, c.coll); d != 0 {
			if c.desc {
				return -d
			}
			return d
		}
	}
	if k.tiebreak != "" && hasNull {
		n := len(k.cols)
		return compare(valueOf(b, n), valueOf(a, n), "BINARY")
	}
	return 0
}

// emit adds one changed row to the page, or ends the page (true) when it
// is full: the row is then the next page's first.
func (r *run) emit(td *forge.TableDiff, op string, k keySpec, m *matcher, b, a forge.Row) bool {
	if r.summary {
		count(td, op)
		return false
	}
	if r.rows >= r.limit || r.bytes >= r.maxBytes {
		r.out.Truncated = true
		r.out.Next = encodeCursor(r.against, r.lastTable, r.lastKey)
		r.stopped = true
		return true
	}
	count(td, op)
	row := b
	if row == nil {
		row = a
	}
	ch := forge.RowChange{Op: op}
	key := make([]forge.Value, k.width())
	for i := range key {
		key[i] = valueOf(row, i).forge()
	}
	ch.Key = make(forge.Record, len(k.cols))
	for i, c := range k.cols {
		name := c.name
		if c.rowid {
			name = "rowid"
		}
		ch.Key[i] = forge.Field{Column: name, Value: key[i]}
		r.bytes += size(key[i])
	}
	if b != nil {
		ch.Before = r.record(b, m.width, m.bCols)
	}
	if a != nil {
		ch.After = r.record(a, m.width, m.aCols)
	}
	td.Changes = append(td.Changes, ch)
	r.rows++
	r.lastTable, r.lastKey = fold(td.Table), key
	return false
}

func count(td *forge.TableDiff, op string) {
	switch op {
	case forge.ChangeInsert:
		td.Inserted++
	case forge.ChangeDelete:
		td.Deleted++
	default:
		td.Updated++
	}
}

// record copies a row's columns (after the key's values).
func (r *run) record(row forge.Row, from int, cols []string) forge.Record {
	rec := make(forge.Record, len(cols))
	for i, c := range cols {
		v := valueOf(row, from+i).forge()
		rec[i] = forge.Field{Column: c, Value: v}
		r.bytes += size(v) + len(c)
	}
	return rec
}

// size is a value's rough weight in the answer.
func size(v forge.Value) int {
	return 8 + len(v.Str) + len(v.Bytes)*4/3
}
