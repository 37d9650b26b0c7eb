package client_test

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/praetorian/db-forge/client"
)

var update = flag.Bool("update", false, "rewrite codes.go from docs/API.md")

// documentedCodes reads the error codes of docs/API.md's error table.
func documentedCodes(t *testing.T) []string {
	b, err := os.ReadFile("../docs/API.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(b), "| status | `error.code`")
	if !ok {
		t.Fatal("docs/API.md has no error table")
	}
	table, _, _ = strings.Cut(table, "\n\n")
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| \\d{3} \\| `([A-Z_]+)`").FindAllStringSubmatch(table, -1) {
		seen[m[1]] = true
	}
	var codes []string
	for c := range seen {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	return codes
}

// goName is the sentinel's name of a code: DATABASE_NOT_FOUND ->
// ErrDatabaseNotFound.
func goName(code string) string {
	var b strings.Builder
	b.WriteString("Err")
	for _, w := range strings.Split(code, "_") {
		switch w {
		case "SQL", "JSON", "TTL", "CSV":
			b.WriteString(w)
		default:
			b.WriteString(w[:1] + strings.ToLower(w[1:]))
		}
	}
	return b.String()
}

func generate(codes []string) []byte {
	var b bytes.Buffer
	b.WriteString("// Code generated from the error table of docs/API.md; DO NOT EDIT.\n")
	b.WriteString("// Regenerate with: go test ./client -run TestSentinelsMatchDocs -update\n\npackage client\n\n")
	b.WriteString("// One sentinel per error code the gateway documents: errors.Is(err,\n")
	b.WriteString("// client.ErrDatabaseNotFound) holds when the server answered that code,\n// whatever the status and detail.\nvar (\n")
	for _, c := range codes {
		fmt.Fprintf(&b, "\t%s = &Error{Code: %q}\n", goName(c), c)
	}
	b.WriteString(")\n\n// sentinels lists every sentinel by code.\nvar sentinels = map[string]*Error{\n")
	for _, c := range codes {
		fmt.Fprintf(&b, "\t%q: %s,\n", c, goName(c))
	}
	b.WriteString("}\n")
	out, err := format.Source(b.Bytes())
	if err != nil {
		panic(err)
	}
	return out
}

// TestSentinelsMatchDocs: codes.go has one sentinel per documented code,
// and no other.
func TestSentinelsMatchDocs(t *testing.T) {
	codes := documentedCodes(t)
	if len(codes) < 50 {
		t.Fatalf("only %d codes read from docs/API.md", len(codes))
	}
	want := generate(codes)
	if *update {
		if err := os.WriteFile("codes.go", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("codes.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("codes.go is not docs/API.md's codes: go test ./client -run TestSentinelsMatchDocs -update")
	}
	for _, c := range codes {
		if s := client.Sentinel(c); s == nil || s.Code != c {
			t.Errorf("no sentinel for %s", c)
		}
	}
}
