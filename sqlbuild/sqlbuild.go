// Package sqlbuild turns validated client input into SQL text. Every function
// is pure: identifiers are checked and quoted, values never become SQL text
// (they are bound as parameters) except column defaults, which are rendered
// as literals by Literal. Nothing here executes SQL.
package sqlbuild

import (
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/praetorian/db-forge/forge"
)

// MaxIdentifierLength caps new table and column names.
const MaxIdentifierLength = 128

// Input error codes.
const (
	CodeInvalidIdentifier = "INVALID_IDENTIFIER"
	CodeInvalidType       = "INVALID_COLUMN_TYPE"
	CodeInvalidDefault    = "INVALID_DEFAULT"
	CodeInvalidTable      = "INVALID_TABLE_SPEC"
)

// ValidateNewIdentifier checks a name for a table or column the client asks
// us to create: [A-Za-z_][A-Za-z0-9_]*, at most MaxIdentifierLength bytes,
// and not in SQLite's reserved "sqlite_" namespace.
func ValidateNewIdentifier(kind, name string) error {
	if name == "" || len(name) > MaxIdentifierLength {
		return forge.Inputf(CodeInvalidIdentifier, "Invalid %s name: must be 1 to %d characters.", kind, MaxIdentifierLength)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return forge.Inputf(CodeInvalidIdentifier, "Invalid %s name %q: use letters, digits and underscores, not starting with a digit.", kind, name)
	}
	if strings.HasPrefix(strings.ToLower(name), "sqlite_") {
		return forge.Inputf(CodeInvalidIdentifier, "Invalid %s name %q: the sqlite_ prefix is reserved.", kind, name)
	}
	return nil
}

// ValidateExistingIdentifier checks a name that refers to an object that
// may already exist (a table of the rows routes). Such objects may have been
// created through raw SQL with any name, so only what cannot be quoted
// safely is refused: empty names, NUL bytes and invalid UTF-8.
func ValidateExistingIdentifier(kind, name string) error {
	if name == "" || len(name) > 1024 || strings.IndexByte(name, 0) >= 0 || !utf8.ValidString(name) {
		return forge.Inputf(CodeInvalidIdentifier, "Invalid %s name.", kind)
	}
	return nil
}

// Quote returns name as an SQL identifier in double quotes, doubling any
// double quote inside. The caller has validated name (no NUL byte).
func Quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// simpleTypes are the column types the tables route accepts, by upper-case
// name. Each maps to itself: SQLite derives the column affinity from it.
var simpleTypes = map[string]bool{
	"INTEGER": true, "INT": true, "BIGINT": true, "SMALLINT": true, "TINYINT": true, "MEDIUMINT": true,
	"TEXT": true, "CLOB": true, "VARCHAR": true, "CHAR": true, "NVARCHAR": true, "NCHAR": true,
	"REAL": true, "FLOAT": true, "DOUBLE": true,
	"NUMERIC": true, "DECIMAL": true, "BOOLEAN": true, "BOOL": true,
	"DATE": true, "DATETIME": true, "TIMESTAMP": true, "TIME": true,
	"BLOB": true, "JSON": true, "UUID": true,
}

// sizedTypes may carry a size: VARCHAR(255), DECIMAL(10,2).
var sizedTypes = map[string]int{ // name → max number of size arguments
	"VARCHAR": 1, "CHAR": 1, "NVARCHAR": 1, "NCHAR": 1, "DECIMAL": 2, "NUMERIC": 2,
}

// NormalizeType checks a column type against the fixed list and returns its
// canonical spelling (upper case, no spaces). "DOUBLE PRECISION" is accepted
// as DOUBLE. Anything else — in particular anything that is SQL rather than a
// type name — is refused.
func NormalizeType(t string) (string, error) {
	u := strings.ToUpper(strings.TrimSpace(t))
	if u == "DOUBLE PRECISION" {
		return "DOUBLE", nil
	}
	name, args, sized := strings.Cut(u, "(")
	name = strings.TrimSpace(name)
	if !sized {
		if simpleTypes[name] {
			return name, nil
		}
		return "", invalidType(t)
	}
	maxArgs, ok := sizedTypes[name]
	if !ok || !strings.HasSuffix(args, ")") {
		return "", invalidType(t)
	}
	parts := strings.Split(strings.TrimSuffix(args, ")"), ",")
	if len(parts) > maxArgs {
		return "", invalidType(t)
	}
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" || len(p) > 5 || strings.TrimLeft(p, "0123456789") != "" {
			return "", invalidType(t)
		}
		parts[i] = p
	}
	return name + "(" + strings.Join(parts, ",") + ")", nil
}

func invalidType(t string) error {
	return forge.Inputf(CodeInvalidType, "Invalid column type %q: use one of INTEGER, TEXT, REAL, BLOB, NUMERIC (or a common alias such as VARCHAR(n), BOOLEAN, DATETIME).", t)
}

// Literal renders a value as an SQL literal for a column DEFAULT.
func Literal(v forge.Value) (string, error) {
	switch v.Kind {
	case forge.Null:
		return "NULL", nil
	case forge.Integer:
		return strconv.FormatInt(v.Int, 10), nil
	case forge.Float:
		if math.IsInf(v.Float, 0) || math.IsNaN(v.Float) {
			return "", forge.Inputf(CodeInvalidDefault, "A default value must be a finite number.")
		}
		s := strconv.FormatFloat(v.Float, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0" // keep REAL-ness: 1100.0, not 1100
		}
		return "(" + s + ")", nil
	case forge.Text:
		if strings.IndexByte(v.Str, 0) >= 0 || !utf8.ValidString(v.Str) {
			return "", forge.Inputf(CodeInvalidDefault, "A default value must be valid UTF-8 without NUL bytes.")
		}
		return "'" + strings.ReplaceAll(v.Str, "'", "''") + "'", nil
	case forge.Blob:
		return "X'" + hex.EncodeToString(v.Bytes) + "'", nil
	}
	return "", forge.Inputf(CodeInvalidDefault, "Unsupported default value.")
}

// CreateTable renders CREATE TABLE IF NOT EXISTS for spec. One primary-key
// column is declared inline (so INTEGER PRIMARY KEY stays the rowid alias);
// several become a table constraint.
func CreateTable(spec forge.TableSpec, maxColumns int) (string, error) {
	if err := ValidateNewIdentifier("table", spec.Name); err != nil {
		return "", err
	}
	if len(spec.Columns) == 0 {
		return "", forge.Inputf(CodeInvalidTable, "A table needs at least one column.")
	}
	if maxColumns > 0 && len(spec.Columns) > maxColumns {
		return "", forge.Inputf(CodeInvalidTable, "A table may have at most %d columns.", maxColumns)
	}
	seen := make(map[string]bool, len(spec.Columns))
	var pks []string
	for _, c := range spec.Columns {
		if err := ValidateNewIdentifier("column", c.Name); err != nil {
			return "", err
		}
		lower := strings.ToLower(c.Name)
		if seen[lower] {
			return "", forge.Inputf(CodeInvalidTable, "Duplicate column name %q.", c.Name)
		}
		seen[lower] = true
		if c.PrimaryKey {
			pks = append(pks, c.Name)
		}
	}
	var b strings.Builder
	b.WriteString("CREATE TABLE IF NOT EXISTS ")
	b.WriteString(Quote(spec.Name))
	b.WriteString(" (")
	for i, c := range spec.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(Quote(c.Name))
		if c.Type != "" {
			t, err := NormalizeType(c.Type)
			if err != nil {
				return "", err
			}
			b.WriteByte(' ')
			b.WriteString(t)
		}
		if c.PrimaryKey && len(pks) == 1 {
			b.WriteString(" PRIMARY KEY")
		}
		if c.NotNull {
			b.WriteString(" NOT NULL")
		}
		if c.Unique {
			b.WriteString(" UNIQUE")
		}
		if c.Default != nil {
			lit, err := Literal(*c.Default)
			if err != nil {
				return "", err
			}
			b.WriteString(" DEFAULT ")
			b.WriteString(lit)
		}
	}
	if len(pks) > 1 {
		b.WriteString(", PRIMARY KEY (")
		for i, n := range pks {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(Quote(n))
		}
		b.WriteByte(')')
	}
	b.WriteByte(')')
	return b.String(), nil
}

// Select renders the rows route's query: every column of table, one
// "col = ?N" per filter column (ANDed), in rowid order when orderBy is set.
// The columns are the table's real names, already checked by the caller.
func Select(table string, filterColumns []string, orderBy string) string {
	var b strings.Builder
	b.WriteString("SELECT * FROM ")
	b.WriteString(Quote(table))
	for i, c := range filterColumns {
		if i == 0 {
			b.WriteString(" WHERE ")
		} else {
			b.WriteString(" AND ")
		}
		b.WriteString(Quote(c))
		b.WriteString(" = ?")
		b.WriteString(strconv.Itoa(i + 1))
	}
	if orderBy != "" {
		b.WriteString(" ORDER BY ")
		b.WriteString(orderBy)
	}
	return b.String()
}

// Insert renders a one-row INSERT for the given real column names;
// with no columns, the row takes every default.
func Insert(table string, columns []string) string {
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(Quote(table))
	if len(columns) == 0 {
		b.WriteString(" DEFAULT VALUES")
		return b.String()
	}
	b.WriteString(" (")
	for i, c := range columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(Quote(c))
	}
	b.WriteString(") VALUES (")
	for i := range columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('?')
	}
	b.WriteByte(')')
	return b.String()
}

// RowidAlias picks a name that still means the rowid for a table whose
// columns are given (a column may shadow "rowid"); "" when all are shadowed.
func RowidAlias(columns []string) string {
	for _, alias := range []string{"rowid", "_rowid_", "oid"} {
		shadowed := false
		for _, c := range columns {
			if strings.EqualFold(c, alias) {
				shadowed = true
				break
			}
		}
		if !shadowed {
			return alias
		}
	}
	return ""
}

// TableInfoSQL gives a table's declared name, its kind ("table", "view", "virtual") and whether
// it is WITHOUT ROWID. Bind the table name as ?1.
const TableInfoSQL = `SELECT name, type, wr FROM pragma_table_list WHERE schema = 'main' AND name = ?1 COLLATE NOCASE`

// ColumnsSQL lists a table's column names in declaration order. Bind ?1.
const ColumnsSQL = `SELECT name FROM pragma_table_info(?1)`
