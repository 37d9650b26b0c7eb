// Command forge-gateway is DB-Forge's gateway: the HTTP control plane and
// data plane in one process. Settings come from FORGE_* environment
// variables and flags of the same names (see .env.example); SIGINT or
// SIGTERM shut it down gracefully. `forge-gateway healthcheck` asks a
// running gateway's /health (the container image's HEALTHCHECK);
// `forge-gateway restore --from <target> [--db name] [--at time]` rebuilds
// the data directory from backups (docs/OPERATIONS.md, Backups);
// `FORGE_KEY=<key> forge-gateway mcp --url URL` bridges an MCP host's
// stdin/stdout to a gateway's POST /mcp (docs/MCP.md).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/praetorian/db-forge/config"
	"github.com/praetorian/db-forge/internal/app"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == "healthcheck" {
		os.Exit(app.Healthcheck(os.Environ(), os.Stdout))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch {
	case len(os.Args) >= 2 && os.Args[1] == "restore":
		err = app.Restore(ctx, os.Args[2:], os.Environ(), os.Stderr)
	case len(os.Args) >= 2 && os.Args[1] == "mcp":
		err = app.MCPBridge(ctx, os.Args[2:], os.Environ(), os.Stdin, os.Stdout, os.Stderr)
	default:
		err = app.Run(ctx, os.Args[1:], os.Environ(), os.Stderr, nil)
	}
	switch {
	case err == nil:
	case errors.Is(err, config.ErrHelp):
		os.Exit(0)
	default:
		fmt.Fprintln(os.Stderr, "forge-gateway:", err)
		os.Exit(1)
	}
}
