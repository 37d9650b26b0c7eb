// Command forgectl is DB-Forge's command line: databases, keys, SQL (one
// statement, a script, or an interactive shell), tables, rows, imports,
// exports, checkpoints, branches and diffs, over the HTTP API through the
// Go SDK (package client). docs/CLI.md is its manual; `forgectl help`
// lists the commands.
//
// The gateway is FORGE_URL (default http://localhost:8000) and the key
// FORGE_KEY, or the flags --url and --key. Exit codes (docs/CLI.md):
// 0 done, 1 failure, 2 usage, 3 not found, 4 not allowed, 5 conflict,
// 6 refused as invalid (SQL errors included), 7 gateway unreachable or
// unavailable, 8 not confirmed.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}
