package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocsWalkthrough runs docs/CLI.md's walk-through, the block after
// "## Walk-through", in one bash, and compares each command's output
// with the document's.
func TestDocsWalkthrough(t *testing.T) {
	doc, err := os.ReadFile("../../docs/CLI.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "## Walk-through")
	if !ok {
		t.Fatal("docs/CLI.md has no walk-through")
	}
	_, block, _ := strings.Cut(after, "```console\n")
	block, _, _ = strings.Cut(block, "```\n")
	var cmds []string
	var want [][]string
	for _, line := range strings.Split(strings.TrimRight(block, "\n"), "\n") {
		if c, ok := strings.CutPrefix(line, "$ "); ok {
			cmds = append(cmds, c)
			want = append(want, nil)
			continue
		}
		if len(cmds) == 0 {
			t.Fatalf("output before any command: %q", line)
		}
		want[len(want)-1] = append(want[len(want)-1], line)
	}
	if len(cmds) < 15 {
		t.Fatalf("only %d commands read", len(cmds))
	}
	var script strings.Builder
	for i, c := range cmds {
		fmt.Fprintf(&script, "echo '@@@ %d'\n%s\n", i, c)
	}
	dir := t.TempDir()
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Dir = dir
	cmd.Env = []string{"FORGE_URL=" + gatewayURL, "FORGE_KEY=" + adminKey, "ADMIN_KEY=" + adminKey, "HOME=" + homeDir,
		"PATH=" + filepath.Dir(bin) + ":" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the walk-through failed: %v\n%s", err, out)
	}
	chunks := regexp.MustCompile(`(?m)^@@@ \d+\n`).Split(string(out), -1)[1:]
	if len(chunks) != len(cmds) {
		t.Fatalf("%d outputs for %d commands:\n%s", len(chunks), len(cmds), out)
	}
	for i, c := range cmds {
		got := strings.Split(strings.TrimRight(chunks[i], "\n"), "\n")
		if len(want[i]) == 0 {
			got = nil
			if strings.TrimSpace(chunks[i]) != "" {
				got = strings.Split(strings.TrimRight(chunks[i], "\n"), "\n")
			}
		}
		if len(got) != len(want[i]) {
			t.Errorf("$ %s\ngot:\n%s\nwant:\n%s", c, chunks[i], strings.Join(want[i], "\n"))
			continue
		}
		for j := range got {
			if !lineMatches(want[i][j], got[j]) {
				t.Errorf("$ %s\nline %d: got %q, want %q", c, j+1, got[j], want[i][j])
			}
		}
	}
}

// lineMatches compares a line with the document's, runs of spaces as one
// and "…" as anything.
func lineMatches(want, got string) bool {
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	parts := strings.Split(norm(want), "…")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(norm(got))
}
