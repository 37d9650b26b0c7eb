package auth

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// auth is a leaf (docs/ARCHITECTURE.md): besides the standard library it
// may import forge alone, so that the gateway can call its policy and the
// wiring can give it a store without import cycles or a second engine.
func TestImportsLeaf(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
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
			if path != "github.com/praetorian/db-forge/forge" && strings.Contains(first, ".") {
				t.Errorf("%s imports %s: auth imports only forge and the standard library", f, path)
			}
		}
	}
}
