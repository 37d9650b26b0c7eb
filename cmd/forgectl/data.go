package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/praetorian/db-forge/client"
)

func (a *app) tablesCommand() *cobra.Command {
	return &cobra.Command{
		Use: "tables DB", Short: "List a database's tables and views", Args: exactArgs(1, "a database name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ts, err := a.c.DB(args[0]).Tables(a.ctx)
			if err != nil {
				return err
			}
			t := table{cols: []string{"name", "type", "rows"}}
			for _, x := range ts {
				t.rows = append(t.rows, []any{x.Name, x.Type, x.Rows})
			}
			if ts == nil {
				ts = []client.TableInfo{}
			}
			return a.print(map[string]any{"tables": ts}, t)
		},
	}
}

func (a *app) schemaCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "schema DB [TABLE]",
		Short: "Show the schema: the CREATE statements (table), or the described tables (json)",
		Args:  rangeArgs(1, 2, "a database name and, optionally, a table"),
		RunE: func(cmd *cobra.Command, args []string) error {
			db := a.c.DB(args[0])
			var tables []client.TableSchema
			if len(args) == 2 {
				t, err := db.Table(a.ctx, args[1], true)
				if err != nil {
					return err
				}
				tables = []client.TableSchema{*t}
			} else {
				var err error
				if tables, err = db.Schema(a.ctx, true); err != nil {
					return err
				}
			}
			if a.output == "table" {
				for _, t := range tables {
					fmt.Fprintln(a.out, schemaSQL(t))
				}
				return nil
			}
			t := table{cols: []string{"table", "column", "type", "not_null", "default", "pk"}}
			for _, x := range tables {
				for _, c := range x.Columns {
					t.rows = append(t.rows, []any{x.Name, c.Name, c.Type, c.NotNull, c.Default, c.PK})
				}
			}
			if tables == nil {
				tables = []client.TableSchema{}
			}
			return a.print(map[string]any{"tables": tables}, t)
		},
	}
}

// schemaSQL is a table's CREATE statement and its indexes' and triggers'.
func schemaSQL(t client.TableSchema) string {
	var b strings.Builder
	b.WriteString(t.SQL + ";")
	for _, i := range t.Indexes {
		if i.SQL != "" {
			b.WriteString("\n" + i.SQL + ";")
		}
	}
	for _, tr := range t.Triggers {
		if tr.SQL != "" {
			b.WriteString("\n" + tr.SQL + ";")
		}
	}
	return b.String()
}

func (a *app) rowsCommand() *cobra.Command {
	var where, sort, cols []string
	var limit int
	var count bool
	cmd := &cobra.Command{
		Use:   "rows DB TABLE",
		Short: "Read a table's rows: filters, sort, a limit",
		Long: `Read a table's rows. --where col=value filters (col__gt=5, col__contains=x:
docs/API.md, Filters), --sort col (or -col, descending), --col to choose
columns, --limit to read at most that many (default: every row, page by page).`,
		Args: exactArgs(2, "a database name and a table"),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := &client.RowsQuery{Where: client.Where{}, Sort: sort, Columns: cols, Count: count}
			for _, w := range where {
				k, v, ok := strings.Cut(w, "=")
				if !ok || k == "" {
					return usageError{fmt.Sprintf("--where wants col=value, not %q", w)}
				}
				q.Where.Add(k, v)
			}
			var rows []client.Row
			var total *int64
			for {
				q.Size = 1000
				if limit > 0 && limit-len(rows) < q.Size {
					q.Size = limit - len(rows)
				}
				page, err := a.c.DB(args[0]).Rows(a.ctx, args[1], q)
				if err != nil {
					return err
				}
				rows = append(rows, page.Data...)
				if page.Count != nil {
					total = page.Count
					q.Count = false
				}
				if page.Next == "" || (limit > 0 && len(rows) >= limit) {
					break
				}
				q.Next = page.Next
			}
			if rows == nil {
				rows = []client.Row{}
			}
			out := map[string]any{"data": jsonValue(rows), "rows_affected": len(rows)}
			if total != nil {
				out["count"] = *total
			}
			if a.output != "json" && total != nil {
				fmt.Fprintf(a.err, "%d rows match\n", *total)
			}
			order := cols
			if len(order) == 0 && a.output != "json" { // the table's own column order
				if ts, err := a.c.DB(args[0]).Table(a.ctx, args[1], false); err == nil {
					for _, c := range ts.Columns {
						order = append(order, c.Name)
					}
				}
			}
			return a.print(out, rowsTable(rows, order))
		},
	}
	cmd.Flags().StringArrayVarP(&where, "where", "w", nil, "a filter col=value or col__op=value (repeatable)")
	cmd.Flags().StringArrayVar(&sort, "sort", nil, "sort by a column, -col descending (repeatable)")
	cmd.Flags().StringArrayVar(&cols, "col", nil, "only these columns (repeatable)")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many rows")
	cmd.Flags().BoolVar(&count, "count", false, "also count every matching row (printed on stderr in table mode)")
	return cmd
}

func (a *app) importCommand() *cobra.Command {
	var tableName, format string
	cmd := &cobra.Command{
		Use:   "import DB FILE",
		Short: "Import an SQL script or a CSV file (--table), in one transaction",
		Long: `Import FILE ("-" for standard input) into a database, in one transaction:
an SQL script (.sql, or --format sql) or CSV (.csv, or --format csv) into
--table (created, typed from the values, when it does not exist). A progress
bar shows on a terminal.`,
		Args: exactArgs(2, "a database name and a file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format == "" {
				switch strings.ToLower(filepath.Ext(args[1])) {
				case ".csv":
					format = "csv"
				case ".sql":
					format = "sql"
				default:
					return usageError{"say --format sql or csv (the file's name does not)"}
				}
			}
			ct := client.ContentTypeSQL
			switch format {
			case "sql":
				if tableName != "" {
					return usageError{"--table goes with CSV"}
				}
			case "csv":
				ct = client.ContentTypeCSV
				if tableName == "" {
					return usageError{"a CSV import needs --table"}
				}
			default:
				return usageError{"--format is sql or csv"}
			}
			var in io.Reader = a.in
			if args[1] != "-" {
				f, err := os.Open(args[1])
				if err != nil {
					return err
				}
				defer f.Close()
				in = a.progressReader(f, "importing")
			}
			r, err := a.c.DB(args[0]).Import(a.ctx, in, ct, tableName)
			if err != nil {
				return err
			}
			t := table{cols: []string{"message", "statements"}, rows: [][]any{{r.Message, r.Statements}}}
			if format == "csv" {
				t = table{cols: []string{"message", "table", "created", "rows_affected"}, rows: [][]any{{r.Message, r.Table, r.Created, r.RowsAffected}}}
			}
			return a.print(r, t)
		},
	}
	cmd.Flags().StringVar(&tableName, "table", "", "the table a CSV file goes into")
	cmd.Flags().StringVar(&format, "format", "", "sql or csv (default: from the file's name)")
	return cmd
}

func (a *app) exportCommand() *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "export DB",
		Short: "Export a database: the SQLite file, or an SQL dump (--format sql)",
		Long: `Export a database to --out FILE, or to standard output: --format sqlite (the
database file, the default) or sql (a dump the sqlite3 shell and our import
replay). A progress bar shows on a terminal. A SQLite file is not written to a
terminal.`,
		Args: exactArgs(1, "a database name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "sqlite" && format != "sql" {
				return usageError{"--format is sqlite or sql"}
			}
			var w io.Writer = a.out
			if out == "" && format == "sqlite" && isTerminal(a.out) {
				return usageError{"a SQLite file is binary: give --out FILE, or redirect standard output"}
			}
			s, err := a.c.DB(args[0]).Export(a.ctx, format)
			if err != nil {
				return err
			}
			defer s.Close()
			var f *os.File
			if out != "" && out != "-" {
				f, err = os.Create(out + ".part")
				if err != nil {
					return err
				}
				defer os.Remove(out + ".part")
				defer f.Close()
				w = f
			}
			n, err := io.Copy(w, a.progressSized(s, s.Size, "exporting"))
			if err != nil {
				return fmt.Errorf("export cut after %d bytes: %w", n, err)
			}
			if f != nil {
				if err := f.Close(); err != nil {
					return err
				}
				if err := os.Rename(out+".part", out); err != nil {
					return err
				}
				fmt.Fprintf(a.err, "%s: %s bytes\n", out, strconv.FormatInt(n, 10))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "sqlite", "sqlite or sql")
	cmd.Flags().StringVar(&out, "out", "", "write to this file (default: standard output)")
	return cmd
}

// progressReader wraps a file in a progress bar on a terminal's stderr.
func (a *app) progressReader(f *os.File, what string) io.Reader {
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	return a.progressSized(f, size, what)
}

// progressSized shows a bar of size bytes (-1: unknown) while r is read,
// when stderr is a terminal; else r as it is.
func (a *app) progressSized(r io.Reader, size int64, what string) io.Reader {
	if !isTerminal(a.err) {
		return r
	}
	bar := progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(a.err),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionOnCompletion(func() { fmt.Fprint(a.err, "\r") }),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionThrottle(100_000_000),
	)
	pr := progressbar.NewReader(r, bar)
	return &pr
}
