package app_test

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	gw "github.com/praetorian/db-forge/gateway"
	"github.com/praetorian/db-forge/internal/contracttest"
)

// TestMain: after the whole package ran (no -run filter, not -short),
// every route of the gateway must have been exchanged at least once
// through the validating client (contracttest.ValidatingHTTP) with an
// answer the OpenAPI document describes: a route the tests reach only
// around the validator would otherwise be documented unchecked.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && flag.Lookup("test.run").Value.String() == "" && !testing.Short() {
		var routes []string
		for _, r := range gw.Routes() {
			routes = append(routes, r.Method+" "+r.Pattern)
		}
		if missing := contracttest.Unexercised(routes); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: no exchange checked against the OpenAPI document reached\n\t%s\n",
				strings.Join(missing, "\n\t"))
			code = 1
		}
	}
	os.Exit(code)
}
