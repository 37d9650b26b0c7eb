// Package worker is the program inside every database's Docker worker
// container (cmd/forge-worker). The worker holds its database's volume — the
// bind mount of that one database's directory at /data — and gives the
// operator two tools on it:
//
//	forge-worker            hold the volume until SIGTERM (the default)
//	forge-worker health     the image's HEALTHCHECK: the file is there and
//	                        readable, and PRAGMA quick_check passes on a
//	                        read-only connection (shared locks only)
//	forge-worker sql [-c SQL]
//	                        an SQL shell on the database, like the sqlite3
//	                        CLI; -c runs the statements and exits
//
// SQLite runs through ncruces/go-sqlite3 in wazero's interpreter: a health
// check starts in milliseconds instead of compiling SQLite (about 2 s), and
// needs no writable cache in a read-only container.
package worker

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ncruces/go-sqlite3"
	_ "github.com/ncruces/go-sqlite3/embed"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Env names the worker reads. The container spec sets them.
const (
	EnvDB      = "FORGE_WORKER_DB"       // database name; the file is <data>/<name>.db
	EnvDataDir = "FORGE_WORKER_DATA_DIR" // the mount point, default /data
)

// Run is the worker's main; it returns the process exit code.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	path, err := dbPath(getenv)
	if err != nil {
		fmt.Fprintln(stderr, "forge-worker:", err)
		return 2
	}
	cmd := "hold"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "hold":
		return hold(ctx, path, stdout)
	case "health":
		if err := Health(path); err != nil {
			fmt.Fprintln(stderr, "unhealthy:", err)
			return 1
		}
		fmt.Fprintln(stdout, "ok")
		return 0
	case "sql":
		return shell(path, args, stdin, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, "usage: forge-worker [hold | health | sql [-c SQL]]")
		return 0
	}
	fmt.Fprintf(stderr, "forge-worker: unknown command %q (want hold, health or sql)\n", cmd)
	return 2
}

func dbPath(getenv func(string) string) (string, error) {
	name := getenv(EnvDB)
	if name == "" || strings.ContainsAny(name, "/\\\x00") || name == "." || name == ".." {
		return "", fmt.Errorf("%s must name the database", EnvDB)
	}
	dir := getenv(EnvDataDir)
	if dir == "" {
		dir = "/data"
	}
	return filepath.Join(dir, name+".db"), nil
}

// hold keeps the container alive, holding the volume, until ctx ends (the
// signal handler in main cancels it on SIGTERM or SIGINT).
func hold(ctx context.Context, path string, stdout io.Writer) int {
	fmt.Fprintf(stdout, "forge-worker: holding %s\n", path)
	<-ctx.Done()
	fmt.Fprintln(stdout, "forge-worker: stopping")
	return 0
}

var initOnce sync.Once

// initSQLite selects wazero's interpreter: no compilation at start.
func initSQLite() {
	initOnce.Do(func() {
		sqlite3.RuntimeConfig = wazero.NewRuntimeConfigInterpreter().
			WithCoreFeatures(api.CoreFeaturesV2).
			WithMemoryLimitPages(1024) // 64 MiB
	})
}

// Health checks the database the way the image's HEALTHCHECK needs.
func Health(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("not readable: %w", err)
	}
	_ = f.Close()
	initSQLite()
	// Read-only: quick_check takes shared locks only, never the write lock,
	// so it cannot block the gateway's writer.
	db, err := sqlite3.OpenFlags(path, sqlite3.OPEN_READONLY)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.BusyTimeout(5 * time.Second); err != nil {
		return err
	}
	st, _, err := db.Prepare("PRAGMA quick_check")
	if err != nil {
		return err
	}
	defer st.Close()
	var problems []string
	for st.Step() {
		if r := st.ColumnText(0); r != "ok" {
			problems = append(problems, r)
		}
	}
	if err := st.Err(); err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("quick_check: %s", strings.Join(problems, "; "))
	}
	return nil
}

func shell(path string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sql", flag.ContinueOnError)
	fs.SetOutput(stderr)
	command := fs.String("c", "", "run these SQL statements and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if _, err := os.Stat(path); err != nil {
		fmt.Fprintln(stderr, "forge-worker:", err)
		return 1
	}
	initSQLite()
	db, err := sqlite3.OpenFlags(path, sqlite3.OPEN_READWRITE)
	if err != nil {
		fmt.Fprintln(stderr, "forge-worker:", err)
		return 1
	}
	defer db.Close()
	_ = db.BusyTimeout(5 * time.Second)
	if *command != "" {
		if err := execute(db, *command, stdout); err != nil {
			fmt.Fprintln(stderr, "Error:", err)
			return 1
		}
		return 0
	}
	return repl(db, stdin, stdout, stderr)
}

// repl reads statements until EOF or .quit. A statement may span lines: the
// buffer runs once SQLite no longer reports it incomplete.
func repl(db *sqlite3.Conn, stdin io.Reader, stdout, stderr io.Writer) int {
	interactive := isTerminal(stdin)
	in := bufio.NewScanner(stdin)
	in.Buffer(make([]byte, 64<<10), 16<<20)
	var buf strings.Builder
	prompt := func() {
		if !interactive {
			return
		}
		if buf.Len() == 0 {
			fmt.Fprint(stdout, "forge> ")
		} else {
			fmt.Fprint(stdout, "  ...> ")
		}
	}
	failed := false
	prompt()
	for in.Scan() {
		line := in.Text()
		if buf.Len() == 0 && strings.HasPrefix(strings.TrimSpace(line), ".") {
			if dot(db, strings.TrimSpace(line), stdout, stderr) {
				return 0
			}
			prompt()
			continue
		}
		buf.WriteString(line)
		buf.WriteByte('\n')
		if !strings.HasSuffix(strings.TrimSpace(line), ";") {
			prompt()
			continue
		}
		err := execute(db, buf.String(), stdout)
		if errors.Is(err, errIncomplete) {
			prompt()
			continue
		}
		buf.Reset()
		if err != nil {
			failed = true
			fmt.Fprintln(stderr, "Error:", err)
		}
		prompt()
	}
	if buf.Len() > 0 && strings.TrimSpace(buf.String()) != "" {
		if err := execute(db, buf.String(), stdout); err != nil {
			fmt.Fprintln(stderr, "Error:", err)
			failed = true
		}
	}
	if failed && !interactive {
		return 1
	}
	return 0
}

var errIncomplete = errors.New("incomplete statement")

// execute runs every statement in sql, printing rows in the sqlite3 CLI's
// list mode with a header line.
func execute(db *sqlite3.Conn, sql string, out io.Writer) error {
	for {
		st, tail, err := db.Prepare(sql)
		if err != nil {
			if strings.Contains(err.Error(), "incomplete input") {
				return errIncomplete
			}
			return err
		}
		if st == nil {
			return nil
		}
		err = printRows(st, out)
		_ = st.Close()
		if err != nil {
			return err
		}
		sql = tail
	}
}

func printRows(st *sqlite3.Stmt, out io.Writer) error {
	w := bufio.NewWriter(out)
	defer w.Flush()
	n := st.ColumnCount()
	header := false
	for st.Step() {
		if !header && n > 0 {
			for i := range n {
				if i > 0 {
					w.WriteByte('|')
				}
				w.WriteString(st.ColumnName(i))
			}
			w.WriteByte('\n')
			header = true
		}
		for i := range n {
			if i > 0 {
				w.WriteByte('|')
			}
			switch st.ColumnType(i) {
			case sqlite3.NULL:
			case sqlite3.BLOB:
				fmt.Fprintf(w, "X'%X'", st.ColumnRawBlob(i))
			default:
				w.Write(st.ColumnRawText(i))
			}
		}
		w.WriteByte('\n')
	}
	return st.Err()
}

// dot runs a dot-command; it reports whether the shell should exit.
func dot(db *sqlite3.Conn, cmd string, stdout, stderr io.Writer) bool {
	switch fields := strings.Fields(cmd); fields[0] {
	case ".quit", ".exit":
		return true
	case ".tables":
		if err := execute(db, "SELECT name FROM sqlite_schema WHERE type IN ('table','view') AND name NOT LIKE 'sqlite_%' ORDER BY name;", stdout); err != nil {
			fmt.Fprintln(stderr, "Error:", err)
		}
	case ".schema":
		if err := execute(db, "SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY rowid;", stdout); err != nil {
			fmt.Fprintln(stderr, "Error:", err)
		}
	case ".help":
		fmt.Fprintln(stdout, ".tables   list tables and views\n.schema   show CREATE statements\n.quit     leave")
	default:
		fmt.Fprintf(stderr, "Error: unknown command %s (try .help)\n", fields[0])
	}
	return false
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
