// Package archtest checks the architecture's import rules
// (docs/ARCHITECTURE.md) in one table, for the whole module: which
// packages a package may import, and which packages a third-party library
// may enter. A rule broken is a failing test naming the file and import.
package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/praetorian/db-forge/"

// allowed lists, for the packages above or beside the engine, every
// import beyond the standard library they may have (module packages by
// their path in the module, others by prefix). A package not listed here
// is bounded by the confinement rules below only.
var allowed = map[string][]string{
	"forge":               {},
	"config":              {},
	"auth":                {"forge"}, // a leaf: the gateway calls its policy
	"batch":               {"forge"}, // above the engine, through its Engine
	"idem":                {"forge"}, // same
	"txn":                 {"forge"}, // same
	"volumes":             {"forge"}, // never the engine or the orchestrator
	"sqlbuild":            {"forge"}, // pure builders
	"tables":              {"forge", "sqlbuild"},
	"diff":                {"forge", "sqlbuild"},                          // above the engine, through its Reader port
	"snapshot":            {"forge", "sqlbuild", "golang.org/x/sys/unix"}, // FICLONE
	"lifecycle":           {"forge", "auth", "go.uber.org/zap"},
	"leases":              {"go.uber.org/zap"},                                          // its Store is the data directory; the expiry, lifecycle's, a func
	"backup":              {"forge", "go.uber.org/zap", "github.com/minio/minio-go/v7"}, // the engine and the data directory through its Source and Installer
	"orchestrator/local":  {"forge"},
	"wasm":                {"forge", "github.com/ncruces/go-sqlite3", "github.com/tetratelabs/wazero", "go.uber.org/zap"},
	"metrics":             {"github.com/prometheus/"},
	"console":             {}, // the web console's files; knows no HTTP
	"gateway":             {"forge", "auth", "lifecycle", "github.com/fasthttp/router", "github.com/valyala/fasthttp", "go.uber.org/zap"},
	"functions":           {"forge", "go.uber.org/zap", "github.com/tetratelabs/wazero"}, // above the engine, through its Engine; its own wazero runtime
	"functions/guest":     {},                                                            // inside a function's module: the standard library only
	"functions/functest":  {},
	"orchestrator/docker": {"forge", "go.uber.org/zap", "github.com/docker/docker/", "github.com/containerd/errdefs", "github.com/opencontainers/image-spec/"},
	// The Go SDK: a client of the HTTP API, the standard library only.
	"client": {},
	// The CLI: the gateway through the SDK only.
	"cmd/forgectl": {"client", "github.com/spf13/cobra", "github.com/chzyer/readline", "github.com/schollz/progressbar/v3", "golang.org/x/term"},
	// The MCP server: the gateway's API through its own port, never the engine.
	"agentmcp": {"client", "github.com/modelcontextprotocol/go-sdk/", "github.com/google/jsonschema-go/"},
	"audit":    {"forge", "go.uber.org/zap"}, // the statement audit log: the engine's Auditor, through its Engine
}

// confined lists third-party libraries and the only packages that may
// import them: their types stop at their adapter (docs/STYLE: third-party
// types stop at the edge).
var confined = map[string][]string{
	"github.com/prometheus/":        {"metrics"},
	"github.com/ncruces/go-sqlite3": {"wasm", "internal/worker", "bench/ceiling"},
	"github.com/tetratelabs/wazero": {"wasm", "internal/worker", "bench/ceiling", "functions"},
	"github.com/docker/docker/":     {"orchestrator/docker", "internal/app", "internal/dockertest"},
	"github.com/getkin/kin-openapi": {"apidoc/apivalidate"},
	"github.com/minio/minio-go/v7":  {"backup"},
	// The MCP SDK and its schemas stop at the MCP server.
	"github.com/modelcontextprotocol/go-sdk": {"agentmcp"},
	"github.com/google/jsonschema-go":        {"agentmcp"},
}

func TestImportRules(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	imports := map[string]map[string]string{} // package -> import -> a file that has it
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		if imports[pkg] == nil {
			imports[pkg] = map[string]string{}
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			imports[pkg][p] = filepath.Base(path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for pkg := range allowed {
		if imports[pkg] == nil {
			t.Errorf("rule for %s, which has no Go files: remove or rename the rule", pkg)
		}
	}
	for pkg, imps := range imports {
		for imp, file := range imps {
			first, _, _ := strings.Cut(imp, "/")
			if !strings.Contains(first, ".") {
				continue // the standard library
			}
			if rules, ok := allowed[pkg]; ok && !permits(rules, imp) {
				t.Errorf("%s/%s imports %s: %s may import only %v", pkg, file, imp, pkg, rules)
			}
			for lib, owners := range confined {
				if strings.HasPrefix(imp, lib) && !contains(owners, pkg) {
					t.Errorf("%s/%s imports %s: only %v may", pkg, file, imp, owners)
				}
			}
		}
	}
}

// permits tells whether rules allow imp: a module package by its exact
// path in the module, another by prefix.
func permits(rules []string, imp string) bool {
	for _, r := range rules {
		if strings.Contains(r, ".") {
			if strings.HasPrefix(imp, r) {
				return true
			}
		} else if imp == module+r {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestRulesBite: the check fails on an import a rule forbids (a test that
// cannot fail proves nothing).
func TestRulesBite(t *testing.T) {
	if permits(allowed["tables"], module+"wasm") {
		t.Error("tables may import wasm?")
	}
	if !permits(allowed["wasm"], "github.com/ncruces/go-sqlite3/embed") {
		t.Error("wasm may not import the SQLite build?")
	}
	if contains(confined["github.com/prometheus/"], "gateway") {
		t.Error("gateway may import Prometheus?")
	}
}
