package backup

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// backup knows the engine and the data directory only through the Source
// and Installer it declares (docs/ARCHITECTURE.md): of the project it
// imports forge alone, and minio-go only in s3.go (its types stop there).
func TestImportsThroughPorts(t *testing.T) {
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
			switch {
			case !strings.Contains(first, "."), path == "github.com/praetorian/db-forge/forge", path == "go.uber.org/zap":
			case strings.HasPrefix(path, "github.com/minio/minio-go/v7") && f == "s3.go":
			default:
				t.Errorf("%s imports %s", f, path)
			}
		}
	}
}
