package snapshot

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/sqlbuild"
)

// CSV limits: a record (a row) of at most maxRecordBytes, at most
// maxCSVColumns fields, the same number in every record as in the header.
const (
	maxRecordBytes = 1 << 20
	maxCSVColumns  = 2000
)

// CSV reads a CSV body (RFC 4180, as encoding/csv reads it: a comma, double
// quotes, CRLF or LF): a header row of column names, then records with as
// many fields. A UTF-8 byte order mark before the header is dropped. Every
// fault is an INVALID_CSV error that names its line.
type CSV struct {
	r      *csv.Reader
	header []string
}

// NewCSV reads the header of body.
func NewCSV(body []byte) (*CSV, error) {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(body))
	r.ReuseRecord = true
	c := &CSV{r: r}
	rec, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, forge.Inputf(forge.CodeInvalidCSV, "The CSV body is empty: the first line must name the columns.")
	}
	if err != nil {
		return nil, csvError(err)
	}
	if len(rec) > maxCSVColumns {
		return nil, forge.Inputf(forge.CodeInvalidCSV, "The header names %d columns; at most %d are allowed.", len(rec), maxCSVColumns)
	}
	seen := make(map[string]bool, len(rec))
	for i, name := range rec {
		if name == "" || len(name) > sqlbuild.MaxIdentifierLength || strings.IndexByte(name, 0) >= 0 || !utf8.ValidString(name) {
			return nil, forge.Inputf(forge.CodeInvalidCSV, "Header field %d is not a column name (1 to %d characters of UTF-8, no NUL).",
				i+1, sqlbuild.MaxIdentifierLength)
		}
		if forge.IsReserved(name) {
			return nil, forge.Inputf(forge.CodeInvalidCSV, "Column %q: the prefix %s is reserved.", name, forge.ReservedPrefix)
		}
		k := strings.ToLower(name)
		if seen[k] {
			return nil, forge.Inputf(forge.CodeInvalidCSV, "Column %q appears twice in the header.", name)
		}
		seen[k] = true
	}
	c.header = append([]string(nil), rec...)
	r.FieldsPerRecord = len(rec)
	return c, nil
}

// Header is the column names.
func (c *CSV) Header() []string { return c.header }

// Next returns the next record (valid until the next call); ok is false
// at the end.
func (c *CSV) Next() (rec []string, ok bool, err error) {
	rec, err = c.r.Read()
	if errors.Is(err, io.EOF) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, csvError(err)
	}
	n := 0
	for i, f := range rec {
		n += len(f)
		if !utf8.ValidString(f) || strings.IndexByte(f, 0) >= 0 {
			line, _ := c.r.FieldPos(i)
			return nil, false, forge.Inputf(forge.CodeInvalidCSV, "Line %d, field %d: not UTF-8 text (or holds a NUL byte).", line, i+1)
		}
	}
	if n > maxRecordBytes {
		line, _ := c.r.FieldPos(0)
		return nil, false, forge.Inputf(forge.CodeInvalidCSV, "Line %d: the record holds more than %d bytes.", line, maxRecordBytes)
	}
	return rec, true, nil
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return forge.Inputf(forge.CodeInvalidCSV, "Line %d, column %d: %v.", pe.Line, pe.Column, pe.Err)
	}
	return forge.Inputf(forge.CodeInvalidCSV, "%v.", err)
}

// Column types of a created table, inferred from every value of the
// column: INTEGER when each non-empty value is a decimal integer that fits
// in 64 bits, REAL when each is a finite decimal number, TEXT otherwise
// (and for a column with no value at all). An empty field is NULL.
const (
	typeInteger = "INTEGER"
	typeReal    = "REAL"
	typeText    = "TEXT"
)

// inference is the running type guess of one column.
type inference struct {
	notInt, notReal, seen bool
}

func (in *inference) add(v string) {
	if v == "" {
		return
	}
	in.seen = true
	if !in.notInt && !isInteger(v) {
		in.notInt = true
	}
	if in.notInt && !in.notReal && !isReal(v) {
		in.notReal = true
	}
}

func (in *inference) typ() string {
	switch {
	case !in.seen:
		return typeText
	case !in.notInt:
		return typeInteger
	case !in.notReal:
		return typeReal
	}
	return typeText
}

// isInteger: [+-]?[0-9]+ within int64.
func isInteger(v string) bool {
	d := strings.TrimLeft(v, "+-")
	if len(v)-len(d) > 1 || d == "" || strings.Trim(d, "0123456789") != "" {
		return false
	}
	_, err := strconv.ParseInt(v, 10, 64)
	return err == nil
}

// isReal: a finite decimal number ([+-]digits[.digits][e[+-]digits]), no
// hex, no Inf or NaN, no underscores.
func isReal(v string) bool {
	if strings.Trim(v, "+-.0123456789eE") != "" || strings.Trim(v, "+-.eE") == "" {
		return false
	}
	f, err := strconv.ParseFloat(v, 64)
	return err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
}

// InferTypes reads every record of body and returns its columns with
// their inferred types and the number of records.
func InferTypes(body []byte) ([]forge.ColumnType, int64, error) {
	c, err := NewCSV(body)
	if err != nil {
		return nil, 0, err
	}
	ins := make([]inference, len(c.header))
	var n int64
	for {
		rec, ok, err := c.Next()
		if err != nil {
			return nil, 0, err
		}
		if !ok {
			break
		}
		n++
		for i, v := range rec {
			ins[i].add(v)
		}
	}
	cols := make([]forge.ColumnType, len(c.header))
	for i, name := range c.header {
		cols[i] = forge.ColumnType{Name: name, Type: ins[i].typ()}
	}
	return cols, n, nil
}

// csvValue is a field bound for a column of type typ ("" for a table that
// existed: its affinity decides): empty is NULL.
func csvValue(v, typ string) forge.Value {
	if v == "" {
		return forge.NullValue()
	}
	switch typ {
	case typeInteger:
		if i, err := strconv.ParseInt(v, 10, 64); err == nil {
			return forge.IntValue(i)
		}
	case typeReal:
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return forge.FloatValue(f)
		}
	}
	return forge.TextValue(strings.Clone(v))
}
