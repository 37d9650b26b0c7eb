package forge

// Batch is several statements sent together (POST /api/db/{db}/batch):
// in one transaction (all or nothing), or each on its own.
type Batch struct {
	Statements []Statement
	// Separate runs each statement on its own, as if sent alone: each
	// gets its own result or error ("transaction": false).
	Separate bool
	// ReadOnly restricts every statement to reading (a read-only key):
	// a statement SQLite does not call read-only fails with ErrReadOnly.
	ReadOnly bool
	// DryRun runs the statements and commits nothing.
	DryRun bool
	// MaxChanges bounds a dry run's list of changed rows (Changes); 0:
	// no list.
	MaxChanges int
}

// BatchOutput receives a batch's outcomes, statement by statement, in
// order.
type BatchOutput interface {
	// Reset forgets every outcome received: the batch starts over (a
	// unit of work the engine runs again).
	Reset()
	// Rows is the RowWriter of statement i's rows.
	Rows(i int) RowWriter
	// Done is statement i's outcome: its result, or, in a batch of
	// separate statements, the error it failed with. A non-nil error
	// stops the batch.
	Done(i int, res Result, err error) error
	// Changes is a dry run's list of changed rows (Batch.MaxChanges > 0):
	// of statement i's unit in a batch of separate statements, of the
	// whole batch (i = -1) in one transaction, given after its Done.
	Changes(i int, c Changes)
}
