package gateway

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/praetorian/db-forge/forge"
)

// apiDoc is docs/API.md.
func apiDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../docs/API.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRoutesDocumented: every route of the table has its section in
// docs/API.md (### `METHOD /pattern`, a query string aside), and every
// such section is a route of the table.
func TestRoutesDocumented(t *testing.T) {
	t.Parallel()
	heading := regexp.MustCompile("(?m)^### `([A-Z]+) (/[^`?]*)[^`]*`")
	var documented []string
	for _, m := range heading.FindAllStringSubmatch(apiDoc(t), -1) {
		documented = append(documented, m[1]+" "+m[2])
	}
	var table []string
	for _, r := range Routes() {
		table = append(table, r.Method+" "+r.Pattern)
	}
	sort.Strings(documented)
	sort.Strings(table)
	if !slices.Equal(documented, table) {
		t.Errorf("docs/API.md documents\n\t%s\nthe route table has\n\t%s",
			strings.Join(documented, "\n\t"), strings.Join(table, "\n\t"))
	}
	// docs/ARCHITECTURE.md shows the table.
	arch, err := os.ReadFile("../docs/ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Routes() {
		if !strings.Contains(string(arch), "| `"+r.Method+"` | `"+r.Pattern+"` | "+r.Access) {
			t.Errorf("docs/ARCHITECTURE.md's route table lacks %s %s (%s)", r.Method, r.Pattern, r.Access)
		}
	}
}

// TestRouteTable: the table is well formed — one entry per method and
// pattern, a database route's access says {db_name}, a data route reads
// or writes — and the router built from it serves exactly the routes
// whose ports are configured.
func TestRouteTable(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, e := range endpoints {
		k := e.method + " " + e.pattern
		if seen[k] {
			t.Errorf("%s declared twice", k)
		}
		seen[k] = true
		if e.perDB != (e.need == needRead || e.need == needWrite) {
			t.Errorf("%s: perDB %v with access %s", k, e.perDB, e.need)
		}
		if (e.need == needRead || e.need == needWrite) && !strings.Contains(e.pattern, "{db_name}") {
			t.Errorf("%s: a data route without {db_name}", k)
		}
		if e.serve == nil {
			t.Errorf("%s: no handler", k)
		}
	}

	served := func(s *Server, method, pattern string) bool {
		uri := strings.NewReplacer("{db_name}", "d", "{table_name}", "t", "{key_id}", "k", "{tx_id}", "x", "{file}", "f", "{checkpoint}", "c").Replace(pattern)
		var rc fasthttp.RequestCtx
		rc.Request.Header.SetMethod(method)
		rc.Request.SetRequestURI(uri)
		s.routes().Handler(&rc)
		code, _ := errorCodeOf(rc.Response.Body())
		return code != CodeRouteNotFound && code != CodeMethodNotAllowed
	}
	dbs := &fakeDatabases{m: map[string]bool{}}
	full := New(Options{
		Metrics: nopMetrics{}, Damage: fakeDamage{}, Transactions: fakeTransactions{}, Moves: fakeMoves{}, Diffs: fakeDiffs{},
		Functions: fakeFunctions{},
		Auth:      Auth{Keys: fakeKeys{}, Databases: dbs, Disabled: true},
		OpenAPI:   []byte(`{}`), Docs: func(*fasthttp.RequestCtx) {}, Details: fakeDetails{}, Console: fakeConsole{},
		Leases: fakeLeases{}, Trash: fakeTrash{}, MCP: fakeMCP{}, Audit: fakeAudit{},
	}, namedEngine{dbs: map[string]bool{}}, fakeOrch{dbs: dbs}, zap.NewNop())
	bare := New(Options{}, namedEngine{dbs: map[string]bool{}}, fakeOrch{dbs: dbs}, zap.NewNop())
	for _, r := range Routes() {
		if !served(full, r.Method, r.Pattern) {
			t.Errorf("%s %s is not served with every port configured", r.Method, r.Pattern)
		}
		if got := served(bare, r.Method, r.Pattern); got == r.Optional {
			t.Errorf("%s %s (optional %v) served %v without the optional ports", r.Method, r.Pattern, r.Optional, got)
		}
	}
}

// errorCodeOf is the error.code of an error body, and whether there is one.
func errorCodeOf(body []byte) (string, bool) {
	m := regexp.MustCompile(`"code":"([A-Z_]+)"`).FindSubmatch(body)
	if m == nil {
		return "", false
	}
	return string(m[1]), true
}

// engineCodes are the codes the engine brings in a forge.InputError
// (wasm, sqlbuild), which toAPIError passes through.
var engineCodes = []string{
	"UNKNOWN_COLUMN", "DUPLICATE_COLUMN", // wasm/query.go
	"UNKNOWN_PARAMETER", "INVALID_TOKEN", "FILTER_REQUIRED", // tables (the rows routes' query string)
	"TOO_MANY_STATEMENTS",                                                                // batch
	"INVALID_TRANSACTION_TIMEOUT",                                                        // txn
	"INVALID_IDENTIFIER", "INVALID_COLUMN_TYPE", "INVALID_DEFAULT", "INVALID_TABLE_SPEC", // sqlbuild
	forge.CodeInvalidDatabaseFile, forge.CodeInvalidCSV, forge.CodeInvalidSQLScript, forge.CodeInvalidCheckpoint, // snapshot
}

// TestErrorCodesDocumented: the codes the gateway answers — its error
// rules', the ones made where the fault is found, the engine's — are the
// codes of docs/API.md's error table, no more and no fewer; and every
// Code constant is answered by some rule or said to be made elsewhere.
func TestErrorCodesDocumented(t *testing.T) {
	t.Parallel()
	doc := apiDoc(t)
	start := strings.Index(doc, "| status | `error.code` |")
	end := strings.Index(doc[start:], "\n\n")
	if start < 0 || end < 0 {
		t.Fatal("no error table in docs/API.md")
	}
	documented := map[string]bool{}
	row := regexp.MustCompile("(?m)^\\| [0-9]{3} \\| `([A-Z_]+)`")
	for _, m := range row.FindAllStringSubmatch(doc[start:start+end], -1) {
		documented[m[1]] = true
	}

	answered := map[string]string{}
	for _, r := range errorRules {
		if r.code != "" {
			answered[r.code] = "errorRules"
		}
	}
	for _, c := range directCodes {
		answered[c] = "directCodes"
	}
	for _, c := range engineCodes {
		answered[c] = "engineCodes"
	}
	for _, c := range functionCodes {
		answered[c] = "functionCodes"
	}
	for c, where := range answered {
		if !documented[c] {
			t.Errorf("%s (%s) is not in docs/API.md's error table", c, where)
		}
	}
	for c := range documented {
		if answered[c] == "" {
			t.Errorf("docs/API.md's error table has %s, which the gateway never answers", c)
		}
	}

	// Every Code constant of errors.go is answered somewhere.
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if !strings.HasPrefix(name.Name, "Code") || i >= len(vs.Values) {
				continue
			}
			lit, ok := vs.Values[i].(*ast.BasicLit)
			if !ok {
				continue
			}
			if c := strings.Trim(lit.Value, `"`); answered[c] == "" {
				t.Errorf("%s (%s) is in no error rule and not in directCodes", name.Name, c)
			}
		}
		return true
	})
}

// TestErrorRulesOrder: where an error matches several rules, the first
// decides; these pairs are the ones whose order matters.
func TestErrorRulesOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		code string
	}{
		{"the engine's read-only before the guard's", forge.ErrReadOnly, CodeReadOnlyKey},
		{"a key's wait before the bare sentinel", &rateLimitedError{wait: 3 * time.Second}, CodeRateLimited},
		{"a SQL error wins over a sentinel", &forge.SQLError{Message: "m"}, CodeSQLError},
		{"shutting down", errShuttingDown, CodeShuttingDown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := toAPIError(tc.err).code; got != tc.code {
				t.Errorf("code %s, want %s", got, tc.code)
			}
		})
	}
}

// nopMetrics is a Metrics that records nothing.
type nopMetrics struct{}

func (nopMetrics) Route(string, string) func(int, time.Duration, int) {
	return func(int, time.Duration, int) {}
}
func (nopMetrics) WriteText(io.Writer) error { return nil }
