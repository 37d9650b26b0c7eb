package forge

import (
	"context"
	"errors"
)

// Units of work. The engine offers two ways into a database besides its
// single-statement fast path: a read unit and a write unit, each handed a
// Tx for as long as its callback runs:
//
//	Read(ctx, db, func(Tx) error) error   // a consistent snapshot; only statements SQLite calls read-only
//	Write(ctx, db, func(Tx) error) error  // the database's writer, one transaction: committed if
//	                                      // the callback returns nil, rolled back otherwise
//
// Features that are "a few statements in one transaction" (the rows
// routes, batches, dry runs, idempotency records, functions) are written
// above the engine on a Tx, and need no engine method of their own.

// Tx runs statements inside a unit of work. It is valid only during the
// callback it was handed to; a Tx used after that fails with ErrTxDone.
// A Tx is not safe for concurrent use.
//
// Transaction control belongs to the unit: a statement that would begin,
// commit or roll back the unit's transaction (BEGIN, COMMIT, END,
// ROLLBACK) fails with ErrTxControl. Savepoints nest inside it and are
// allowed.
type Tx interface {
	// Run prepares q (from the connection's statement cache), binds its
	// parameters and runs it, streaming any rows to w (nil: rows are
	// counted, not written). It stops when ctx or the unit's own context
	// ends, whichever comes first. In a read unit a statement SQLite does
	// not call read-only fails with ErrReadOnly before it runs.
	//
	// A failed statement leaves the unit's transaction open, with the
	// statement's effects undone, unless the failure was of the kind that
	// ends the transaction (INSERT OR ROLLBACK, RAISE(ROLLBACK), an
	// interrupt, a full database, a fault): then Run's error wraps
	// ErrTxLost and every later call fails with it.
	Run(ctx context.Context, q Statement, w RowWriter) (Result, error)
	// Describe prepares sql without running it and tells what it is: what
	// a dry run or a client's "explain" needs, and what a batch checks
	// before it runs anything.
	Describe(ctx context.Context, sql string) (StatementInfo, error)
}

// StatementInfo is what SQLite says of a prepared statement.
type StatementInfo struct {
	// Empty: the text holds no statement (only spaces and comments).
	Empty bool
	// ReadOnly is sqlite3_stmt_readonly: the statement does not change the
	// database file. Transaction control counts as read-only.
	ReadOnly bool
	// Columns are the names of the result columns; empty for a statement
	// that returns no rows.
	Columns []string
	// Params has one entry per parameter, in order: its name without the
	// sigil (":", "@" or "$"), or "" for a positional one ("?", "?NNN").
	Params []string
}

// Errors of units of work.
var (
	// ErrTxDone: a Tx was used after its unit's callback returned.
	ErrTxDone = errors.New("transaction is over")
	// ErrTxLost: a statement's failure rolled back the unit's whole
	// transaction; nothing of the unit will be committed.
	ErrTxLost = errors.New("transaction rolled back by a failed statement")
	// ErrTxControl: the statement begins, commits or rolls back a
	// transaction, which only the unit of work does.
	ErrTxControl = errors.New("transaction control is not allowed inside a unit of work")
)

// Errors of interactive transactions (a transaction held across requests
// under a lease): why one ended, and why one cannot be used or opened.
var (
	// ErrTxNotFound: no transaction of that id is open for this key on
	// this database (or it ended too long ago to be remembered).
	ErrTxNotFound = errors.New("transaction not found")
	// ErrTxExpired: the transaction's lease ran out; it was rolled back.
	ErrTxExpired = errors.New("transaction expired and was rolled back")
	// ErrTxAborted: a statement's failure (INSERT OR ROLLBACK, an
	// interrupted write, a full database, a fault) or a failed COMMIT
	// rolled the transaction back. It wraps the cause.
	ErrTxAborted = errors.New("transaction rolled back")
	// ErrTxCommitted: the transaction was committed already.
	ErrTxCommitted = errors.New("transaction committed")
	// ErrTxRolledBack: the transaction was rolled back by its client.
	ErrTxRolledBack = errors.New("transaction rolled back by its client")
	// ErrTxLimit: the database or the key has as many open transactions
	// as it may.
	ErrTxLimit = errors.New("too many open transactions")
	// ErrReadOnlyTx: a read-only transaction was given a statement SQLite
	// does not report read-only. Nothing of it ran; the transaction goes
	// on.
	ErrReadOnlyTx = errors.New("the transaction is read-only, and SQLite does not report the statement read-only")
)

// ChangeTracker is a Tx of a write unit that can list the rows its
// statements change: what a dry run answers. (wasm's write units are
// ChangeTrackers.)
type ChangeTracker interface {
	// TrackChanges records, from now on, the rows the unit's
	// statements insert, update or delete: at most max of them, the
	// rest only counted as Truncated.
	TrackChanges(max int)
	// Changes lists the rows recorded, each once, as the unit's net
	// effect on it: Before as the database last committed it, After as
	// it is now inside the unit.
	Changes(ctx context.Context) (Changes, error)
}

// Changes is the list of rows a unit of work changed.
type Changes struct {
	List []Change
	// Truncated: more rows changed than the list could hold.
	Truncated bool
	// Incomplete: some changes could not be seen (rows of WITHOUT ROWID
	// or virtual tables, a DELETE without WHERE that SQLite ran as a
	// truncation): the list misses rows.
	Incomplete bool
}

// Change is one row a unit of work changed.
type Change struct {
	Table string
	// Op is ChangeInsert, ChangeUpdate or ChangeDelete: the net effect,
	// Before against After.
	Op string
	// Key identifies the row: its rowid, named after the table's INTEGER
	// PRIMARY KEY column if it has one, else "rowid".
	Key Field
	// Before is the row as last committed, nil if it did not exist;
	// After the row inside the unit, nil if it no longer exists.
	Before, After Record
}

// Operations of a Change.
const (
	ChangeInsert = "insert"
	ChangeUpdate = "update"
	ChangeDelete = "delete"
)
