package forge

import "errors"

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
}

// ErrStop, returned by a RowWriter's Row, ends the result at that row
// without failing the statement: the row it was passed is not part of the
// result (Result.RowsAffected does not count it), and the statement is
// reset as if it had no more rows. A statement that writes and returns
// rows (INSERT … RETURNING) has made every change at its first step, so
// its changes stand; only the rows after the stop are not read. A writer
// uses it to cap a result (max_rows, max_bytes).
var ErrStop = errors.New("row writer stopped the result")
