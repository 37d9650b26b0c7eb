package tables

import (
	"context"
	"slices"
	"strings"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/sqlbuild"
)

// Writing rows: PATCH (UPDATE … SET … WHERE filters), DELETE (DELETE …
// WHERE filters) and the insert's upsert and return. Each is one
// statement in one write unit: atomic.

// UpdateRows sets the columns of set on the rows of table that the
// filters of params select; it returns the rows changed.
func (s *Service) UpdateRows(ctx context.Context, db, table string, params []forge.QueryParam, set forge.Record) (int64, error) {
	q, err := parseWrite(table, params)
	if err != nil {
		return 0, err
	}
	if len(set) == 0 {
		return 0, forge.Inputf(CodeInvalidValue, "Field \"set\" needs at least one column.")
	}
	var n int64
	err = s.e.Write(ctx, db, func(tx forge.Tx) error {
		var err error
		n, err = Update(ctx, tx, table, q, set)
		return err
	})
	return n, err
}

// DeleteRows deletes the rows of table that the filters of params
// select; it returns the rows deleted.
func (s *Service) DeleteRows(ctx context.Context, db, table string, params []forge.QueryParam) (int64, error) {
	q, err := parseWrite(table, params)
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.e.Write(ctx, db, func(tx forge.Tx) error {
		var err error
		n, err = Delete(ctx, tx, table, q)
		return err
	})
	return n, err
}

func parseWrite(table string, params []forge.QueryParam) (*RowsQuery, error) {
	if err := sqlbuild.ValidateExistingIdentifier("table", table); err != nil {
		return nil, err
	}
	q, err := ParseQuery(params)
	if err != nil {
		return nil, err
	}
	if err := q.onlyFilters(); err != nil {
		return nil, err
	}
	if len(q.Where) == 0 && !q.All {
		return nil, forge.Inputf(CodeFilterRequired, "Give at least one filter, or _all=1 to change every row of the table.")
	}
	if len(q.Where) > 0 && q.All {
		return nil, invalid("_all=1 changes every row: leave out the filters, or _all.")
	}
	return q, nil
}

// Update runs PATCH's UPDATE on tx (a write unit's).
func Update(ctx context.Context, tx forge.Tx, table string, q *RowsQuery, set forge.Record) (int64, error) {
	t, err := lookUp(ctx, tx, table)
	if err != nil {
		return 0, err
	}
	var b strings.Builder
	b.WriteString("UPDATE ")
	b.WriteString(sqlbuild.Quote(t.name))
	b.WriteString(" SET ")
	args := make([]forge.Value, 0, len(set)+len(q.Where))
	var cols []string
	for i, f := range set {
		real, err := t.column(f.Column)
		if err != nil {
			return 0, err
		}
		if slices.Contains(cols, real) {
			return 0, forge.Inputf(CodeDuplicateColumn, "Column '%s' appears twice in \"set\".", real)
		}
		cols = append(cols, real)
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(sqlbuild.Quote(real))
		b.WriteString(" = ?")
		args = append(args, f.Value)
	}
	where, wargs, err := t.where(q.Where)
	if err != nil {
		return 0, err
	}
	if where != "" {
		b.WriteString(" WHERE ")
		b.WriteString(where)
	}
	res, err := tx.Run(ctx, forge.Statement{SQL: b.String(), Params: forge.Params{Positional: append(args, wargs...)}}, nil)
	return res.RowsAffected, err
}

// Delete runs DELETE's statement on tx (a write unit's).
func Delete(ctx context.Context, tx forge.Tx, table string, q *RowsQuery) (int64, error) {
	t, err := lookUp(ctx, tx, table)
	if err != nil {
		return 0, err
	}
	where, args, err := t.where(q.Where)
	if err != nil {
		return 0, err
	}
	sql := "DELETE FROM " + sqlbuild.Quote(t.name)
	if where != "" {
		sql += " WHERE " + where
	}
	res, err := tx.Run(ctx, forge.Statement{SQL: sql, Params: forge.Params{Positional: args}}, nil)
	return res.RowsAffected, err
}

// InsertRowsWith is InsertRows with the insert options: an upsert, and
// the stored rows streamed to w (one Columns call, then every row) when
// opt.Return.
func (s *Service) InsertRowsWith(ctx context.Context, db, table string, records []forge.Record, opt forge.InsertOptions, w forge.RowWriter) (int64, error) {
	if err := sqlbuild.ValidateExistingIdentifier("table", table); err != nil {
		return 0, err
	}
	var n int64
	err := s.e.Write(ctx, db, func(tx forge.Tx) error {
		var err error
		n, err = InsertWith(ctx, tx, table, records, opt, w)
		return err
	})
	return n, err
}

// InsertRowsWithTx is InsertRowsWith on a write unit the caller holds.
func (s *Service) InsertRowsWithTx(ctx context.Context, tx forge.Tx, table string, records []forge.Record, opt forge.InsertOptions, w forge.RowWriter) (int64, error) {
	if err := sqlbuild.ValidateExistingIdentifier("table", table); err != nil {
		return 0, err
	}
	return InsertWith(ctx, tx, table, records, opt, w)
}

// InsertWith runs the rows route's INSERTs with opt on tx (a write
// unit's); without options it is Insert.
func InsertWith(ctx context.Context, tx forge.Tx, table string, records []forge.Record, opt forge.InsertOptions, w forge.RowWriter) (int64, error) {
	if !opt.Upsert && !opt.Return && len(opt.OnConflict) == 0 {
		return Insert(ctx, tx, table, records)
	}
	if len(opt.OnConflict) > 0 && !opt.Upsert {
		return 0, invalid("Field \"on_conflict\" goes with \"upsert\": true.")
	}
	t, err := lookUp(ctx, tx, table)
	if err != nil {
		return 0, err
	}
	var target []string
	if opt.Upsert {
		for _, c := range opt.OnConflict {
			real, err := t.column(c)
			if err != nil {
				return 0, err
			}
			if slices.Contains(target, real) {
				return 0, forge.Inputf(CodeDuplicateColumn, "Column '%s' appears twice in \"on_conflict\".", real)
			}
			target = append(target, real)
		}
		if len(target) == 0 {
			target = t.pk
		}
		if len(target) == 0 {
			return 0, invalid("Table '%s' has no declared primary key: name the unique columns of an upsert in \"on_conflict\".", t.name)
		}
	}
	var out *returnWriter
	if opt.Return {
		out = &returnWriter{w: w}
	}
	var total int64
	for i, r := range records {
		cols := make([]string, len(r))
		vals := make([]forge.Value, len(r))
		for j, f := range r {
			real, err := t.column(f.Column)
			if err != nil {
				return 0, err
			}
			if slices.Contains(cols[:j], real) {
				return 0, forge.Inputf(CodeDuplicateColumn, "Column '%s' appears twice in row %d.", real, i)
			}
			cols[j], vals[j] = real, f.Value
		}
		sql := sqlbuild.Insert(t.name, cols)
		if opt.Upsert {
			sql += upsertSQL(target, cols)
		}
		if opt.Return {
			sql += " RETURNING *"
		}
		var rw forge.RowWriter
		if out != nil {
			rw = out
		}
		res, err := tx.Run(ctx, forge.Statement{SQL: sql, Params: forge.Params{Positional: vals}}, rw)
		if err != nil {
			return 0, err
		}
		// Changed rows, or with RETURNING the rows returned: one per
		// row inserted or updated either way (DO NOTHING: none).
		total += res.RowsAffected
	}
	return total, nil
}

// upsertSQL is the ON CONFLICT clause: the row's columns but the
// target's are updated from the row; a row of target columns only does
// nothing.
func upsertSQL(target, cols []string) string {
	var b strings.Builder
	b.WriteString(" ON CONFLICT (")
	for i, c := range target {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(sqlbuild.Quote(c))
	}
	b.WriteString(") DO ")
	n := 0
	for _, c := range cols {
		if slices.Contains(target, c) {
			continue
		}
		if n == 0 {
			b.WriteString("UPDATE SET ")
		} else {
			b.WriteString(", ")
		}
		n++
		b.WriteString(sqlbuild.Quote(c))
		b.WriteString(" = excluded.")
		b.WriteString(sqlbuild.Quote(c))
	}
	if n == 0 {
		b.WriteString("NOTHING")
	}
	return b.String()
}

// returnWriter passes the rows of every INSERT … RETURNING to w as one
// result: the columns once.
type returnWriter struct {
	w       forge.RowWriter
	started bool
}

func (r *returnWriter) Columns(names []string) error {
	if r.started {
		return nil
	}
	r.started = true
	return r.w.Columns(names)
}

func (r *returnWriter) Row(row forge.Row) error { return r.w.Row(row) }
