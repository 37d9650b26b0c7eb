package tables

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/sqlbuild"
)

// Reading rows with filters, sort, column selection and pages.
//
// Pages are keyset pages: the ORDER BY is the sort keys, then a
// tiebreaker that makes it total (the rowid, or a WITHOUT ROWID table's
// primary key), and the next page starts strictly after the last row's
// keys. Inserts between two pages therefore neither repeat nor skip a
// row that was already there, and each page costs what its own rows cost
// (an index on the filter or sort column serves the WHERE and the ORDER
// BY together): paging through a whole table is O(rows), in any mix of
// directions and with NULLs (afterSQL, arms). A view has no key: its
// pages are offsets.

// ParseQuery decodes a rows route's query string (but the gateway's
// result options, which it keeps).
func ParseQuery(params []forge.QueryParam) (*RowsQuery, error) {
	q := &RowsQuery{}
	for _, p := range params {
		if err := q.Add(p.Key, p.Value); err != nil {
			return nil, err
		}
	}
	return q, nil
}

// ReadRows streams the rows of table that q selects to w, in one read
// unit with the count _count asks for.
func (s *Service) ReadRows(ctx context.Context, db, table string, params []forge.QueryParam, w forge.RowWriter) (forge.Result, forge.Page, error) {
	if err := sqlbuild.ValidateExistingIdentifier("table", table); err != nil {
		return forge.Result{}, forge.Page{}, err
	}
	q, err := ParseQuery(params)
	if err != nil {
		return forge.Result{}, forge.Page{}, err
	}
	var res forge.Result
	var page forge.Page
	err = s.e.Read(ctx, db, func(tx forge.Tx) error {
		t, err := s.known.lookUp(ctx, tx, db, table)
		if err != nil {
			return err
		}
		res, page, err = read(ctx, tx, t, q, w)
		return err
	})
	return res, page, err
}

// Read runs q on tx: the rows of table (its name validated by the
// caller) streamed to w.
func Read(ctx context.Context, tx forge.Tx, table string, q *RowsQuery, w forge.RowWriter) (forge.Result, forge.Page, error) {
	t, err := lookUp(ctx, tx, table)
	if err != nil {
		return forge.Result{}, forge.Page{}, err
	}
	return read(ctx, tx, t, q, w)
}

func read(ctx context.Context, tx forge.Tx, t *tableInfo, q *RowsQuery, w forge.RowWriter) (forge.Result, forge.Page, error) {
	p, err := plan(t, q)
	if err != nil {
		return forge.Result{}, forge.Page{}, err
	}
	var page forge.Page
	if q.Count {
		var c countWriter
		if _, err := tx.Run(ctx, forge.Statement{SQL: p.countSQL, Params: forge.Params{Positional: p.whereArgs}}, &c); err != nil {
			return forge.Result{}, page, err
		}
		page.Counted, page.Count = true, c.n
	}
	pw := &pageWriter{w: w, hidden: len(p.keys), size: p.size, paged: p.paged}
	if p.paged {
		page.Paged = true
		if ps, ok := w.(forge.PageSizer); ok {
			ps.PageSize(p.size)
		}
	}
	res, err := tx.Run(ctx, forge.Statement{SQL: p.sql, Params: forge.Params{Positional: p.args}}, pw)
	if err != nil {
		return res, page, err
	}
	if p.paged && pw.more {
		page.More = true
		switch {
		case pw.n == 0:
			page.Next = q.Next // cut before its first row: start again there
		case p.keyset:
			page.Next = encodeToken(pageToken{kind: tokenKeyset, sig: p.sig, keys: pw.last})
		default:
			page.Next = encodeToken(pageToken{kind: tokenOffset, sig: p.sig, offset: p.offset + pw.n})
		}
	}
	return res, page, nil
}

// readPlan is the SQL of a read.
type readPlan struct {
	sql       string
	args      []forge.Value
	countSQL  string
	whereArgs []forge.Value
	keys      []string // hidden key expressions after the answered columns (keyset pages)
	keyset    bool
	sig       uint32
	paged     bool
	size      int
	offset    int
}

// key is one key of the ORDER BY: an SQL expression and its direction;
// notNull when no row the query reads has NULL there (the column is
// declared NOT NULL, a filter rejects NULL on it, or it is the rowid or a
// WITHOUT ROWID table's primary key).
type key struct {
	expr    string
	desc    bool
	notNull bool
}

func plan(t *tableInfo, q *RowsQuery) (*readPlan, error) {
	p := &readPlan{}
	size, hasSize, offset := q.Size, q.HasSize, q.Offset
	var where []Condition
	for _, c := range q.Where {
		// limit and offset, as the prototype's dashboard sends them:
		// _size and _offset, unless the table has such a column.
		if alias := c.Param; (alias == "limit" || alias == "offset") && c.Op == OpExact {
			if _, err := t.column(alias); err != nil {
				n, perr := strconv.ParseInt(c.Value.Str, 10, 64)
				if perr != nil || n < 0 || n > MaxPageSize {
					return nil, invalid("Query parameter %q must be a whole number of rows from 0 to %d.", alias, MaxPageSize)
				}
				if alias == "limit" {
					if hasSize {
						return nil, invalid("Query parameter \"limit\" repeats _size.")
					}
					size, hasSize = int(n), true
				} else {
					if offset > 0 || q.Next != "" {
						return nil, invalid("Query parameter \"offset\" repeats _offset or _next.")
					}
					offset = int(n)
				}
				continue
			}
		}
		where = append(where, c)
	}
	var b strings.Builder
	whereSQL, whereArgs, err := t.where(where)
	if err != nil {
		return nil, err
	}
	p.whereArgs = whereArgs

	// The answered columns.
	cols, err := t.selection(q)
	if err != nil {
		return nil, err
	}

	// The order: the sort keys, then the tiebreaker.
	var keys []key
	for _, s := range q.Sort {
		real, err := t.readable(s.Column)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if k.expr == sqlbuild.Quote(real) {
				return nil, invalid("Column %q is sorted on twice.", real)
			}
		}
		nn := slices.Contains(t.notNull, real) || slices.Contains(t.pk, real) && t.withoutRowid
		for _, c := range where {
			if c.Op != OpIsNull && strings.EqualFold(c.Column, real) {
				nn = true // every other comparison is false on NULL
			}
		}
		keys = append(keys, key{expr: sqlbuild.Quote(real), desc: s.Desc, notNull: nn})
	}
	tie := t.tiebreaker()
	p.keyset = tie != nil
	dir := len(keys) > 0 && keys[len(keys)-1].desc
	for _, e := range tie {
		keys = append(keys, key{expr: e, desc: dir, notNull: true})
	}
	orderBy := orderSQL(keys)
	p.sig = signature(orderBy)

	var after []forge.Value
	if q.Next != "" {
		if offset > 0 {
			return nil, invalid("Use _next or _offset, not both.")
		}
		tok, err := decodeToken(q.Next)
		if err != nil {
			return nil, err
		}
		if tok.sig != p.sig {
			return nil, errToken("it was made for another sort order or table")
		}
		switch {
		case tok.kind == tokenOffset && !p.keyset:
			offset = tok.offset
		case tok.kind == tokenKeyset && p.keyset && len(tok.keys) == len(keys):
			after = tok.keys
		default:
			return nil, errToken("it does not fit this table's keys")
		}
	}
	p.paged, p.size, p.offset = hasSize, size, offset

	b.WriteString("SELECT ")
	b.WriteString(cols)
	if p.paged && p.keyset {
		for _, k := range keys {
			b.WriteString(", ")
			b.WriteString(k.expr)
			p.keys = append(p.keys, k.expr)
		}
	}
	b.WriteString(" FROM ")
	b.WriteString(sqlbuild.Quote(t.name))
	p.countSQL = "SELECT count(*) FROM " + sqlbuild.Quote(t.name)
	if whereSQL != "" {
		p.countSQL += " WHERE " + whereSQL
	}
	if after != nil && !simpleAfter(keys, after) {
		limit := ""
		if p.paged {
			limit = " LIMIT " + strconv.Itoa(size+1)
		}
		p.sql, p.args = arms(b.String(), whereSQL, whereArgs, keys, after, orderBy, limit)
		return p, nil
	}
	args := append([]forge.Value(nil), whereArgs...)
	conds := whereSQL
	if after != nil {
		a, aargs := afterSQL(keys, after)
		if conds != "" {
			conds = "(" + conds + ") AND " + a
		} else {
			conds = a
		}
		args = append(args, aargs...)
	}
	if conds != "" {
		b.WriteString(" WHERE ")
		b.WriteString(conds)
	}
	if orderBy != "" {
		b.WriteString(" ORDER BY ")
		b.WriteString(orderBy)
	}
	// The LIMIT is written as a literal (an integer the gateway made, not
	// client text): SQLite plans a bound LIMIT as unknown, and a page of
	// 50 rows on an index then took three times as long (measured).
	if p.paged || offset > 0 {
		b.WriteString(" LIMIT ")
		if p.paged {
			b.WriteString(strconv.Itoa(size + 1)) // one more: do more follow?
		} else {
			b.WriteString("-1")
		}
		if offset > 0 {
			b.WriteString(" OFFSET ?")
			args = append(args, forge.IntValue(int64(offset)))
		}
	}
	p.sql, p.args = b.String(), args
	return p, nil
}

func orderSQL(keys []key) string {
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k.expr)
		if k.desc {
			b.WriteString(" DESC")
		}
	}
	return b.String()
}

// simpleAfter tells whether "strictly after vals" is one row value
// comparison: every key in one direction, no NULL value, and, descending,
// no NULL in the rows either (NULL sorts first ascending and last
// descending, as SQLite sorts it, and a row value comparison with NULL is
// never true). SQLite serves it from an index, so that each page costs
// its own rows.
func simpleAfter(keys []key, vals []forge.Value) bool {
	for i, k := range keys {
		if k.desc != keys[0].desc || vals[i].Kind == forge.Null || k.desc && !k.notNull {
			return false
		}
	}
	return true
}

// afterSQL is the condition "strictly after the row whose keys are vals"
// when simpleAfter holds: (k1, k2, …) > (v1, v2, …), or < descending.
func afterSQL(keys []key, vals []forge.Value) (string, []forge.Value) {
	op := " > "
	if keys[0].desc {
		op = " < "
	}
	var b strings.Builder
	if len(keys) == 1 {
		b.WriteString(keys[0].expr)
		b.WriteString(op + "?")
		return b.String(), []forge.Value{vals[0]}
	}
	b.WriteByte('(')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k.expr)
	}
	b.WriteString(")" + op + "(")
	for i := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('?')
	}
	b.WriteByte(')')
	return b.String(), append([]forge.Value(nil), vals...)
}

// arms is the page after vals when simpleAfter does not hold (mixed
// directions, NULLs): the rows after the cursor, in sort order, are the
// union of disjoint ranges, each an index range given an index on the
// keys: first the rows equal on k1…k(n-1) and after on kn, then equal
// on k1…k(n-2) and after on k(n-1), …, last the rows after on k1; where
// "after" on a descending key that may be NULL is two ranges, k < v and
// then k IS NULL. Each range is a SELECT with the page's ORDER BY and
// LIMIT, and the ranges are read one after the other (UNION ALL, which
// SQLite runs arm by arm) until the page is full: each page costs its
// own rows, whatever the directions and NULLs.
func arms(head, whereSQL string, whereArgs []forge.Value, keys []key, vals []forge.Value, orderBy, limit string) (string, []forge.Value) {
	var out []string
	var args []forge.Value
	arm := func(prefix []int, cond string, v *forge.Value) {
		var b strings.Builder
		b.WriteString("SELECT * FROM (")
		b.WriteString(head)
		b.WriteString(" WHERE ")
		if whereSQL != "" {
			b.WriteString("(" + whereSQL + ") AND ")
			args = append(args, whereArgs...)
		}
		for _, j := range prefix {
			b.WriteString(keys[j].expr + " IS ? AND ")
			args = append(args, vals[j])
		}
		b.WriteString(cond)
		if v != nil {
			args = append(args, *v)
		}
		b.WriteString(" ORDER BY " + orderBy + limit + ")")
		out = append(out, b.String())
	}
	for i := len(keys) - 1; i >= 0; i-- {
		prefix := make([]int, i)
		for j := range prefix {
			prefix[j] = j
		}
		k, v := keys[i], vals[i]
		switch {
		case !k.desc && v.Kind == forge.Null:
			arm(prefix, k.expr+" IS NOT NULL", nil)
		case !k.desc:
			arm(prefix, k.expr+" > ?", &v)
		case v.Kind == forge.Null:
			// Descending, NULL is last: nothing after it on this key.
		default:
			arm(prefix, k.expr+" < ?", &v)
			if !k.notNull {
				arm(prefix, k.expr+" IS NULL", nil)
			}
		}
	}
	if len(out) == 0 {
		return head + " WHERE 0", nil
	}
	return strings.Join(out, " UNION ALL ") + limit, args
}

// where renders the filters ANDed, each column checked against the table.
func (t *tableInfo) where(conds []Condition) (string, []forge.Value, error) {
	var b strings.Builder
	var args []forge.Value
	type seen struct {
		col string
		op  Op
	}
	var done []seen
	for i, c := range conds {
		real, err := t.readable(c.Column)
		if err != nil {
			if strings.HasPrefix(c.Param, "_") {
				return "", nil, forge.Inputf(CodeUnknownParameter,
					"Unknown parameter '%s': not an option of the rows routes nor a column of table '%s'.", c.Param, t.name)
			}
			return "", nil, err
		}
		for _, d := range done {
			if d.col == real && d.op == c.Op {
				return "", nil, forge.Inputf(CodeDuplicateColumn, "Column '%s' is filtered more than once.", real)
			}
		}
		done = append(done, seen{real, c.Op})
		if i > 0 {
			b.WriteString(" AND ")
		}
		col := sqlbuild.Quote(real)
		b.WriteString(col)
		switch c.Op {
		case OpExact:
			b.WriteString(" = ?")
		case OpNot:
			b.WriteString(" != ?")
		case OpGt:
			b.WriteString(" > ?")
		case OpGte:
			b.WriteString(" >= ?")
		case OpLt:
			b.WriteString(" < ?")
		case OpLte:
			b.WriteString(" <= ?")
		case OpContains, OpStartsWith, OpEndsWith:
			b.WriteString(` LIKE ? ESCAPE '\'`)
			v := likeEscape(c.Value.Str)
			switch c.Op {
			case OpContains:
				v = "%" + v + "%"
			case OpStartsWith:
				v += "%"
			case OpEndsWith:
				v = "%" + v
			}
			args = append(args, forge.TextValue(v))
			continue
		case OpLike:
			b.WriteString(" LIKE ?")
		case OpGlob:
			b.WriteString(" GLOB ?")
		case OpIn:
			b.WriteString(" IN (")
			for j, v := range c.Values {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteByte('?')
				args = append(args, v)
			}
			b.WriteByte(')')
			continue
		case OpIsNull:
			b.WriteString(" IS NULL")
			continue
		case OpNotNull:
			b.WriteString(" IS NOT NULL")
			continue
		default:
			return "", nil, invalid("Unknown comparison %q.", c.Op)
		}
		args = append(args, c.Value)
	}
	return b.String(), args, nil
}

// selection renders the answered columns: "*", or _col's list, or every
// column but _nocol's.
func (t *tableInfo) selection(q *RowsQuery) (string, error) {
	if len(q.Columns) == 0 && len(q.Omit) == 0 {
		return "*", nil
	}
	var picked []string
	if len(q.Columns) > 0 {
		for _, c := range q.Columns {
			real, err := t.readable(c)
			if err != nil {
				return "", err
			}
			for _, p := range picked {
				if p == real {
					return "", invalid("Column %q is asked for twice (_col).", real)
				}
			}
			picked = append(picked, real)
		}
	} else {
		picked = append(picked, t.visible...)
	}
	for _, o := range q.Omit {
		real, err := t.readable(o)
		if err != nil {
			return "", err
		}
		for i, p := range picked {
			if p == real {
				picked = append(picked[:i], picked[i+1:]...)
				break
			}
		}
	}
	if len(picked) == 0 {
		return "", invalid("_col and _nocol leave no column to answer.")
	}
	var b strings.Builder
	for i, c := range picked {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(sqlbuild.Quote(c))
	}
	return b.String(), nil
}

// tiebreaker is what makes the order total: the rowid (under a name no
// column shadows), or a WITHOUT ROWID table's primary key. Nil for a view
// (and a table whose every rowid name is a column): its pages are
// offsets.
func (t *tableInfo) tiebreaker() []string {
	if t.kind != "table" {
		return nil
	}
	if !t.withoutRowid {
		if a := sqlbuild.RowidAlias(t.columns); a != "" {
			return []string{a}
		}
		return nil
	}
	out := make([]string, len(t.pk))
	for i, c := range t.pk {
		out[i] = sqlbuild.Quote(c)
	}
	return out
}

// pageWriter passes the answered columns of each row on to w, keeps the
// keys of the last row w took, and stops after a page.
type pageWriter struct {
	w      forge.RowWriter
	hidden int // key columns after the answered ones
	ncols  int
	size   int
	paged  bool
	n      int // rows w took
	more   bool
	last   []forge.Value
}

func (p *pageWriter) Columns(names []string) error {
	p.ncols = len(names)
	return p.w.Columns(names[:len(names)-p.hidden])
}

func (p *pageWriter) Row(r forge.Row) error {
	if p.paged && p.n >= p.size {
		p.more = true
		return forge.ErrStop
	}
	if err := p.w.Row(r); err != nil {
		if errors.Is(err, forge.ErrStop) {
			p.more = true
		}
		return err
	}
	p.n++
	if p.paged && p.hidden > 0 {
		p.last = p.last[:0]
		for i := p.ncols - p.hidden; i < p.ncols; i++ {
			p.last = append(p.last, rowValue(r, i))
		}
	}
	return nil
}

// rowValue copies column i of r.
func rowValue(r forge.Row, i int) forge.Value {
	switch r.Kind(i) {
	case forge.Integer:
		return forge.IntValue(r.Int(i))
	case forge.Float:
		return forge.FloatValue(r.Float(i))
	case forge.Text:
		return forge.TextValue(string(r.Text(i)))
	case forge.Blob:
		return forge.BlobValue(append([]byte{}, r.Blob(i)...))
	}
	return forge.NullValue()
}

// countWriter keeps the one integer of a count.
type countWriter struct{ n int64 }

func (c *countWriter) Columns([]string) error { return nil }
func (c *countWriter) Row(r forge.Row) error  { c.n = r.Int(0); return nil }
