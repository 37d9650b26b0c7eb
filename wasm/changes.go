package wasm

import (
	"context"
	"strings"

	"github.com/ncruces/go-sqlite3"

	"github.com/praetorian/db-forge/forge"
)

// The rows a dry run changed (forge.ChangeTracker on a write unit's tx).
//
// SQLite's update hook names each row of a rowid table that a statement
// inserts, updates or deletes (triggers' and foreign key actions' rows
// included), after the change. The tracker writes down which rows, each
// once; Changes then reads each row as it is inside the unit ("after"),
// rolls the unit's transaction back, and reads each again as the database
// last committed it ("before"): the writer is held for the unit, so
// nothing else committed in between. A row changed several times is
// listed once, with its net change.
//
// What the hook does not see: rows of WITHOUT ROWID and virtual tables,
// a DELETE without WHERE that SQLite runs as a truncation, and SQLite's
// own tables (the schema, sqlite_sequence). A statement that changed more
// rows (sqlite3_total_changes) than the hook named marks the list
// incomplete. A row that REPLACE deletes because it conflicts with the
// new row on a UNIQUE constraint other than the rowid is neither counted
// nor named: it is missing, and the list does not know it.

// tracker is what a tracked unit recorded.
type tracker struct {
	max       int
	keys      map[rowKey]struct{}
	rows      []rowKey // first change first
	events    int64    // the hook's calls, rows beyond max included
	truncated bool
	// incomplete: a statement changed rows the hook did not name.
	incomplete bool
}

type rowKey struct {
	schema, table string
	rowid         int64
}

func (tr *tracker) note(_ sqlite3.AuthorizerActionCode, schema, table string, rowid int64) {
	tr.events++
	k := rowKey{schema, table, rowid}
	if _, ok := tr.keys[k]; ok {
		return
	}
	if len(tr.rows) >= tr.max {
		tr.truncated = true
		return
	}
	tr.keys[k] = struct{}{}
	tr.rows = append(tr.rows, k)
}

var _ forge.ChangeTracker = (*tx)(nil)

// TrackChanges starts recording the rows the unit's statements change
// (forge.ChangeTracker). Only a write unit of its own tracks: a shared
// one (WriteShared) cannot roll back its group's transaction to list them.
func (t *tx) TrackChanges(max int) {
	c := t.c
	if c == nil || !t.write || t.shared || t.track != nil {
		return
	}
	tr := &tracker{max: max, keys: make(map[rowKey]struct{})}
	t.track = tr
	c.db.UpdateHook(tr.note)
}

// untrack removes the update hook at the end of a tracked unit.
func (t *tx) untrack() {
	if t.track != nil && t.c != nil {
		t.c.db.UpdateHook(nil)
	}
}

// Changes lists the rows recorded (forge.ChangeTracker). It rolls the
// unit's transaction back to read them as committed: the unit's later
// statements fail with forge.ErrTxLost.
func (t *tx) Changes(ctx context.Context) (forge.Changes, error) {
	c, tr := t.c, t.track
	if c == nil {
		return forge.Changes{}, forge.ErrTxDone
	}
	if tr == nil {
		return forge.Changes{}, nil
	}
	if t.lost != nil {
		return forge.Changes{}, t.lost
	}
	sctx := t.stmtContext(ctx)
	if sctx != t.ctx {
		c.db.SetInterrupt(sctx)
		defer c.db.SetInterrupt(t.ctx)
	}
	c.db.UpdateHook(nil)
	t.last = nil
	after, key, err := c.readRows(tr.rows)
	if err != nil {
		return forge.Changes{}, t.fail(sctx, err)
	}
	if err := c.control("ROLLBACK"); err != nil {
		return forge.Changes{}, t.fail(sctx, err)
	}
	t.lost = forge.ErrTxLost // the unit's changes are undone
	before, key0, err := c.readRows(tr.rows)
	if err != nil {
		return forge.Changes{}, translate(sctx, err)
	}
	out := forge.Changes{Truncated: tr.truncated, Incomplete: tr.incomplete, List: make([]forge.Change, 0, len(tr.rows))}
	for i, k := range tr.rows {
		ch := forge.Change{Table: k.table, Before: before[i], After: after[i]}
		if k.schema != "main" {
			ch.Table = k.schema + "." + k.table
		}
		switch {
		case ch.Before == nil && ch.After == nil:
			continue // inserted and deleted again: no net change
		case ch.Before == nil:
			ch.Op = forge.ChangeInsert
		case ch.After == nil:
			ch.Op = forge.ChangeDelete
		default:
			ch.Op = forge.ChangeUpdate
		}
		name := key[i]
		if name == "" {
			name = key0[i]
		}
		ch.Key = forge.Field{Column: name, Value: forge.IntValue(k.rowid)}
		out.List = append(out.List, ch)
	}
	return out, nil
}

// readRows reads each row of keys by its rowid, as the connection sees
// the database now: nil for a row (or a table) that does not exist. key
// is the name SQLite gives the rowid column (the INTEGER PRIMARY KEY's,
// or "rowid").
func (c *conn) readRows(keys []rowKey) (rows []forge.Record, key []string, err error) {
	rows, key = make([]forge.Record, len(keys)), make([]string, len(keys))
	stmts := make(map[[2]string]*sqlite3.Stmt)
	defer func() {
		for _, s := range stmts {
			_ = s.Close()
		}
	}()
	for i, k := range keys {
		tab := [2]string{k.schema, k.table}
		s, ok := stmts[tab]
		if !ok {
			s, _, err = c.db.Prepare("SELECT rowid, * FROM " + quoteIdent(k.schema) + "." + quoteIdent(k.table) + " WHERE rowid = ?")
			if err != nil {
				// The table does not exist in this state of the
				// database (created or dropped by the unit).
				s, err = nil, nil
			}
			stmts[tab] = s
		}
		if s == nil {
			continue
		}
		if err := s.BindInt64(1, k.rowid); err != nil {
			return nil, nil, err
		}
		if s.Step() {
			key[i] = s.ColumnName(0)
			rec := make(forge.Record, s.ColumnCount()-1)
			for j := range rec {
				rec[j] = forge.Field{Column: s.ColumnName(j + 1), Value: columnValue(s, j+1)}
			}
			rows[i] = rec
		}
		if err := s.Reset(); err != nil {
			return nil, nil, err
		}
	}
	return rows, key, nil
}

// columnValue copies column i of s's current row.
func columnValue(s *sqlite3.Stmt, i int) forge.Value {
	switch s.ColumnType(i) {
	case sqlite3.INTEGER:
		return forge.IntValue(s.ColumnInt64(i))
	case sqlite3.FLOAT:
		return forge.FloatValue(s.ColumnFloat(i))
	case sqlite3.TEXT:
		return forge.TextValue(s.ColumnText(i))
	case sqlite3.BLOB:
		return forge.BlobValue(s.ColumnBlob(i, nil))
	}
	return forge.NullValue()
}

func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
