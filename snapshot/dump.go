package snapshot

import (
	"bufio"
	"context"
	"encoding/hex"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/sqlbuild"
)

// The SQL dump: text that the sqlite3 shell (.read, or its standard input)
// and our own import replay into the same content. Its shape follows the
// shell's .dump:
//
//	PRAGMA foreign_keys=OFF;
//	BEGIN TRANSACTION;
//	CREATE TABLE ...;                     every table, in creation order,
//	INSERT INTO "t"(rowid,...) VALUES(...); then its rows (rowids kept)
//	DELETE FROM sqlite_sequence; INSERT INTO sqlite_sequence ...;
//	CREATE INDEX / TRIGGER / VIEW ...;    after the rows (no trigger fires)
//	COMMIT;
//
// A dump cut short has no COMMIT, so replaying it applies nothing. The
// engine's bookkeeping tables (forge.ReservedPrefix), SQLite's own
// (sqlite_stat1, ...) and the shadow tables of virtual tables (which their
// virtual table fills again from its rows) are left out.

// schemaObject is one row of sqlite_schema.
type schemaObject struct {
	typ, name, table, sql string
}

// tableKind is what pragma_table_list says of a table.
type tableKind struct {
	typ          string // table, view, virtual, shadow
	withoutRowid bool
}

// Dump writes the SQL dump of the database tx reads (one snapshot) to w.
func Dump(ctx context.Context, tx forge.Tx, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var objects []schemaObject
	if _, err := tx.Run(ctx, forge.Statement{SQL: "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY rowid"},
		rowFunc(func(r forge.Row) error {
			objects = append(objects, schemaObject{typ: string(r.Text(0)), name: string(r.Text(1)),
				table: string(r.Text(2)), sql: string(r.Text(3))})
			return nil
		})); err != nil {
		return err
	}
	kinds := map[string]tableKind{}
	if _, err := tx.Run(ctx, forge.Statement{SQL: "SELECT name, type, wr FROM pragma_table_list WHERE schema = 'main'"},
		rowFunc(func(r forge.Row) error {
			kinds[string(r.Text(0))] = tableKind{typ: string(r.Text(1)), withoutRowid: r.Int(2) != 0}
			return nil
		})); err != nil {
		return err
	}
	hidden := func(table string) bool {
		lower := strings.ToLower(table)
		return forge.IsReserved(table) || strings.HasPrefix(lower, "sqlite_") || kinds[table].typ == "shadow"
	}
	bw.WriteString("PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n")
	sequence := false
	for _, o := range objects {
		if o.typ != "table" {
			continue
		}
		if o.name == "sqlite_sequence" {
			sequence = true
		}
		if hidden(o.name) || o.sql == "" {
			continue
		}
		bw.WriteString(o.sql)
		bw.WriteString(";\n")
		if err := dumpRows(ctx, tx, bw, o.name, kinds[o.name]); err != nil {
			return err
		}
	}
	if sequence {
		bw.WriteString("DELETE FROM sqlite_sequence;\n")
		if _, err := tx.Run(ctx, forge.Statement{SQL: "SELECT name, seq FROM sqlite_sequence"},
			rowFunc(func(r forge.Row) error {
				name := string(r.Text(0))
				if hidden(name) {
					return nil
				}
				b := append([]byte("INSERT INTO sqlite_sequence(name,seq) VALUES("), quoteText(nil, r.Text(0))...)
				b = append(b, ',')
				b = appendLiteral(b, r, 1)
				_, err := bw.Write(append(b, ");\n"...))
				return err
			})); err != nil {
			return err
		}
	}
	for _, o := range objects {
		if o.typ == "table" || o.sql == "" || hidden(o.table) || hidden(o.name) {
			continue
		}
		bw.WriteString(o.sql)
		bw.WriteString(";\n")
	}
	bw.WriteString("COMMIT;\n")
	return bw.Flush()
}

// dumpRows writes an INSERT for each row of table.
func dumpRows(ctx context.Context, tx forge.Tx, bw *bufio.Writer, table string, kind tableKind) error {
	var all, cols []string
	pks, intPK := 0, false
	if _, err := tx.Run(ctx, forge.Statement{SQL: "SELECT name, hidden, pk, type FROM pragma_table_xinfo(?1)",
		Params: forge.Params{Positional: []forge.Value{forge.TextValue(table)}}},
		rowFunc(func(r forge.Row) error {
			name := string(r.Text(0))
			all = append(all, name)
			if r.Int(1) == 0 { // not generated, not a virtual table's hidden column
				cols = append(cols, name)
			}
			if r.Int(2) > 0 {
				pks++
				intPK = strings.EqualFold(string(r.Text(3)), "INTEGER")
			}
			return nil
		})); err != nil {
		return err
	}
	if len(cols) == 0 {
		return nil
	}
	// The rowid is kept unless a column is the rowid already (an
	// INTEGER PRIMARY KEY).
	rowid := ""
	if kind.typ == "table" && !kind.withoutRowid && (pks != 1 || !intPK) {
		rowid = sqlbuild.RowidAlias(all)
	}
	var sel, prefix strings.Builder
	sel.WriteString("SELECT ")
	prefix.WriteString("INSERT INTO ")
	prefix.WriteString(sqlbuild.Quote(table))
	prefix.WriteByte('(')
	n := 0
	if rowid != "" {
		sel.WriteString(rowid)
		prefix.WriteString(rowid)
		n++
	}
	for _, c := range cols {
		if n > 0 {
			sel.WriteByte(',')
			prefix.WriteByte(',')
		}
		sel.WriteString(sqlbuild.Quote(c))
		prefix.WriteString(sqlbuild.Quote(c))
		n++
	}
	sel.WriteString(" FROM ")
	sel.WriteString(sqlbuild.Quote(table))
	prefix.WriteString(") VALUES(")
	head := prefix.String()
	var b []byte
	_, err := tx.Run(ctx, forge.Statement{SQL: sel.String()}, rowFunc(func(r forge.Row) error {
		b = append(b[:0], head...)
		for i := range n {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendLiteral(b, r, i)
		}
		b = append(b, ");\n"...)
		_, err := bw.Write(b)
		return err
	}))
	return err
}

// appendLiteral appends column col of r as an SQL literal that SQLite
// reads back as the same value and storage class: integers in decimal,
// reals in the shortest form that reads back exactly (with a ".0" or an
// exponent, so that they stay reals; 1e999 for infinity), text quoted
// (as a cast blob when it is not valid UTF-8 or holds a NUL, which a
// quoted literal cannot carry), blobs as X'hex'.
func appendLiteral(b []byte, r forge.Row, col int) []byte {
	switch r.Kind(col) {
	case forge.Integer:
		return strconv.AppendInt(b, r.Int(col), 10)
	case forge.Float:
		return appendReal(b, r.Float(col))
	case forge.Text:
		return quoteText(b, r.Text(col))
	case forge.Blob:
		return appendBlob(b, r.Blob(col))
	}
	return append(b, "NULL"...)
}

func appendReal(b []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(b, "1e999"...)
	case math.IsInf(f, -1):
		return append(b, "-1e999"...)
	case math.IsNaN(f):
		return append(b, "NULL"...)
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, 'g', -1, 64)
	if !strings.ContainsAny(string(b[start:]), ".eEn") {
		b = append(b, ".0"...)
	}
	return b
}

func quoteText(b, t []byte) []byte {
	if !utf8.Valid(t) || indexZero(t) >= 0 {
		b = append(b, "CAST("...)
		b = appendBlob(b, t)
		return append(b, " AS TEXT)"...)
	}
	b = append(b, '\'')
	for _, c := range t {
		if c == '\'' {
			b = append(b, '\'')
		}
		b = append(b, c)
	}
	return append(b, '\'')
}

func indexZero(t []byte) int {
	for i, c := range t {
		if c == 0 {
			return i
		}
	}
	return -1
}

func appendBlob(b, v []byte) []byte {
	b = append(b, "X'"...)
	b = hex.AppendEncode(b, v)
	return append(b, '\'')
}

// rowFunc is a forge.RowWriter of a function per row.
type rowFunc func(r forge.Row) error

func (rowFunc) Columns([]string) error  { return nil }
func (f rowFunc) Row(r forge.Row) error { return f(r) }
