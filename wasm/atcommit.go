package wasm

import (
	"context"
	"math/bits"
	"strings"
	"sync"

	"github.com/praetorian/db-forge/forge"
)

// Rows inserted at commit. The engine's own bookkeeping rows that every
// shared unit of a group adds to the same table (the records of
// idempotent writes) are gathered by the group's leader and written with
// one multi-row INSERT per table just before the group's COMMIT, instead
// of one INSERT inside each unit's savepoint: the statement's fixed cost
// and the pages every savepoint copies to the sub-journal are paid once
// per group, not once per unit. They still commit in the same
// transaction as the units' own writes, so a crash can never keep a
// unit's writes without its rows, nor the rows without the writes.
//
// A row of a unit whose savepoint rolled back is not written. If the
// multi-row INSERT fails, the group's transaction is lost and every
// member runs again on its own (groupcommit.go), where InsertAtCommit
// runs its INSERT at once and returns its error to the unit.

// atCommitRow is one row a unit asked to insert at commit.
type atCommitRow struct {
	head string // "INSERT … INTO t (a, b) VALUES "
	vals []forge.Value
}

// InsertAtCommit inserts one row of the engine's bookkeeping: head is an
// INSERT's text up to and including VALUES ("INSERT OR REPLACE INTO t
// (a, b, c) VALUES "), vals the row's values, one per column. In a unit
// that shares a group's transaction (WriteShared) the row is written
// just before the group commits, with those of the group's other units,
// and InsertAtCommit returns nil at once; the caller must not change
// vals until its unit has returned. In any other unit the INSERT runs
// now. The row commits with the unit or not at all.
func (t *tx) InsertAtCommit(ctx context.Context, head string, vals []forge.Value) error {
	if !t.shared {
		_, err := t.Run(ctx, forge.Statement{SQL: bulkSQL(head, len(vals), 1), Bookkeeping: true,
			Params: forge.Params{Positional: vals}}, nil)
		return err
	}
	if t.c == nil {
		return forge.ErrTxDone
	}
	if t.lost != nil {
		return t.lost
	}
	t.atCommit = append(t.atCommit, atCommitRow{head: head, vals: vals})
	return nil
}

// insertAtCommit writes the rows the successful units of group asked for
// (InsertAtCommit), on c inside the group's transaction: one statement
// per table and power-of-two count of rows (so that at most a few texts
// per table enter the statement cache). An error loses the transaction.
func (e *Engine) insertAtCommit(c *conn, group []*groupStmt) error {
	var rows []atCommitRow
	for _, r := range group {
		if r.unit != nil && r.err == nil && !r.redo && r.t != nil {
			rows = append(rows, r.t.atCommit...)
		}
	}
	for len(rows) > 0 {
		head, width := rows[0].head, len(rows[0].vals)
		same := rows[:0:0]
		rest := rows[:0] // in place: it never passes the row being read
		for _, r := range rows {
			if r.head == head && len(r.vals) == width {
				same = append(same, r)
			} else {
				rest = append(rest, r)
			}
		}
		most := maxAtCommitRows
		if width > 0 && e.cfg.Limits.VariableNumber > 0 {
			most = max(min(most, e.cfg.Limits.VariableNumber/width), 1) // an operator's low limit
		}
		for len(same) > 0 {
			n := 1 << (bits.Len(uint(min(len(same), most))) - 1) // a power of two ≤ both
			if err := e.insertRows(c, head, same[:n]); err != nil {
				return err
			}
			same = same[n:]
		}
		rows = rest
	}
	return nil
}

// maxAtCommitRows bounds the rows of one INSERT at commit (a group holds
// up to Config.MaxWriteBatch units, which an operator may raise).
const maxAtCommitRows = 64

// insertRows runs one INSERT of rows, all of head and of the same width.
func (e *Engine) insertRows(c *conn, head string, rows []atCommitRow) error {
	width := len(rows[0].vals)
	sql := bulkSQL(head, width, len(rows))
	c.bookkeeping = true
	defer func() { c.bookkeeping = false }()
	st, err := c.prepareKey(sql, bookkeepingKey(sql))
	if err != nil || st == nil {
		return err
	}
	vals := make([]forge.Value, 0, width*len(rows))
	for _, r := range rows {
		vals = append(vals, r.vals...)
	}
	_, err = c.run(st, forge.Params{Positional: vals}, nil, false)
	return err
}

// bulkTexts caches the texts bulkSQL makes.
var bulkTexts sync.Map // bulkKey → string

type bulkKey struct {
	head         string
	width, count int
}

// bulkSQL is head followed by count groups of width placeholders.
func bulkSQL(head string, width, count int) string {
	k := bulkKey{head, width, count}
	if s, ok := bulkTexts.Load(k); ok {
		return s.(string)
	}
	var b strings.Builder
	b.Grow(len(head) + count*(2*width+2))
	b.WriteString(head)
	for i := range count {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for j := range width {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('?')
		}
		b.WriteByte(')')
	}
	s, _ := bulkTexts.LoadOrStore(k, b.String())
	return s.(string)
}
