// Package tables is the logic of the tables and rows routes (create a
// table, read rows with filters, sort and keyset pages, insert, upsert,
// update and delete rows, describe and drop tables) over the engine's
// units of work: it builds their SQL with sqlbuild, runs it on a forge.Tx
// and owns their input error codes. It knows the engine only through the
// Engine interface it declares, so it imports forge and sqlbuild alone.
//
// The functions on a Tx (Create, Select, Insert) compose: a batch or a
// transaction of a later API runs them beside other statements in one
// unit. Service wraps each in a unit of its own, with the method set the
// gateway's port asks for.
package tables

import (
	"context"
	"slices"
	"strings"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/sqlbuild"
)

// Input error codes of the rows routes.
const (
	CodeUnknownColumn   = "UNKNOWN_COLUMN"
	CodeDuplicateColumn = "DUPLICATE_COLUMN"
)

// Engine runs units of work on databases by name (package wasm's Engine).
type Engine interface {
	// Read runs fn on a snapshot of db; fn's statements may only read.
	Read(ctx context.Context, db string, fn func(forge.Tx) error) error
	// Write runs fn in one transaction on db's writer, committed if fn
	// returns nil and rolled back otherwise.
	Write(ctx context.Context, db string, fn func(forge.Tx) error) error
}

// Service runs the tables and rows routes, each in a unit of work of its
// own.
type Service struct {
	e     Engine
	known knownTables
}

// New returns the routes' logic over e.
func New(e Engine) *Service { return &Service{e: e} }

// CreateTable creates a table from spec if none of that name exists. A
// spec that is invalid is refused before the database is opened.
func (s *Service) CreateTable(ctx context.Context, db string, spec forge.TableSpec) error {
	if _, err := sqlbuild.CreateTable(spec, 0); err != nil {
		return err
	}
	return s.e.Write(ctx, db, func(tx forge.Tx) error { return Create(ctx, tx, spec) })
}

// SelectRows streams the rows of table matching every filter (equality,
// ANDed), in rowid order for ordinary tables.
func (s *Service) SelectRows(ctx context.Context, db, table string, filters []forge.Filter, w forge.RowWriter) (forge.Result, error) {
	if err := sqlbuild.ValidateExistingIdentifier("table", table); err != nil {
		return forge.Result{}, err
	}
	var res forge.Result
	err := s.e.Read(ctx, db, func(tx forge.Tx) error {
		var err error
		res, err = Select(ctx, tx, table, filters, w)
		return err
	})
	return res, err
}

// InsertRows inserts records into table in one transaction: every row or
// none. A record's missing columns take their defaults.
func (s *Service) InsertRows(ctx context.Context, db, table string, records []forge.Record) (int64, error) {
	if err := sqlbuild.ValidateExistingIdentifier("table", table); err != nil {
		return 0, err
	}
	var n int64
	err := s.e.Write(ctx, db, func(tx forge.Tx) error {
		var err error
		n, err = Insert(ctx, tx, table, records)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// CreateTableTx is CreateTable on a write unit the caller holds (an
// idempotent request records its answer in the same transaction).
func (s *Service) CreateTableTx(ctx context.Context, tx forge.Tx, spec forge.TableSpec) error {
	return Create(ctx, tx, spec)
}

// InsertRowsTx is InsertRows on a write unit the caller holds. On an
// error the caller must roll the unit back: rows before the failing one
// may have been written.
func (s *Service) InsertRowsTx(ctx context.Context, tx forge.Tx, table string, records []forge.Record) (int64, error) {
	if err := sqlbuild.ValidateExistingIdentifier("table", table); err != nil {
		return 0, err
	}
	return Insert(ctx, tx, table, records)
}

// Create runs the tables route's CREATE TABLE IF NOT EXISTS for spec on
// tx, which must be a write unit's.
func Create(ctx context.Context, tx forge.Tx, spec forge.TableSpec) error {
	sql, err := sqlbuild.CreateTable(spec, 0)
	if err != nil {
		return err
	}
	_, err = tx.Run(ctx, forge.Statement{SQL: sql}, nil)
	return err
}

// Select runs the rows route's SELECT on tx: the rows of table (its name
// validated by the caller) matching every filter, streamed to w.
func Select(ctx context.Context, tx forge.Tx, table string, filters []forge.Filter, w forge.RowWriter) (forge.Result, error) {
	t, err := lookUp(ctx, tx, table)
	if err != nil {
		return forge.Result{}, err
	}
	cols := make([]string, len(filters))
	params := forge.Params{Positional: make([]forge.Value, len(filters))}
	for i, f := range filters {
		real, err := t.column(f.Column)
		if err != nil {
			return forge.Result{}, err
		}
		for _, prev := range cols[:i] {
			if prev == real {
				return forge.Result{}, forge.Inputf(CodeDuplicateColumn, "Column '%s' is filtered more than once.", real)
			}
		}
		cols[i] = real
		params.Positional[i] = f.Value
	}
	order := ""
	if t.kind == "table" && !t.withoutRowid {
		order = sqlbuild.RowidAlias(t.columns)
	}
	return tx.Run(ctx, forge.Statement{SQL: sqlbuild.Select(t.name, cols, order), Params: params}, w)
}

// Insert runs the rows route's INSERTs on tx, which must be a write
// unit's: every record is checked before any is written. It returns the
// rows inserted.
func Insert(ctx context.Context, tx forge.Tx, table string, records []forge.Record) (int64, error) {
	t, err := lookUp(ctx, tx, table)
	if err != nil {
		return 0, err
	}
	cols := make([][]string, len(records))
	for i, r := range records {
		cols[i] = make([]string, len(r))
		for j, f := range r {
			real, err := t.column(f.Column)
			if err != nil {
				return 0, err
			}
			for _, prev := range cols[i][:j] {
				if prev == real {
					return 0, forge.Inputf(CodeDuplicateColumn, "Column '%s' appears twice in row %d.", real, i)
				}
			}
			cols[i][j] = real
		}
	}
	var total int64
	q := forge.Statement{}
	for i, r := range records {
		// Rows usually share their columns: build the INSERT only when
		// the column list changes (the engine caches its preparation).
		if i == 0 || !slices.Equal(cols[i], cols[i-1]) {
			q.SQL = sqlbuild.Insert(t.name, cols[i])
		}
		q.Params.Positional = q.Params.Positional[:0]
		for _, f := range r {
			q.Params.Positional = append(q.Params.Positional, f.Value)
		}
		res, err := tx.Run(ctx, q, nil)
		if err != nil {
			return 0, err
		}
		total += res.RowsAffected
	}
	return total, nil
}

// tableInfo describes a table (or view) for the rows routes.
type tableInfo struct {
	name         string // as declared, whatever case the client used
	kind         string // "table", "view", "virtual", "shadow"
	withoutRowid bool
	columns      []string // the ordinary columns (PRAGMA table_info): an insert's
	visible      []string // every column a SELECT * answers (generated ones too)
	pk           []string // the primary key's columns, in key order
	notNull      []string // columns declared NOT NULL
}

// column maps a client's column name to the table's, ignoring case as
// SQLite does; unknown names are an input error.
func (t *tableInfo) column(name string) (string, error) {
	for _, c := range t.columns {
		if strings.EqualFold(c, name) {
			return c, nil
		}
	}
	return "", forge.Inputf(CodeUnknownColumn, "Unknown column '%s' in table '%s'.", name, t.name)
}

// readable is column for a column that may be read or filtered: the
// generated columns too.
func (t *tableInfo) readable(name string) (string, error) {
	for _, c := range t.visible {
		if strings.EqualFold(c, name) {
			return c, nil
		}
	}
	return "", forge.Inputf(CodeUnknownColumn, "Unknown column '%s' in table '%s'.", name, t.name)
}

// lookUp reads table's declared name, kind and columns; forge.ErrTableNotFound
// when the database has no such table or view, or the name is one of the
// engine's bookkeeping tables (forge.ReservedPrefix).
func lookUp(ctx context.Context, tx forge.Tx, table string) (*tableInfo, error) {
	if forge.IsReserved(table) {
		return nil, forge.ErrTableNotFound
	}
	var list tableList
	name := forge.Params{Positional: []forge.Value{forge.TextValue(table)}}
	if _, err := tx.Run(ctx, forge.Statement{SQL: sqlbuild.TableInfoSQL, Params: name}, &list); err != nil {
		return nil, err
	}
	if !list.found {
		return nil, forge.ErrTableNotFound
	}
	t := &list.info
	var cols columnList
	name.Positional[0] = forge.TextValue(t.name)
	if _, err := tx.Run(ctx, forge.Statement{SQL: columnsXSQL, Params: name}, &cols); err != nil {
		return nil, err
	}
	t.columns, t.visible, t.notNull = cols.names, cols.visible, cols.notNull
	t.pk = make([]string, cols.npk)
	for i, n := range cols.pkPos {
		if n > 0 && n <= len(t.pk) {
			t.pk[n-1] = cols.visible[i]
		}
	}
	return t, nil
}

// columnsXSQL lists a table's columns with their place in the primary
// key and whether they are hidden (1: a virtual table's hidden column; 2,
// 3: generated). Bind ?1.
const columnsXSQL = `SELECT name, pk, hidden, "notnull" FROM pragma_table_xinfo(?1) WHERE hidden != 1`

// tableList keeps the first row of sqlbuild.TableInfoSQL.
type tableList struct {
	info  tableInfo
	found bool
}

func (l *tableList) Columns([]string) error { return nil }

func (l *tableList) Row(r forge.Row) error {
	if !l.found {
		l.found = true
		l.info = tableInfo{name: string(r.Text(0)), kind: string(r.Text(1)), withoutRowid: r.Int(2) != 0}
	}
	return nil
}

// columnList keeps the columns columnsXSQL lists.
type columnList struct {
	names   []string // not generated
	visible []string
	pkPos   []int // per visible column
	npk     int
	notNull []string
}

func (l *columnList) Columns([]string) error { return nil }

func (l *columnList) Row(r forge.Row) error {
	name := string(r.Text(0))
	l.visible = append(l.visible, name)
	pk := int(r.Int(1))
	l.pkPos = append(l.pkPos, pk)
	if pk > 0 {
		l.npk++
	}
	if r.Int(2) == 0 {
		l.names = append(l.names, name)
	}
	if r.Int(3) != 0 {
		l.notNull = append(l.notNull, name)
	}
	return nil
}
