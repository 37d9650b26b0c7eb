package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/praetorian/db-forge/bench"
)

// Results are committed only from a clean tree: a figure measured on
// uncommitted code is not the figure of the commit the report names. So the
// report records the tree's state (`git status --porcelain` empty or not)
// at the start and at the end of the session, with the load average at both
// ends, and a session on a dirty tree does not write into the repository's
// results unless -allow-dirty says so.

// stampStart records the commit, the tree's state and the load average at
// the start of a session.
func stampStart(m *bench.Machine) {
	m.Commit, m.Tree, m.Changed = gitTree()
	m.LoadAvg = loadAvg()
}

// stampEnd records the load average at the end of a session, and the tree
// as dirty if it is dirty now (someone changed it during the session).
func stampEnd(m *bench.Machine) {
	m.LoadAvgEnd = loadAvg()
	if _, tree, changed := gitTree(); tree == bench.TreeDirty && m.Tree != bench.TreeDirty {
		m.Tree, m.Changed = tree, changed
	}
}

// gitTree is the short commit of HEAD and the state of the work tree
// (untracked files count: they may be code the build used); all empty
// outside a git tree.
func gitTree() (commit, tree string, changed []string) {
	commit, err := runCmd("git", "rev-parse", "--short", "HEAD")
	if err != nil {
		return "", "", nil
	}
	st, err := runCmd("git", "status", "--porcelain")
	if err != nil {
		return commit, "", nil
	}
	tree, changed = bench.TreeState(st)
	return commit, tree, changed
}

// gitRoot is the top of the work tree the bench runs in, or "".
func gitRoot() string {
	root, err := runCmd("git", "rev-parse", "--show-toplevel")
	if err != nil {
		return ""
	}
	return root
}

// resultsDir is where a session's results go, decided at its start: out,
// or, for a dirty tree whose out lies inside the repository and without
// -allow-dirty, a new temporary directory (said on stderr).
func resultsDir(m bench.Machine, out string, allowDirty bool) (string, error) {
	if !redirect(out, gitRoot(), m.Tree == bench.TreeDirty, allowDirty) {
		return out, nil
	}
	dir, err := os.MkdirTemp("", "forge-bench-dirty-")
	if err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "forge-bench: the tree has uncommitted changes (%s): the results go to %s, not %s; "+
		"commit first, or pass -allow-dirty (make bench BENCH_FLAGS=-allow-dirty) to write them there, marked dirty\n",
		strings.Join(m.Changed, ", "), dir, out)
	return dir, nil
}

// redirect reports whether results meant for out must go elsewhere: the
// tree is dirty, -allow-dirty is not given, and out is inside the
// repository at root (where they would be committed).
func redirect(out, root string, dirty, allowDirty bool) bool {
	if !dirty || allowDirty || root == "" {
		return false
	}
	return within(out, root)
}

// within reports whether path is root or below it; a relative path is
// taken from the working directory.
func within(path, root string) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return true // cannot tell: be safe
	}
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r
	}
	// out may not exist yet: resolve its nearest existing parent.
	dir, rest := abs, ""
	for {
		if r, err := filepath.EvalSymlinks(dir); err == nil {
			abs = filepath.Join(r, rest)
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		rest = filepath.Join(filepath.Base(dir), rest)
		dir = parent
	}
	rel, err := filepath.Rel(root, abs)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// resultsBase is the file name stem of a session's results: a dirty
// tree's say so in their name too.
func resultsBase(stem string, m bench.Machine) string {
	if m.Tree == bench.TreeDirty {
		return stem + "-dirty"
	}
	return stem
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
