package forge

// Kind is the storage class of a SQL value, as SQLite has them.
type Kind uint8

const (
	Null Kind = iota
	Integer
	Float
	Text
	Blob
)

func (k Kind) String() string {
	switch k {
	case Integer:
		return "integer"
	case Float:
		return "float"
	case Text:
		return "text"
	case Blob:
		return "blob"
	}
	return "null"
}

// Value is one SQL value sent by a client: a bound parameter or a cell of an
// inserted row. Booleans arrive as Integer 1 or 0, as SQLite stores them.
type Value struct {
	Kind  Kind
	Int   int64
	Float float64
	Str   string // Text
	Bytes []byte // Blob
}

// IntValue, FloatValue, TextValue, BlobValue and NullValue build Values.
func IntValue(v int64) Value     { return Value{Kind: Integer, Int: v} }
func FloatValue(v float64) Value { return Value{Kind: Float, Float: v} }
func TextValue(v string) Value   { return Value{Kind: Text, Str: v} }
func BlobValue(v []byte) Value   { return Value{Kind: Blob, Bytes: v} }
func NullValue() Value           { return Value{} }

// NamedValue is a value bound by name. Name is given without its sigil
// (":", "@" or "$"); it matches a parameter written with any of them.
type NamedValue struct {
	Name  string
	Value Value
}

// Params are a statement's bound parameters: either positional or named,
// never both (a client sends a JSON array or a JSON object).
type Params struct {
	Positional []Value
	Named      []NamedValue
	IsNamed    bool
}

// Statement is one SQL statement with its parameters.
type Statement struct {
	SQL    string
	Params Params
	// ReadOnly restricts the request to reading: once the statement is
	// prepared, the engine refuses it with ErrReadOnly unless SQLite
	// reports it read-only (sqlite3_stmt_readonly). The decision is the
	// prepared statement's, never the text's. The gateway sets it for keys
	// that may not write.
	ReadOnly bool
	// Bookkeeping marks the engine's own statements on its reserved
	// tables (ReservedPrefix): the sandbox lets them touch those tables,
	// which it refuses to every other statement. Only packages above the
	// engine set it, for their own SQL; no decoder of client input does.
	Bookkeeping bool
	// Meta asks for Result.Meta, what SQLite counted of the run (a few
	// calls into the instance and two clock reads): the answers of /query
	// and /batch carry it; the engine's own statements (a rows-route
	// insert of a thousand rows, the key store) do without.
	Meta bool
}

// Field is one column of a row to insert.
type Field struct {
	Column string
	Value  Value
}

// Record is a row to insert, its fields in the order the client sent them.
type Record []Field

// Filter is an equality condition of the rows route: Column = Value.
type Filter struct {
	Column string
	Value  Value
}
