package snapshot

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// snapshot sits above the engine and knows it (and the data directory)
// only through the interfaces it declares (docs/ARCHITECTURE.md): besides
// the standard library it imports forge, sqlbuild and x/sys/unix (the
// FICLONE ioctl) alone.
func TestImportsAboveTheEngine(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{
		"github.com/praetorian/db-forge/forge":    true,
		"github.com/praetorian/db-forge/sqlbuild": true,
		"golang.org/x/sys/unix":                   true,
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(path, "/")
			if !allowed[path] && strings.Contains(first, ".") {
				t.Errorf("%s imports %s: snapshot imports only forge, sqlbuild, x/sys/unix and the standard library", f, path)
			}
		}
	}
}
