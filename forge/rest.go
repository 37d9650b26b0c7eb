package forge

// The REST face of rows and schema (docs/API.md, "Rows" and "Schema"):
// what the gateway hands package tables and what tables answers. The
// query string stays raw here; tables decodes it (Datasette's
// conventions), so that its rules live with the SQL they build.

// QueryParam is one parameter of a query string, as the client sent it
// (percent-decoded).
type QueryParam struct {
	Key, Value string
}

// Page is what a read of rows says besides its rows.
type Page struct {
	// Paged: a page size was in effect (_size, _max_rows or limit).
	Paged bool
	// Next is the token that continues after this page ("" when no
	// rows follow, or when the answer was cut before its first row).
	Next string
	// More: rows follow this page.
	More bool
	// Counted: Count is the number of rows the filters match (_count=1).
	Counted bool
	Count   int64
}

// PageSizer is a RowWriter that caps its answer at a page size (the
// gateway's encoder, which then says "truncated"): a read of rows tells
// it the size, once it is known, before the first row.
type PageSizer interface {
	PageSize(n int)
}

// InsertOptions are the rows route's insert options besides the rows.
type InsertOptions struct {
	// Upsert: a row whose key (OnConflict, or the primary key) is there
	// already has the row's other columns updated.
	Upsert     bool
	OnConflict []string
	// Return: the stored rows are answered (RETURNING *).
	Return bool
}

// TableSummary is one entry of GET /api/db/{db_name}/tables.
type TableSummary struct {
	Name string `json:"name"`
	Type string `json:"type"` // "table" or "view"
	// Rows is an estimate of the table's rows (null for a view): see
	// docs/API.md for how it is made.
	Rows *int64 `json:"rows"`
}

// TableSchema describes one table or view (GET /api/db/{db_name}/schema,
// GET /api/db/{db_name}/tables/{table_name}). The compact form leaves
// out what is empty or false, the SQL of every object, an index's origin
// and a foreign key's actions; the verbose form has them.
type TableSchema struct {
	Name         string        `json:"name"`
	Type         string        `json:"type"`
	WithoutRowid bool          `json:"without_rowid,omitempty"`
	Strict       bool          `json:"strict,omitempty"`
	Columns      []ColumnInfo  `json:"columns"`
	Indexes      []IndexInfo   `json:"indexes,omitempty"`
	ForeignKeys  []ForeignKey  `json:"foreign_keys,omitempty"`
	Triggers     []TriggerInfo `json:"triggers,omitempty"`
	SQL          string        `json:"sql,omitempty"`
}

// ColumnInfo is one column of a TableSchema. PK is the column's position
// in the primary key (1-based), 0 when it is not part of it.
type ColumnInfo struct {
	Name    string  `json:"name"`
	Type    string  `json:"type"`
	NotNull bool    `json:"not_null,omitempty"`
	Default *string `json:"default,omitempty"` // the default as SQL text
	PK      int     `json:"pk,omitempty"`
	// Generated: "virtual" or "stored" for a generated column.
	Generated string `json:"generated,omitempty"`
}

// IndexInfo is one index of a table.
type IndexInfo struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
	Unique  bool     `json:"unique,omitempty"`
	// Origin: "c" (CREATE INDEX), "u" (a UNIQUE constraint), "pk".
	Origin  string `json:"origin,omitempty"`
	Partial bool   `json:"partial,omitempty"`
	SQL     string `json:"sql,omitempty"`
}

// ForeignKey is one foreign key of a table.
type ForeignKey struct {
	Columns  []string `json:"columns"`
	Table    string   `json:"table"`
	To       []string `json:"to"`
	OnUpdate string   `json:"on_update,omitempty"`
	OnDelete string   `json:"on_delete,omitempty"`
}

// TriggerInfo is one trigger of a table or view.
type TriggerInfo struct {
	Name string `json:"name"`
	SQL  string `json:"sql,omitempty"`
}
