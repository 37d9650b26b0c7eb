package main

import (
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/praetorian/db-forge/client"
)

// A table of output: columns and rows of values.
type table struct {
	cols []string
	rows [][]any
}

// print writes v as the --output format asks: JSON as the API's answer
// (v), or t as a table or CSV.
func (a *app) print(v any, t table) error {
	return printAs(a.out, a.output, v, t)
}

func printAs(w io.Writer, mode string, v any, t table) error {
	switch mode {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(jsonValue(v))
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write(t.cols)
		for _, r := range t.rows {
			rec := make([]string, len(r))
			for i, x := range r {
				rec[i] = cell(x, true)
			}
			_ = cw.Write(rec)
		}
		cw.Flush()
		return cw.Error()
	default:
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(t.cols, "\t"))
		for _, r := range t.rows {
			cells := make([]string, len(r))
			for i, x := range r {
				cells[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(cell(x, false))
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		return tw.Flush()
	}
}

// cell writes one value: NULL as "NULL" in a table and "" in CSV, a blob
// as x'…', times in RFC 3339.
func cell(v any, forCSV bool) string {
	switch x := v.(type) {
	case nil:
		if forCSV {
			return ""
		}
		return "NULL"
	case string:
		return x
	case []byte:
		return "x'" + hex.EncodeToString(x) + "'"
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEnN") { // a REAL keeps its fraction, as the API writes it
			s += ".0"
		}
		return s
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return x.UTC().Format(time.RFC3339)
	case *time.Time:
		if x == nil {
			return ""
		}
		return x.UTC().Format(time.RFC3339)
	case *int64:
		if x == nil {
			return ""
		}
		return strconv.FormatInt(*x, 10)
	case *string:
		if x == nil {
			return ""
		}
		return *x
	}
	b, _ := json.Marshal(jsonValue(v))
	return string(b)
}

// jsonValue makes results printable as JSON: blobs in the API's form.
func jsonValue(v any) any {
	switch x := v.(type) {
	case []byte:
		return client.Blob(x)
	case client.Row:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = jsonValue(e)
		}
		return m
	case []client.Row:
		s := make([]any, len(x))
		for i, r := range x {
			s[i] = jsonValue(r)
		}
		return s
	case [][]any:
		s := make([]any, len(x))
		for i, r := range x {
			s[i] = jsonValue(r)
		}
		return s
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = jsonValue(e)
		}
		return s
	}
	return v
}

// rowsTable makes a table of rows whose column order is unknown (maps):
// the columns in the order given, then the others by name.
func rowsTable(rows []client.Row, order []string) table {
	seen := map[string]bool{}
	cols := append([]string(nil), order...)
	for _, c := range order {
		seen[c] = true
	}
	var extra []string
	for _, r := range rows {
		for k := range r {
			if !seen[k] {
				seen[k] = true
				extra = append(extra, k)
			}
		}
	}
	sort.Strings(extra)
	cols = append(cols, extra...)
	t := table{cols: cols}
	for _, r := range rows {
		row := make([]any, len(cols))
		for i, c := range cols {
			row[i] = r[c]
		}
		t.rows = append(t.rows, row)
	}
	return t
}

// resultTable is the table of a statement's result (arrays shape), or
// its message.
func resultTable(r *client.Result) table {
	if r.Columns != nil {
		return table{cols: r.Columns, rows: r.Rows}
	}
	if r.Data != nil {
		return rowsTable(r.Data, nil)
	}
	return table{cols: []string{"message", "rows_affected"}, rows: [][]any{{r.Message, r.RowsAffected}}}
}

// resultJSON is the JSON of a result as the query route answers it.
func resultJSON(r *client.Result) any {
	if r.Columns != nil {
		m := map[string]any{"columns": r.Columns, "rows": jsonValue(r.Rows), "rows_affected": r.RowsAffected}
		if r.Truncated {
			m["truncated"] = true
		}
		if r.Meta != nil {
			m["meta"] = r.Meta
		}
		return m
	}
	return map[string]any{"message": r.Message, "rows_affected": r.RowsAffected, "meta": r.Meta}
}
