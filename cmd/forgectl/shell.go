package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/chzyer/readline"
	"github.com/spf13/cobra"
)

const shellHelp = `Enter SQL statements ending with ";" (they may span lines), or:
.tables            list the tables and views
.schema [TABLE]    show the CREATE statements
.mode [MODE]       show or set the output: table, json or csv
.help              this help
.quit, .exit       leave (also Ctrl-D)
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
		FuncIsTerminal:         func() bool { return isTerminal(a.in) && isTerminal(a.out) },
	})
	if err != nil {
		return err
	}
	defer rl.Close()
	mode := a.output
	if interactive {
		fmt.Fprintf(a.out, "forgectl shell on %s at %s. \".help\" for help.\n", name, a.url)
	}
	var buf strings.Builder
	for {
		if buf.Len() == 0 {
			rl.SetPrompt(prompt)
		} else {
			rl.SetPrompt(more)
		}
		line, err := rl.Readline()
		if errors.Is(err, readline.ErrInterrupt) {
			buf.Reset()
			continue
		}
		if err != nil { // io.EOF: Ctrl-D or the end of the input
			if rest := strings.TrimSpace(buf.String()); rest != "" {
				a.shellRun(db, []string{rest}, mode)
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
		a.shellRun(db, stmts, mode)
	}
}

// shellRun runs statements one by one and prints their results, or the
// error, and goes on.
func (a *app) shellRun(db interface{ Name() string }, stmts []string, mode string) {
	for _, s := range stmts {
		if err := runSQLTo(a, a.out, a.c.DB(db.Name()), []string{s}, nil, mode); err != nil {
			fmt.Fprintln(a.out, "Error: "+message(err))
			return
		}
	}
}

// dotCommand runs a dot command; it says whether to leave and the mode.
func (a *app) dotCommand(db interface{ Name() string }, f []string, mode string) (quit bool, newMode string) {
	d := a.c.DB(db.Name())
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
