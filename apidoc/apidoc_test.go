package apidoc

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/praetorian/db-forge/apidoc/apivalidate"
	"github.com/praetorian/db-forge/gateway"
)

func build(t *testing.T) []byte {
	t.Helper()
	b, err := Build(gateway.Routes(), Info{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEveryRouteDocumented: the document has an operation for every route
// of the gateway's table, and nothing else; kin-openapi loads it as a
// valid OpenAPI 3.1 document.
func TestEveryRouteDocumented(t *testing.T) {
	b := build(t)
	if _, err := apivalidate.New(b); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	var got, want []string
	for p, ops := range doc.Paths {
		for m := range ops {
			got = append(got, strings.ToUpper(m)+" "+p)
		}
	}
	for _, r := range gateway.Routes() {
		want = append(want, r.Method+" "+r.Pattern)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("document has\n\t%s\nroute table has\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// TestBuildRefusesDrift: a route without a declaration, or a declaration
// without its route, is an error, not a document without it.
func TestBuildRefusesDrift(t *testing.T) {
	routes := gateway.Routes()
	extra := append(slices.Clone(routes), gateway.Route{Method: "GET", Pattern: "/api/db/{db_name}/nothing", Access: "read", PerDB: true})
	if _, err := Build(extra, Info{}); err == nil || !strings.Contains(err.Error(), "GET /api/db/{db_name}/nothing") {
		t.Errorf("an undeclared route: %v", err)
	}
	if _, err := Build(routes[1:], Info{}); err == nil || !strings.Contains(err.Error(), routes[0].Method+" "+routes[0].Pattern) {
		t.Errorf("a declaration of no route: %v", err)
	}
}

// TestErrorCodesAreAPIs: every error code the document names is in
// docs/API.md's error table (which gateway's TestErrorCodesDocumented
// checks against the code), and the security and access of each route
// follow the table.
func TestErrorCodesAreAPIs(t *testing.T) {
	api, err := os.ReadFile("../docs/API.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| \\d{3} \\| `([A-Z_]+)`").FindAllStringSubmatch(string(api), -1) {
		documented[m[1]] = true
	}
	b := build(t)
	for _, m := range regexp.MustCompile(`"enum": \[([^\]]*)\]`).FindAllStringSubmatch(string(b), -1) {
		for _, c := range strings.Split(m[1], ",") {
			c = strings.Trim(strings.TrimSpace(c), `"`)
			if c == strings.ToUpper(c) && strings.Contains(c, "_") && !documented[c] {
				t.Errorf("the document names error code %s, docs/API.md's error table does not", c)
			}
		}
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Security *[]any `json:"security"`
			Access   string `json:"x-access"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, r := range gateway.Routes() {
		op := doc.Paths[r.Pattern][strings.ToLower(r.Method)]
		if op.Access != r.Access {
			t.Errorf("%s %s: x-access %q, route %q", r.Method, r.Pattern, op.Access, r.Access)
		}
		public := op.Security != nil && len(*op.Security) == 0
		if public != (r.Access == "public") {
			t.Errorf("%s %s: public in the document %v, access %s", r.Method, r.Pattern, public, r.Access)
		}
	}
}

// TestRouteSectionsCodes: every error code that a route's section of
// docs/API.md names (a code of its error table, in backquotes) is among
// the codes the document gives that route, so that a code the reference
// promises for a route cannot be missing from the document.
func TestRouteSectionsCodes(t *testing.T) {
	api, err := os.ReadFile("../docs/API.md")
	if err != nil {
		t.Fatal(err)
	}
	table := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| \\d{3} \\| `([A-Z_]+)`").FindAllStringSubmatch(string(api), -1) {
		table[m[1]] = true
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Responses json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(build(t), &doc); err != nil {
		t.Fatal(err)
	}
	heading := regexp.MustCompile("^`(GET|POST|PUT|PATCH|DELETE) ([^`?]+)")
	code := regexp.MustCompile("`([A-Z][A-Z_]+)`")
	sections := 0
	for _, sec := range regexp.MustCompile(`(?m)^#{2,4} `).Split(string(api), -1) {
		m := heading.FindStringSubmatch(sec)
		if m == nil {
			continue
		}
		sections++
		op, ok := doc.Paths[m[2]][strings.ToLower(m[1])]
		if !ok {
			t.Errorf("docs/API.md has a section %s %s, the document no such operation", m[1], m[2])
			continue
		}
		for _, c := range code.FindAllStringSubmatch(sec, -1) {
			if table[c[1]] && !bytes.Contains(op.Responses, []byte(`"`+c[1]+`"`)) {
				t.Errorf("%s %s: docs/API.md names %s, the document's answers do not", m[1], m[2], c[1])
			}
		}
	}
	if sections < len(gateway.Routes()) {
		t.Errorf("found %d route sections in docs/API.md, for %d routes", sections, len(gateway.Routes()))
	}
}

var update = flag.Bool("update", false, "rewrite testdata/openapi.json from the route table")

// TestGolden: testdata/openapi.json is the document as built now (with
// the version "golden"). The gateway's handler tests, which cannot import
// this package (it imports theirs), validate their exchanges against it.
// After changing a route or a declaration: go test ./apidoc -update.
func TestGolden(t *testing.T) {
	b, err := Build(gateway.Routes(), Info{Version: "golden"})
	if err != nil {
		t.Fatal(err)
	}
	const path = "testdata/openapi.json"
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(old, b) {
		t.Errorf("%s is not the document the route table and declarations make: run go test ./apidoc -update", path)
	}
}
