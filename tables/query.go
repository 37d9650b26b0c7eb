package tables

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/praetorian/db-forge/forge"
)

// The rows routes' query string, in Datasette's conventions: a parameter
// is either an option (a name that starts with "_": _sort, _size, _next…)
// or a filter, "column" or "column__op". Decoding is pure and knows no
// table; Select, Update and Delete check every column against the table
// (and resolve the limit/offset aliases) once they have looked it up.

// Input error codes of the query string.
const (
	// CodeUnknownParameter: a "_" parameter that is neither an option
	// nor a column of the table.
	CodeUnknownParameter = "UNKNOWN_PARAMETER"
	// CodeInvalidToken: a _next token that is not one this server made
	// for this sort order.
	CodeInvalidToken = "INVALID_TOKEN"
	// CodeFilterRequired: PATCH or DELETE of rows without a filter and
	// without _all=1.
	CodeFilterRequired = "FILTER_REQUIRED"
	// CodeInvalidValue: an option or a filter's value is out of its range.
	CodeInvalidValue = "INVALID_VALUE"
)

// Op is a filter's comparison (the suffix after "__").
type Op string

// The filters' comparisons.
const (
	OpExact      Op = "exact"      // col = v (also the bare "col=v")
	OpNot        Op = "not"        // col != v
	OpGt         Op = "gt"         // col > v
	OpGte        Op = "gte"        // col >= v
	OpLt         Op = "lt"         // col < v
	OpLte        Op = "lte"        // col <= v
	OpContains   Op = "contains"   // col LIKE '%v%' (v's % and _ taken literally)
	OpStartsWith Op = "startswith" // col LIKE 'v%'
	OpEndsWith   Op = "endswith"   // col LIKE '%v'
	OpLike       Op = "like"       // col LIKE v (v is a pattern)
	OpGlob       Op = "glob"       // col GLOB v (v is a pattern)
	OpIn         Op = "in"         // col IN (v1, v2…): a comma list or a JSON array
	OpIsNull     Op = "isnull"     // col IS NULL (=1), IS NOT NULL (=0)
	OpNotNull    Op = "notnull"    // col IS NOT NULL (=1), IS NULL (=0)
)

// Ops lists every comparison, in the order of docs/API.md.
var Ops = []Op{OpExact, OpNot, OpGt, OpGte, OpLt, OpLte, OpContains, OpStartsWith, OpEndsWith,
	OpLike, OpGlob, OpIn, OpIsNull, OpNotNull}

func knownOp(s string) bool {
	for _, o := range Ops {
		if string(o) == s {
			return true
		}
	}
	return false
}

// MaxInValues caps the values of one __in filter.
const MaxInValues = 1000

// MaxPageSize caps _size (and limit): the largest page a request asks.
const MaxPageSize = 1<<31 - 1

// Condition is one filter: Column Op Value (Values for OpIn). A
// condition whose Param is "limit" or "offset" and Op OpExact may be the
// alias of _size or _offset: it is, when the table has no such column.
type Condition struct {
	Column string
	Op     Op
	Value  forge.Value
	Values []forge.Value
	// Param is the query parameter as the client wrote it, for messages.
	Param string
}

// SortKey is one key of _sort (ascending) or _sort_desc.
type SortKey struct {
	Column string
	Desc   bool
}

// RowsQuery is a rows route's query string, decoded.
type RowsQuery struct {
	Where []Condition
	Sort  []SortKey
	// Columns (_col, repeatable) are the columns to answer, in that
	// order; Omit (_nocol) the ones to leave out. Neither: every column.
	Columns, Omit []string
	// Size (_size, _max_rows, or limit) asks for a page of at most Size
	// rows, with a "next" token when more follow. HasSize false: every
	// row, as the seed answered.
	Size    int
	HasSize bool
	// Offset (_offset, or offset) skips that many rows first.
	Offset int
	// Next (_next) is the token of the page before: continue after it.
	Next string
	// Count (_count=1) adds the number of rows the filters match.
	Count bool
	// All (_all=1) lets PATCH and DELETE touch every row (no filter).
	All bool

	seen []string // options given, to refuse one given twice
}

// Options are the "_" parameters of the rows routes (without the "_"):
// those of package tables and the result options the gateway reads itself
// (max_bytes, shape, format: Add refuses them, the gateway never passes
// them on). "__name" filters the column "_name".
var Options = []string{"sort", "sort_desc", "col", "nocol", "size", "max_rows", "next", "offset", "count", "all",
	"max_bytes", "shape", "format"}

func isOption(name string) bool {
	for _, o := range Options {
		if o == name {
			return true
		}
	}
	return false
}

func invalid(format string, args ...any) error {
	return forge.Inputf(CodeInvalidValue, format, args...)
}

// Add decodes one query parameter into q. Values are text (SQLite's
// column affinity compares "30" equal to 30 in an INTEGER column); keys
// and values must be valid UTF-8 without NUL bytes.
func (q *RowsQuery) Add(key, value string) error {
	if key == "" {
		return invalid("A filter needs a column name.")
	}
	if !utf8.ValidString(key) || !utf8.ValidString(value) || strings.IndexByte(key, 0) >= 0 || strings.IndexByte(value, 0) >= 0 {
		return invalid("Filters must be valid UTF-8 without NUL bytes.")
	}
	if rest, ok := strings.CutPrefix(key, "_"); ok {
		if isOption(rest) {
			return q.option(key, rest, value)
		}
		if name, ok := strings.CutPrefix(rest, "_"); ok && isOption(name) {
			// The escape: "__size" filters the column "_size".
			return q.filter(key, rest, OpExact, value)
		}
	}
	column, op := key, OpExact
	if i := strings.LastIndex(key, "__"); i > 0 && knownOp(strings.ToLower(key[i+2:])) {
		column, op = key[:i], Op(strings.ToLower(key[i+2:]))
	}
	return q.filter(key, column, op, value)
}

// filter adds one condition. The same column with the same comparison
// twice is refused (it would be guessed at); different comparisons of
// one column AND together (?age__gte=18&age__lt=65).
func (q *RowsQuery) filter(param, column string, op Op, value string) error {
	for _, c := range q.Where {
		if c.Op == op && strings.EqualFold(c.Column, column) {
			if op == OpExact {
				return invalid("Column %q is filtered more than once.", column)
			}
			return invalid("Column %q is filtered more than once with __%s.", column, op)
		}
	}
	c := Condition{Column: column, Op: op, Param: param}
	switch op {
	case OpIn:
		vals, err := inValues(value)
		if err != nil {
			return err
		}
		c.Values = vals
	case OpIsNull, OpNotNull:
		switch value {
		case "1", "true":
		case "0", "false":
			if op == OpIsNull {
				c.Op = OpNotNull
			} else {
				c.Op = OpIsNull
			}
		default:
			return invalid("Query parameter %q must be 1 or 0.", param)
		}
	default:
		c.Value = forge.TextValue(value)
	}
	q.Where = append(q.Where, c)
	return nil
}

// inValues decodes __in's value: a JSON array of scalars when it starts
// with "[", else a comma-separated list of texts.
func inValues(s string) ([]forge.Value, error) {
	if !strings.HasPrefix(strings.TrimSpace(s), "[") {
		parts := strings.Split(s, ",")
		if len(parts) > MaxInValues {
			return nil, invalid("An __in filter takes at most %d values.", MaxInValues)
		}
		vals := make([]forge.Value, len(parts))
		for i, p := range parts {
			vals[i] = forge.TextValue(p)
		}
		return vals, nil
	}
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var raw []any
	if err := d.Decode(&raw); err != nil || d.More() {
		return nil, invalid("An __in filter's JSON array is not valid JSON.")
	}
	if _, err := d.Token(); err == nil {
		return nil, invalid("An __in filter's JSON array is not valid JSON.")
	}
	if len(raw) > MaxInValues {
		return nil, invalid("An __in filter takes at most %d values.", MaxInValues)
	}
	vals := make([]forge.Value, len(raw))
	for i, r := range raw {
		switch r := r.(type) {
		case nil:
			vals[i] = forge.NullValue()
		case bool:
			if r {
				vals[i] = forge.IntValue(1)
			} else {
				vals[i] = forge.IntValue(0)
			}
		case string:
			vals[i] = forge.TextValue(r)
		case json.Number:
			if n, err := strconv.ParseInt(string(r), 10, 64); err == nil {
				vals[i] = forge.IntValue(n)
			} else if f, err := strconv.ParseFloat(string(r), 64); err == nil {
				vals[i] = forge.FloatValue(f)
			} else {
				return nil, invalid("An __in filter's number %s is out of range.", r)
			}
		default:
			return nil, invalid("An __in filter's JSON array holds only strings, numbers, booleans and null.")
		}
	}
	return vals, nil
}

// option decodes one "_" option (name without its "_").
func (q *RowsQuery) option(key, name, value string) error {
	repeatable := name == "sort" || name == "sort_desc" || name == "col" || name == "nocol"
	field := name
	switch name {
	case "max_rows":
		field = "size"
	case "sort_desc":
		field = "sort"
	}
	if !repeatable {
		for _, s := range q.seen {
			if s == field {
				return invalid("Query parameter %q repeats an option given before (_%s).", key, field)
			}
		}
		q.seen = append(q.seen, field)
	}
	switch name {
	case "sort", "sort_desc":
		if value == "" {
			return invalid("Query parameter %q needs a column name.", key)
		}
		q.Sort = append(q.Sort, SortKey{Column: value, Desc: name == "sort_desc"})
	case "col":
		if value == "" {
			return invalid("Query parameter %q needs a column name.", key)
		}
		q.Columns = append(q.Columns, value)
	case "nocol":
		if value == "" {
			return invalid("Query parameter %q needs a column name.", key)
		}
		q.Omit = append(q.Omit, value)
	case "size", "max_rows":
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n < 0 || n > MaxPageSize {
			return invalid("Query parameter %q must be a whole number of rows from 0 to %d.", key, MaxPageSize)
		}
		q.Size, q.HasSize = int(n), true
	case "offset":
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n < 0 || n > 1<<62 {
			return invalid("Query parameter %q must be a whole number of rows from 0.", key)
		}
		q.Offset = int(n)
	case "next":
		if value == "" {
			return invalid("Query parameter %q must be a token from a previous answer's \"next\".", key)
		}
		q.Next = value
	case "count", "all":
		var on bool
		switch value {
		case "1", "true":
			on = true
		case "0", "false":
		default:
			return invalid("Query parameter %q must be 1 or 0.", key)
		}
		if name == "count" {
			q.Count = on
		} else {
			q.All = on
		}
	default: // the gateway's result options
		return forge.Inputf(CodeUnknownParameter, "Query parameter %q is a result option this route does not take.", key)
	}
	return nil
}

// onlyFilters refuses every option but _all, for PATCH and DELETE.
func (q *RowsQuery) onlyFilters() error {
	if len(q.Sort) > 0 || len(q.Columns) > 0 || len(q.Omit) > 0 || q.HasSize || q.Offset > 0 || q.Next != "" || q.Count {
		return forge.Inputf(CodeUnknownParameter, "PATCH and DELETE of rows take filters and _all only (no _sort, _col, _nocol, _size, _offset, _next, _count).")
	}
	return nil
}

// likeEscape makes s a LIKE pattern that matches s literally (ESCAPE '\').
func likeEscape(s string) string {
	if !strings.ContainsAny(s, `%_\`) {
		return s
	}
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '%' || c == '_' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
