package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/praetorian/db-forge/client"
)

func (a *app) queryCommand() *cobra.Command {
	var file string
	var params, named []string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "query DB [SQL]",
		Short: "Run SQL: from the argument, a file (-f) or standard input",
		Long: `Run SQL on a database: the SQL argument, or the file of -f ("-" is standard
input), or standard input when neither is given. One statement runs alone; a
script of several runs as one batch, in one transaction (all or nothing), and
each statement that returns rows is printed.

Parameters: -p binds ? in order (repeatable), --named binds :name (name=value).
A value that reads as JSON is that value (12, 1.5, null, true, "text"), any
other is text: -p 12 is the integer 12, -p 'it''s' the text.`,
		Args: rangeArgs(1, 2, "a database name and, optionally, SQL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var sql string
			switch {
			case len(args) == 2 && file != "":
				return usageError{"give the SQL as an argument or with -f, not both"}
			case len(args) == 2:
				sql = args[1]
			case file != "" && file != "-":
				b, err := os.ReadFile(file)
				if err != nil {
					return err
				}
				sql = string(b)
			default:
				b, err := io.ReadAll(a.in)
				if err != nil {
					return err
				}
				sql = string(b)
			}
			stmts := splitStatements(sql)
			if len(stmts) == 0 {
				return usageError{"no SQL to run"}
			}
			p, err := bindParams(params, named)
			if err != nil {
				return err
			}
			if p != nil && len(stmts) > 1 {
				return usageError{"parameters go with one statement, not a script"}
			}
			if dryRun {
				if len(stmts) > 1 {
					return usageError{"--dry-run takes one statement"}
				}
				return a.dryRun(a.c.DB(args[0]), stmts[0], p)
			}
			return a.runSQL(a.c.DB(args[0]), stmts, p, a.output)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "read the SQL from this file (- for standard input)")
	cmd.Flags().StringArrayVarP(&params, "param", "p", nil, "a positional parameter (repeatable)")
	cmd.Flags().StringArrayVar(&named, "named", nil, "a named parameter, name=value (repeatable)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "run the statement, commit nothing, and list the rows it would change")
	return cmd
}

// bindParams makes the parameters of the flags: positional or named.
func bindParams(pos, named []string) (any, error) {
	if len(pos) > 0 && len(named) > 0 {
		return nil, usageError{"use -p or --named, not both"}
	}
	if len(pos) > 0 {
		out := make([]any, len(pos))
		for i, s := range pos {
			out[i] = paramValue(s)
		}
		return out, nil
	}
	if len(named) > 0 {
		out := map[string]any{}
		for _, kv := range named {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, usageError{fmt.Sprintf("--named wants name=value, not %q", kv)}
			}
			out[k] = paramValue(v)
		}
		return out, nil
	}
	return nil, nil
}

func paramValue(s string) any {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err == nil && !d.More() {
		switch x := v.(type) {
		case json.Number, string, bool, nil:
			return x
		}
	}
	return s
}

// runSQL runs statements (one alone, several as a batch) and prints
// their results in mode.
func (a *app) runSQL(db *client.DB, stmts []string, params any, mode string) error {
	return runSQLTo(a, a.out, db, stmts, params, mode)
}

func runSQLTo(a *app, w io.Writer, db *client.DB, stmts []string, params any, mode string) error {
	if len(stmts) == 1 {
		r, err := db.Exec(a.ctx, client.Statement{SQL: stmts[0], Params: params, Shape: "arrays"}, nil)
		if err != nil {
			return err
		}
		return printAs(w, mode, resultJSON(r), resultTable(r))
	}
	list := make([]client.Statement, len(stmts))
	for i, s := range stmts {
		list[i] = client.Statement{SQL: s, Shape: "arrays"}
	}
	res, err := db.Batch(a.ctx, list, nil)
	if err != nil {
		return err
	}
	if mode == "json" {
		all := make([]any, len(res.Results))
		for i := range res.Results {
			all[i] = resultJSON(&res.Results[i])
		}
		return printAs(w, mode, map[string]any{"results": all}, table{})
	}
	var changed int64
	printed := false
	for i := range res.Results {
		r := &res.Results[i]
		if r.Columns == nil {
			changed += r.RowsAffected
			continue
		}
		if printed && mode == "table" {
			fmt.Fprintln(w)
		}
		if err := printAs(w, mode, nil, resultTable(r)); err != nil {
			return err
		}
		printed = true
	}
	if !printed {
		return printAs(w, mode, nil, table{cols: []string{"statements", "rows_affected"}, rows: [][]any{{len(stmts), changed}}})
	}
	return nil
}

var triggerStart = regexp.MustCompile(`(?i)^\s*CREATE\s+(TEMP\s+|TEMPORARY\s+)?TRIGGER\b`)
var endsWithEnd = regexp.MustCompile(`(?i)\bEND\s*$`)

// splitStatements splits SQL text into statements at each ; outside
// quotes, comments and a trigger's body (the sqlite3 shell's rule).
// Text after the last ; is a statement too; empty ones are dropped.
func splitStatements(sql string) []string {
	stmts, rest := scanStatements(sql)
	if strings.TrimSpace(stripComments(rest)) != "" {
		stmts = append(stmts, strings.TrimSpace(rest))
	}
	return stmts
}

// scanStatements returns the complete statements of sql and the text
// after the last one (incomplete, or blank).
func scanStatements(sql string) (stmts []string, rest string) {
	start := 0
	for i := 0; i < len(sql); i++ {
		switch c := sql[i]; c {
		case '\'', '"', '`':
			j := strings.IndexByte(sql[i+1:], c)
			if j < 0 {
				return stmts, sql[start:]
			}
			i += j + 1
		case '[':
			j := strings.IndexByte(sql[i+1:], ']')
			if j < 0 {
				return stmts, sql[start:]
			}
			i += j + 1
		case '-':
			if i+1 < len(sql) && sql[i+1] == '-' {
				j := strings.IndexByte(sql[i:], '\n')
				if j < 0 {
					return stmts, sql[start:]
				}
				i += j
			}
		case '/':
			if i+1 < len(sql) && sql[i+1] == '*' {
				j := strings.Index(sql[i+2:], "*/")
				if j < 0 {
					return stmts, sql[start:]
				}
				i += j + 3
			}
		case ';':
			s := sql[start:i]
			if triggerStart.MatchString(stripComments(s)) && !endsWithEnd.MatchString(stripComments(s)) {
				continue // inside the trigger's body
			}
			if t := strings.TrimSpace(s); strings.TrimSpace(stripComments(t)) != "" {
				stmts = append(stmts, t)
			}
			start = i + 1
		}
	}
	return stmts, sql[start:]
}

var comments = regexp.MustCompile(`(?s)--[^\n]*|/\*.*?\*/`)

// stripComments drops comments (good enough to tell blank text: quotes
// holding "--" are not at issue there).
func stripComments(s string) string { return comments.ReplaceAllString(s, " ") }

// dryRun runs one statement as a dry run and prints its result, then the
// rows it changed (table, csv), or the whole answer (json).
func (a *app) dryRun(db *client.DB, sql string, params any) error {
	r, err := db.Exec(a.ctx, client.Statement{SQL: sql, Params: params, Shape: "arrays"}, &client.ExecOptions{DryRun: true})
	if err != nil {
		return err
	}
	changes := table{cols: []string{"table", "op", "key", "before", "after"}}
	for _, ch := range r.Changes {
		changes.rows = append(changes.rows, []any{ch.Table, ch.Op, jsonValue(ch.Key), rowOrNil(ch.Before), rowOrNil(ch.After)})
	}
	if a.output == "json" {
		v := resultJSON(r).(map[string]any)
		v["dry_run"] = true
		v["changes"] = r.Changes
		v["changes_truncated"] = r.ChangesTruncated
		if r.ChangesComplete != nil {
			v["changes_complete"] = *r.ChangesComplete
		}
		return a.print(v, table{})
	}
	if err := a.print(nil, resultTable(r)); err != nil {
		return err
	}
	fmt.Fprintln(a.out)
	if err := a.print(nil, changes); err != nil {
		return err
	}
	if r.ChangesTruncated || (r.ChangesComplete != nil && !*r.ChangesComplete) {
		fmt.Fprintln(a.err, "forgectl: the list of changes is incomplete (see docs/API.md, Dry runs)")
	}
	fmt.Fprintln(a.err, "dry run: nothing was committed")
	return nil
}
