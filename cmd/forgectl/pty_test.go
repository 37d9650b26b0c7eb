package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ptyTerm is forgectl running under a pseudo-terminal.
type ptyTerm struct {
	t    *testing.T
	f    *os.File
	cmd  *exec.Cmd
	mu   sync.Mutex
	buf  bytes.Buffer
	seen int // the part of buf expect has consumed
	done chan struct{}
}

func startPTY(t *testing.T, env []string, args ...string) *ptyTerm {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"FORGE_URL=" + gatewayURL, "FORGE_KEY=" + adminKey, "HOME=" + homeDir, "TERM=xterm"}, env...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	tm := &ptyTerm{t: t, f: f, cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(tm.done)
		b := make([]byte, 4096)
		for {
			n, err := f.Read(b)
			tm.mu.Lock()
			tm.buf.Write(b[:n])
			tm.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = f.Close()
	})
	return tm
}

// expect waits until the output after what was consumed holds s, and
// consumes up to its end. The wait is bounded only to fail a hung run.
func (tm *ptyTerm) expect(s string) {
	tm.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		tm.mu.Lock()
		rest := tm.buf.String()[tm.seen:]
		if i := strings.Index(rest, s); i >= 0 {
			tm.seen += i + len(s)
			tm.mu.Unlock()
			return
		}
		tm.mu.Unlock()
		if time.Now().After(deadline) {
			tm.t.Fatalf("no %q in the terminal's output:\n%s", s, rest)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (tm *ptyTerm) send(s string) {
	tm.t.Helper()
	if _, err := tm.f.Write([]byte(s)); err != nil {
		tm.t.Fatal(err)
	}
}

// wait waits for the process to end and returns its exit code.
func (tm *ptyTerm) wait() int {
	tm.t.Helper()
	err := tm.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		tm.t.Fatal(err)
	}
	return 0
}

func TestShell(t *testing.T) {
	ok(t, "", "db", "create", "sh1")
	t.Cleanup(func() { forgectl(t, "", "db", "delete", "sh1", "--yes") })
	ok(t, "", "query", "sh1", "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT)")
	hist := filepath.Join(t.TempDir(), "history")
	tm := startPTY(t, []string{"FORGECTL_HISTORY=" + hist}, "shell", "sh1")
	tm.expect(`".help" for help.`)
	tm.expect("sh1> ")
	// A statement over two lines.
	tm.send("SELECT 40 +\r")
	tm.expect("...> ")
	tm.send("2 AS answer;\r")
	tm.expect("answer")
	tm.expect("42")
	tm.expect("sh1> ")
	tm.send(".tables\r")
	tm.expect("notes")
	tm.expect("sh1> ")
	// Two statements on a line run in turn; the mode changes the output.
	tm.send("INSERT INTO notes(body) VALUES ('a'); INSERT INTO notes(body) VALUES ('b');\r")
	tm.expect("sh1> ")
	tm.send(".mode csv\r")
	tm.expect("sh1> ")
	tm.send("SELECT id, body FROM notes;\r")
	tm.expect("id,body\r\n1,a\r\n2,b\r\n")
	tm.expect("sh1> ")
	// The up arrow brings the last statement back.
	tm.send("\x1b[A")
	tm.expect("SELECT id, body FROM notes;")
	tm.send("\r")
	tm.expect("id,body\r\n1,a\r\n2,b\r\n")
	tm.expect("sh1> ")
	// An error is printed and the shell goes on.
	tm.send("SELEC 1;\r")
	tm.expect(`Error: SQL_ERROR: SQL Error: near "SELEC": syntax error`)
	tm.expect("sh1> ")
	// Ctrl-C drops the statement being typed.
	tm.send("SELECT\r")
	tm.expect("...> ")
	tm.send("\x03")
	tm.expect("sh1> ")
	tm.send("SELECT 7 AS seven;\r")
	tm.expect("seven\r\n7\r\n")
	tm.expect("sh1> ")
	// BEGIN … ROLLBACK: an interactive transaction; the prompt says so.
	tm.send("BEGIN;\r")
	tm.expect("sh1*> ")
	tm.send("INSERT INTO notes(body) VALUES ('in tx');\r")
	tm.expect("sh1*> ")
	tm.send("SELECT count(*) AS n FROM notes;\r")
	tm.expect("n\r\n3\r\n")
	tm.send("ROLLBACK;\r")
	tm.expect("sh1> ")
	tm.send("SELECT count(*) AS n FROM notes;\r")
	tm.expect("n\r\n2\r\n")
	tm.expect("sh1> ")
	tm.send(".schema notes\r")
	tm.expect("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);")
	tm.expect("sh1> ")
	tm.send(".quit\r")
	if code := tm.wait(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	b, err := os.ReadFile(hist)
	if err != nil || !strings.Contains(string(b), "SELECT id, body FROM notes;") || !strings.Contains(string(b), ".mode csv") {
		t.Fatalf("history %q %v", b, err)
	}
	// The history is there for the next shell.
	tm = startPTY(t, []string{"FORGECTL_HISTORY=" + hist}, "shell", "sh1")
	tm.expect("sh1> ")
	tm.send("\x1b[A\x1b[A")
	tm.expect(".schema notes")
	tm.send("\x15.quit\r") // Ctrl-U clears the line
	if code := tm.wait(); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// TestConfirm: a destructive command asks on a terminal.
func TestConfirm(t *testing.T) {
	ok(t, "", "db", "create", "confirm1")
	t.Cleanup(func() { forgectl(t, "", "db", "delete", "confirm1", "--yes") })
	tm := startPTY(t, nil, "db", "delete", "confirm1")
	tm.expect(`Delete database "confirm1" and all its data, for good? [y/N] `)
	tm.send("n\r")
	tm.expect("forgectl: not confirmed")
	if code := tm.wait(); code != exitAborted {
		t.Fatalf("declined: exit %d", code)
	}
	ok(t, "", "db", "info", "confirm1")
	tm = startPTY(t, nil, "db", "delete", "confirm1")
	tm.expect("[y/N] ")
	tm.send("y\r")
	tm.expect("Database deleted successfully.")
	if code := tm.wait(); code != 0 {
		t.Fatalf("confirmed: exit %d", code)
	}
	if r := forgectl(t, "", "db", "info", "confirm1"); r.code != exitNotFound {
		t.Fatalf("after the delete: %+v", r)
	}
}

// TestProgressOnTerminal: an export to a file draws a progress bar on a
// terminal (and, piped, nothing: TestImportExportBranch).
func TestProgressOnTerminal(t *testing.T) {
	ok(t, "", "db", "create", "prog1")
	t.Cleanup(func() { forgectl(t, "", "db", "delete", "prog1", "--yes") })
	ok(t, "", "query", "prog1", "CREATE TABLE t AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) SELECT i, hex(randomblob(32)) AS v FROM n")
	out := filepath.Join(t.TempDir(), "p.db")
	tm := startPTY(t, nil, "export", "prog1", "--out", out)
	tm.expect("exporting")
	tm.expect(out + ": ")
	if code := tm.wait(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if st, err := os.Stat(out); err != nil || st.Size() < 20000*64 {
		t.Fatalf("export: %v %v", st, err)
	}
}
