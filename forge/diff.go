package forge

// Row-level diffs (package diff): what a database holds now against a
// checkpoint of it or against another database, the vocabulary the
// gateway and package diff share.

// DiffQuery asks for a diff of a database against Against ("before").
type DiffQuery struct {
	// Against is "checkpoint:<name>" or "db:<name>", parsed (package diff
	// ParseAgainst).
	AgainstKind string // "checkpoint" or "db"
	AgainstName string
	// Summary asks for counts only: no rows, no paging.
	Summary bool
	// Limit caps the rows of one page (0: the default).
	Limit int
	// Cursor continues a page ("": from the start), as Diff.Next gave it.
	Cursor string
}

// Diff is one page of a diff: schema changes (first page only) and, per
// table, the rows inserted, deleted and updated (by primary key, or
// rowid). Before is the other side (the checkpoint, the other database),
// after the database now.
type Diff struct {
	Schema []SchemaChange
	Tables []TableDiff
	// Truncated: the page ended at its cap; Next continues it.
	Truncated bool
	Next      string
}

// SchemaChange is one object of sqlite_schema added, dropped or changed.
type SchemaChange struct {
	Type   string // table, index, view, trigger
	Name   string
	Change string // "added", "dropped", "modified"
	// Before and After are the object's CREATE statements ("" on the
	// side it is missing from).
	Before, After string
	// Of a modified table: columns by name.
	ColumnsAdded, ColumnsDropped, ColumnsChanged []string
}

// TableDiff is one table's rows of a page: the counts (of this page, or
// of the whole diff with Summary) and the rows.
type TableDiff struct {
	Table string
	// Key names the columns rows are matched by ("rowid" for the rowid).
	Key                        []string
	Inserted, Deleted, Updated int64
	Changes                    []RowChange
	// Skipped says why the rows were not compared ("" = they were).
	Skipped string
}

// RowChange is one row of a diff: Op is ChangeInsert, ChangeUpdate or
// ChangeDelete; Key the row's key columns; Before nil for an insert, After
// nil for a delete.
type RowChange struct {
	Op            string
	Key           Record
	Before, After Record
}
