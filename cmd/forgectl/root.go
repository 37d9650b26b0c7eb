package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/praetorian/db-forge/client"
)

// Exit codes: what a script can rely on (docs/CLI.md, Exit codes).
const (
	exitOK          = 0
	exitFailure     = 1 // anything else
	exitUsage       = 2 // a bad command line
	exitNotFound    = 3 // 404: database, table, key, checkpoint…
	exitForbidden   = 4 // 401, 403: no key, a wrong key, a read-only key
	exitConflict    = 5 // 409: exists already, a transaction ended…
	exitInvalid     = 6 // 400, 413, 415, 422: SQL errors, bad values
	exitUnavailable = 7 // no answer, 429, 5xx
	exitAborted     = 8 // a destructive command not confirmed
)

// app is one run of forgectl: its streams, settings and client.
type app struct {
	in       io.Reader
	out, err io.Writer
	getenv   func(string) string

	url, key string
	output   string
	yes      bool
	timeout  time.Duration

	c   *client.Client
	ctx context.Context
}

// usageError is a bad command line (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// errAborted: a destructive command was not confirmed (exit 8).
var errAborted = errors.New("not confirmed: nothing was done (pass --yes to confirm in a script)")

func run(args []string, in io.Reader, out, errOut io.Writer, getenv func(string) string) int {
	a := &app{in: in, out: out, err: errOut, getenv: getenv}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errOut)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	a.ctx = ctx
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	fmt.Fprintln(errOut, "forgectl: "+message(err))
	return code
}

// exitCode maps an error to the documented exit codes.
func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return exitUsage
	}
	if errors.Is(err, errAborted) {
		return exitAborted
	}
	var e *client.Error
	if errors.As(err, &e) {
		switch {
		case e.Status == 404:
			return exitNotFound
		case e.Status == 401 || e.Status == 403:
			return exitForbidden
		case e.Status == 409:
			return exitConflict
		case e.Status == 429 || e.Status >= 500:
			return exitUnavailable
		case e.Status >= 400:
			return exitInvalid
		}
		return exitFailure
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return exitUnavailable
	}
	var ue2 *url.Error
	if errors.As(err, &ue2) || strings.Contains(err.Error(), "connection refused") {
		return exitUnavailable
	}
	return exitFailure
}

// message is the one line printed for an error: "CODE: detail" for the
// gateway's errors.
func message(err error) string {
	var e *client.Error
	if errors.As(err, &e) {
		m := e.Code + ": " + e.Detail
		if e.StatementIndex != nil {
			m += fmt.Sprintf(" (statement %d)", *e.StatementIndex)
		}
		return m
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer within --timeout: " + err.Error()
	}
	return err.Error()
}

// isCobraUsage tells cobra's own command-line errors.
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least",
		"invalid argument", "flag needs an argument", "required flag", "requires exactly", "received "} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "forgectl",
		Short: "The command line of DB-Forge",
		Long: `forgectl manages DB-Forge databases and runs SQL on them over the HTTP API.

The gateway is FORGE_URL (default http://localhost:8000), the API key FORGE_KEY
(the admin key, or a database's key for its data commands); --url and --key
override them. --output picks table (default), json or csv.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			switch a.output {
			case "table", "json", "csv":
			default:
				return usageError{fmt.Sprintf("--output must be table, json or csv, not %q", a.output)}
			}
			if !cmd.Flags().Changed("key") {
				a.key = a.getenv("FORGE_KEY")
			}
			if a.timeout > 0 {
				ctx, cancel := context.WithTimeout(a.ctx, a.timeout)
				a.ctx = ctx
				cobra.OnFinalize(cancel)
			}
			opts := []client.Option{client.WithKey(a.key), client.WithUserAgent("forgectl")}
			a.c = client.New(a.url, opts...)
			return nil
		},
	}
	url := a.getenv("FORGE_URL")
	if url == "" {
		url = "http://localhost:8000"
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.url, "url", url, "the gateway's URL (FORGE_URL)")
	pf.StringVar(&a.key, "key", "", "the API key (default: FORGE_KEY)")
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table, json or csv")
	pf.BoolVarP(&a.yes, "yes", "y", false, "confirm destructive commands without asking")
	pf.DurationVar(&a.timeout, "timeout", 0, "give up after this long (e.g. 30s; default: no limit)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err.Error()} })
	root.AddCommand(a.dbCommand(), a.keysCommand(), a.queryCommand(), a.shellCommand(),
		a.tablesCommand(), a.schemaCommand(), a.rowsCommand(), a.importCommand(), a.exportCommand(),
		a.checkpointCommand(), a.branchCommand(), a.diffCommand(), a.functionsCommand(), a.auditCommand())
	root.CompletionOptions.HiddenDefaultCmd = false
	return root
}

// isTerminal tells whether r or w is a terminal.
func isTerminal(f any) bool {
	if x, ok := f.(interface{ Fd() uintptr }); ok {
		return term.IsTerminal(int(x.Fd()))
	}
	return false
}

// confirm asks on a terminal; without one, only --yes confirms.
func (a *app) confirm(question string) error {
	if a.yes {
		return nil
	}
	if !isTerminal(a.in) {
		return errAborted
	}
	fmt.Fprintf(a.err, "%s [y/N] ", question)
	line, _ := bufio.NewReader(a.in).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return errAborted
}

// exactArgs is cobra.ExactArgs as a usage error.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Sprintf("%s needs %s", cmd.CommandPath(), names)}
		}
		return nil
	}
}

func rangeArgs(min, max int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < min || len(args) > max {
			return usageError{fmt.Sprintf("%s needs %s", cmd.CommandPath(), names)}
		}
		return nil
	}
}
