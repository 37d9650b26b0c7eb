package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/chzyer/readline"
	"github.com/spf13/cobra"

	"github.com/praetorian/db-forge/client"
)

const shellHelp = `Enter SQL statements ending with ";" (they may span lines), or:
.tables            list the tables and views
.schema [TABLE]    show the CREATE statements
.mode [MODE]       show or set the output: table, json or csv
.help              this help
.quit, .exit       leave (also Ctrl-D)
BEGIN; … COMMIT; (or ROLLBACK;) run the statements between them in one
transaction; the prompt shows "*" while it is open.
`

func (a *app) shellCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "shell DB",
		Short: "An interactive SQL prompt: multi-line statements, history, .tables/.schema/.mode",
		Long: `An interactive SQL prompt on a database, like the sqlite3 shell: a statement
runs when a line ends it with ";" (it may span lines); Ctrl-C drops the
statement being typed, Ctrl-D leaves. History is kept in FORGECTL_HISTORY
(default ~/.forgectl_history). Dot commands: .tables, .schema [TABLE],
.mode table|json|csv, .help, .quit.`,
		Args: exactArgs(1, "a database name"),
		RunE: func(cmd *cobra.Command, args []string) error { return a.shell(args[0]) },
	}
}

func (a *app) shell(name string) error {
	db := a.c.DB(name)
	// Check the database and the key once, at the start.
	if _, err := db.Tables(a.ctx); err != nil {
		return err
	}
	interactive := isTerminal(a.in) && isTerminal(a.out)
	history := a.getenv("FORGECTL_HISTORY")
	if !interactive {
		history = "" // a script's lines are not history
	} else if history == "" {
		if home, err := os.UserHomeDir(); err == nil {
			history = filepath.Join(home, ".forgectl_history")
		}
	}
	prompt, more := name+"> ", strings.Repeat(" ", max(len(name)-3, 0))+"...> "
	rl, err := readline.NewEx(&readline.Config{
		Prompt:                 prompt,
		HistoryFile:            history,
		HistorySearchFold:      true,
		InterruptPrompt:        "^C",
		EOFPrompt:              "",
		Stdin:                  io.NopCloser(a.in),
		Stdout:                 a.out,
		Stderr:                 a.err,
		DisableAutoSaveHistory: true,
		FuncIsTerminal:         func() bool { return interactive },
	})
	if err != nil {
		return err
	}
	defer rl.Close()
	mode := a.output
	var tx *client.Tx // the interactive transaction BEGIN opened, until COMMIT or ROLLBACK
	defer func() {
		if tx != nil {
			_ = tx.Rollback(context.WithoutCancel(a.ctx))
			fmt.Fprintln(a.out, "The open transaction was rolled back.")
		}
	}()
	txPrompt := name + "*> "
	if interactive {
		fmt.Fprintf(a.out, "forgectl shell on %s at %s. \".help\" for help.\n", name, a.url)
	}
	var buf strings.Builder
	for {
		switch {
		case buf.Len() == 0 && tx != nil:
			rl.SetPrompt(txPrompt)
		case buf.Len() == 0:
			rl.SetPrompt(prompt)
		default:
			rl.SetPrompt(more)
		}
		line, err := rl.Readline()
		if errors.Is(err, readline.ErrInterrupt) {
			buf.Reset()
			continue
		}
		if err != nil { // io.EOF: Ctrl-D or the end of the input
			if rest := strings.TrimSpace(buf.String()); rest != "" {
				tx = a.shellRun(db, tx, []string{rest}, mode)
			}
			return nil
		}
		if buf.Len() == 0 && strings.HasPrefix(strings.TrimSpace(line), ".") {
			_ = rl.SaveHistory(line)
			quit, newMode := a.dotCommand(db, strings.Fields(strings.TrimSpace(line)), mode)
			if quit {
				return nil
			}
			mode = newMode
			continue
		}
		if buf.Len() == 0 && strings.TrimSpace(line) == "" {
			continue
		}
		buf.WriteString(line)
		buf.WriteByte('\n')
		stmts, rest := scanStatements(buf.String())
		if len(stmts) == 0 {
			continue
		}
		_ = rl.SaveHistory(strings.TrimSpace(strings.TrimSuffix(buf.String(), rest)))
		buf.Reset()
		if strings.TrimSpace(stripComments(rest)) != "" {
			buf.WriteString(strings.TrimLeft(rest, " \t\n"))
		}
		tx = a.shellRun(db, tx, stmts, mode)
	}
}

var (
	beginRe    = regexp.MustCompile(`(?i)^BEGIN(\s+(DEFERRED|IMMEDIATE|EXCLUSIVE))?(\s+TRANSACTION)?$`)
	commitRe   = regexp.MustCompile(`(?i)^(COMMIT|END)(\s+TRANSACTION)?$`)
	rollbackRe = regexp.MustCompile(`(?i)^ROLLBACK(\s+TRANSACTION)?$`)
)

// shellRun runs statements one by one and prints their results, or the
// error, and goes on. BEGIN, COMMIT and ROLLBACK open and end an
// interactive transaction (docs/API.md, Transactions): the statements
// between them run in it. It returns the transaction open after them.
func (a *app) shellRun(db *client.DB, tx *client.Tx, stmts []string, mode string) *client.Tx {
	for _, s := range stmts {
		bare := strings.Join(strings.Fields(stripComments(s)), " ")
		var err error
		switch {
		case beginRe.MatchString(bare):
			if tx != nil {
				err = errors.New("a transaction is open already: COMMIT or ROLLBACK it first")
				break
			}
			// The longest lease the gateway allows by default: a person
			// types slowly; each statement renews it.
			tx, err = db.Begin(a.ctx, &client.TxOptions{Timeout: 300 * time.Second})
			if errors.Is(err, client.ErrInvalidTransactionTimeout) {
				tx, err = db.Begin(a.ctx, nil)
			}
		case commitRe.MatchString(bare) || rollbackRe.MatchString(bare):
			if tx == nil {
				err = errors.New("no transaction is open")
				break
			}
			if commitRe.MatchString(bare) {
				err = tx.Commit(a.ctx)
			} else {
				err = tx.Rollback(a.ctx)
			}
			tx = nil
		default:
			var r *client.Result
			if tx != nil {
				r, err = tx.Exec(a.ctx, client.Statement{SQL: s, Shape: "arrays"}, nil)
			} else {
				r, err = db.Exec(a.ctx, client.Statement{SQL: s, Shape: "arrays"}, nil)
			}
			if err == nil {
				err = printAs(a.out, mode, resultJSON(r), resultTable(r))
			}
			if errors.Is(err, client.ErrTransactionExpired) || errors.Is(err, client.ErrTransactionAborted) ||
				errors.Is(err, client.ErrTransactionEnded) || errors.Is(err, client.ErrTransactionNotFound) {
				tx = nil
			}
		}
		if err != nil {
			fmt.Fprintln(a.out, "Error: "+message(err))
			return tx
		}
	}
	return tx
}

// dotCommand runs a dot command; it says whether to leave and the mode.
func (a *app) dotCommand(d *client.DB, f []string, mode string) (quit bool, newMode string) {
	switch f[0] {
	case ".quit", ".exit", ".q":
		return true, mode
	case ".help":
		fmt.Fprint(a.out, shellHelp)
	case ".mode":
		if len(f) == 1 {
			fmt.Fprintln(a.out, "current output mode: "+mode)
			break
		}
		switch f[1] {
		case "table", "json", "csv":
			return false, f[1]
		default:
			fmt.Fprintln(a.out, "Error: .mode is table, json or csv")
		}
	case ".tables":
		ts, err := d.Tables(a.ctx)
		if err != nil {
			fmt.Fprintln(a.out, "Error: "+message(err))
			break
		}
		names := make([]string, len(ts))
		for i, t := range ts {
			names[i] = t.Name
		}
		if len(names) > 0 {
			fmt.Fprintln(a.out, strings.Join(names, "  "))
		}
	case ".schema":
		var err error
		if len(f) > 1 {
			t, terr := d.Table(a.ctx, f[1], true)
			if err = terr; err == nil {
				fmt.Fprintln(a.out, schemaSQL(*t))
			}
		} else {
			ts, serr := d.Schema(a.ctx, true)
			if err = serr; err == nil {
				for _, t := range ts {
					fmt.Fprintln(a.out, schemaSQL(t))
				}
			}
		}
		if err != nil {
			fmt.Fprintln(a.out, "Error: "+message(err))
		}
	default:
		fmt.Fprintf(a.out, "Error: unknown command %s; .help lists them\n", f[0])
	}
	return false, mode
}
