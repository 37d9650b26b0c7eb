package tables

import (
	"context"
	"strings"
	"sync"

	"github.com/praetorian/db-forge/forge"
)

// knownTables remembers the tables the rows read has looked up, so that
// a read asks SQLite one cheap question (the table's CREATE statement in
// sqlite_schema) instead of two catalogue pragmas: the same statement
// text means the same columns, keys and kind. ALTER TABLE rewrites the
// text, so an altered table is looked up again. Views are never
// remembered (their columns follow the tables they read). Bounded: past
// maxKnown entries the memory starts afresh.
type knownTables struct {
	mu sync.Mutex
	m  map[string]knownTable
}

type knownTable struct {
	sql  string
	info tableInfo
}

const maxKnown = 4096

// knownSQL gives a table's or view's type, CREATE statement and name.
const knownSQL = `SELECT type, sql FROM sqlite_schema WHERE type IN ('table', 'view') AND name = ?1 COLLATE NOCASE`

// lookUp is lookUp with the memory of db's tables.
func (k *knownTables) lookUp(ctx context.Context, tx forge.Tx, db, table string) (*tableInfo, error) {
	if forge.IsReserved(table) {
		return nil, forge.ErrTableNotFound
	}
	var c collector
	if err := run(ctx, tx, knownSQL, []forge.Value{forge.TextValue(table)}, &c); err != nil {
		return nil, err
	}
	if len(c.rows) == 0 {
		return nil, forge.ErrTableNotFound
	}
	kind, sql := c.rows[0][0].Str, c.rows[0][1].Str
	key := db + "\x00" + strings.ToLower(table)
	if kind == "table" {
		k.mu.Lock()
		e, ok := k.m[key]
		k.mu.Unlock()
		if ok && e.sql == sql {
			t := e.info
			return &t, nil
		}
	}
	t, err := lookUp(ctx, tx, table)
	if err != nil || kind != "table" {
		return t, err
	}
	k.mu.Lock()
	if k.m == nil || len(k.m) >= maxKnown {
		k.m = make(map[string]knownTable)
	}
	k.m[key] = knownTable{sql: sql, info: *t}
	k.mu.Unlock()
	return t, nil
}
