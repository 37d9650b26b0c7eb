package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/praetorian/db-forge/client"
)

func (a *app) functionsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "functions", Aliases: []string{"function", "fn"},
		Short: "Deploy, list, describe, delete and call a database's WebAssembly functions"}
	fnTable := func(fs ...client.Function) table {
		t := table{cols: []string{"name", "size", "sha256", "created", "sql_function"}}
		for _, f := range fs {
			sf := ""
			if f.SQLFunction != nil {
				sf = fmt.Sprintf("%s/%d", f.SQLFunction.Name, f.SQLFunction.Args)
			}
			t.rows = append(t.rows, []any{f.Name, f.Size, f.SHA256, f.Created, sf})
		}
		return t
	}
	var sqlName string
	var sqlArgs int
	var deterministic bool
	deploy := &cobra.Command{
		Use:   "deploy DB NAME FILE [--sql-function NAME [--args N] [--deterministic]]",
		Short: "Deploy a module (FILE, - for standard input) as function NAME, replacing one of the name",
		Args:  exactArgs(3, "a database name, a function name and a module file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in io.Reader = a.in
			if args[2] != "-" {
				f, err := os.Open(args[2])
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			var o *client.DeployOptions
			if sqlName != "" {
				o = &client.DeployOptions{SQLFunction: &client.SQLFunction{Name: sqlName, Args: sqlArgs, Deterministic: deterministic}}
			} else if cmd.Flags().Changed("args") || deterministic {
				return usageError{"--args and --deterministic go with --sql-function NAME"}
			}
			f, created, err := a.c.DB(args[0]).DeployFunction(a.ctx, args[1], in, o)
			if err != nil {
				return err
			}
			t := fnTable(*f)
			t.cols = append([]string{"status"}, t.cols...)
			t.rows[0] = append([]any{map[bool]string{true: "created", false: "replaced"}[created]}, t.rows[0]...)
			return a.print(f, t)
		},
	}
	deploy.Flags().StringVar(&sqlName, "sql-function", "", "also make it a scalar SQL function of this name")
	deploy.Flags().IntVar(&sqlArgs, "args", 1, "the SQL function's number of arguments (-1: any)")
	deploy.Flags().BoolVar(&deterministic, "deterministic", false, "the SQL function always answers the same for the same arguments")
	list := &cobra.Command{
		Use: "list DB", Short: "List the database's functions by name", Args: exactArgs(1, "a database name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			fs, err := a.c.DB(args[0]).Functions(a.ctx)
			if err != nil {
				return err
			}
			if fs == nil {
				fs = []client.Function{}
			}
			return a.print(map[string]any{"functions": fs}, fnTable(fs...))
		},
	}
	info := &cobra.Command{
		Use: "info DB NAME", Short: "Describe a function: size, sha256, exports", Args: exactArgs(2, "a database name and a function name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := a.c.DB(args[0]).Function(a.ctx, args[1])
			if err != nil {
				return err
			}
			t := fnTable(*f)
			t.cols = append(t.cols, "exports")
			t.rows[0] = append(t.rows[0], strings.Join(f.Exports, ","))
			return a.print(f, t)
		},
	}
	del := &cobra.Command{
		Use: "delete DB NAME", Short: "Delete a function (asks; --yes)", Args: exactArgs(2, "a database name and a function name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.confirm(fmt.Sprintf("Delete function %q of %q?", args[1], args[0])); err != nil {
				return err
			}
			if err := a.c.DB(args[0]).DeleteFunction(a.ctx, args[1]); err != nil {
				return err
			}
			return a.print(map[string]string{"message": "Function deleted.", "db_name": args[0], "function": args[1]},
				table{cols: []string{"message", "function"}, rows: [][]any{{"Function deleted.", args[1]}}})
		},
	}
	var file, contentType string
	var callTimeout time.Duration
	call := &cobra.Command{
		Use:   "call DB NAME [BODY] [-f FILE] [--content-type T]",
		Short: "Call a function with BODY (or a file, - for standard input; none: an empty body) and print its answer",
		Long: `Calls a function and writes its answer's bytes to standard output as they came
(--output does not apply). An error answer (4xx or 5xx: the function's own, which
rolled its statements back, or the gateway's) prints its code and detail on
standard error and exits with the code of its status (docs/CLI.md, Exit codes).`,
		Args: rangeArgs(2, 3, "a database name, a function name and, optionally, a body"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body []byte
			switch {
			case len(args) == 3 && file != "":
				return usageError{"give the body as an argument or with -f, not both"}
			case len(args) == 3:
				body = []byte(args[2])
			case file == "-":
				b, err := io.ReadAll(a.in)
				if err != nil {
					return err
				}
				body = b
			case file != "":
				b, err := os.ReadFile(file)
				if err != nil {
					return err
				}
				body = b
			}
			ans, err := a.c.DB(args[0]).CallFunction(a.ctx, args[1], body, &client.CallOptions{ContentType: contentType, Timeout: callTimeout})
			if err != nil {
				return err
			}
			_, err = a.out.Write(ans.Body)
			return err
		},
	}
	call.Flags().StringVarP(&file, "file", "f", "", "read the body from FILE (- for standard input)")
	call.Flags().StringVar(&contentType, "content-type", "", "the body's media type (default application/json)")
	call.Flags().DurationVar(&callTimeout, "call-timeout", 0, "the call's time limit on the gateway (X-Query-Timeout; default the gateway's)")
	cmd.AddCommand(deploy, list, info, del, call)
	return cmd
}

func (a *app) auditCommand() *cobra.Command {
	var since, keyID string
	var limit int
	cmd := &cobra.Command{
		Use:   "audit DB [--since T] [--key-id ID] [--limit N]",
		Short: "The database's statement audit log, newest first (the admin key or a key that may write)",
		Long: `Prints the database's audit log, newest first: when each statement that wrote
began, the key and request that sent it, the route, its outcome, the rows it
changed and its SQL. --since takes an RFC 3339 time (2026-01-02T15:04:05Z) or a
duration back from now (1h, 30m); --key-id keeps one key's records; --limit is
100 by default, at most 1000.`,
		Args: exactArgs(1, "a database name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := &client.AuditQuery{KeyID: keyID, Limit: limit}
			if since != "" {
				if d, err := time.ParseDuration(since); err == nil && d > 0 {
					q.Since = time.Now().Add(-d)
				} else if t, err := time.Parse(time.RFC3339Nano, since); err == nil {
					q.Since = t
				} else {
					return usageError{fmt.Sprintf("--since must be an RFC 3339 time or a duration like 1h, not %q", since)}
				}
			}
			if limit < 0 {
				return usageError{"--limit must be positive"}
			}
			recs, err := a.c.DB(args[0]).Audit(a.ctx, q)
			if err != nil {
				return err
			}
			if recs == nil {
				recs = []client.AuditRecord{}
			}
			t := table{cols: []string{"id", "time", "key_id", "request_id", "route", "kind", "outcome", "rows", "duration_us", "sql", "error"}}
			for _, r := range recs {
				t.rows = append(t.rows, []any{r.ID, r.Time.UTC().Format(time.RFC3339Nano), r.KeyID, r.RequestID, r.Route, r.Kind, r.Outcome, r.Rows, r.DurationUS, r.SQL, r.Error})
			}
			return a.print(map[string]any{"db_name": args[0], "count": len(recs), "records": recs}, t)
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "records from this time on: RFC 3339, or a duration back from now (1h)")
	cmd.Flags().StringVar(&keyID, "key-id", "", "only this key's records")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many (default 100, at most 1000)")
	return cmd
}
