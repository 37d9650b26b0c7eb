package forge

import (
	"errors"
	"time"
)

// Row is a read-only view of the current result row. It is valid only during
// the RowWriter call it is passed to: Text and Blob return slices that the
// engine reuses for the next row, so a writer copies what it keeps.
type Row interface {
	Kind(col int) Kind
	Int(col int) int64
	Float(col int) float64
	Text(col int) []byte
	Blob(col int) []byte
}

// RowWriter receives a statement's result as it is produced, so that rows
// go from SQLite to the response without an intermediate copy.
//
// Columns is called once, before any row, and only for statements that
// return rows (column count > 0, as the prepared statement says). Row is
// called for each row. A non-nil error from either stops the statement and
// is returned to the caller unchanged.
type RowWriter interface {
	Columns(names []string) error
	Row(r Row) error
}

// Result summarises a finished statement.
type Result struct {
	// ReturnsRows says the statement has result columns; Columns was called.
	ReturnsRows bool
	// RowsAffected is the number of rows returned when ReturnsRows, else the
	// number of rows the statement inserted, updated or deleted (0 for DDL).
	RowsAffected int64

	// What SQLite counted of the statement (the answer's "meta"),
	// filled by the engine for every statement it runs.
	Meta Meta
}

// Meta is what SQLite itself tells of one statement's run.
type Meta struct {
	// Duration is the time the statement ran: binding, stepping, and
	// writing its rows to the RowWriter (not the wait for a connection).
	Duration time.Duration
	// Changes is sqlite3_changes: the rows the statement itself
	// inserted, updated or deleted (0 for a read or DDL).
	Changes int64
	// RowsWritten is the change of sqlite3_total_changes over the
	// statement: Changes plus the rows its triggers and foreign key
	// actions changed.
	RowsWritten int64
	// LastInsertID is sqlite3_last_insert_rowid after a statement that
	// inserted rows, 0 after any other.
	LastInsertID int64
	// VMSteps and FullScanSteps are the statement status counters
	// SQLITE_STMTSTATUS_VM_STEP and SQLITE_STMTSTATUS_FULLSCAN_STEP of
	// this run: virtual machine operations, and steps of full table
	// scans (a large number suggests an index is missing).
	VMSteps, FullScanSteps int64
}

// ErrStop, returned by a RowWriter's Row, ends the result at that row
// without failing the statement: the row it was passed is not part of the
// result (Result.RowsAffected does not count it), and the statement is
// reset as if it had no more rows. A statement that writes and returns
// rows (INSERT … RETURNING) has made every change at its first step, so
// its changes stand; only the rows after the stop are not read. A writer
// uses it to cap a result (max_rows, max_bytes).
var ErrStop = errors.New("row writer stopped the result")
