// Command forge-worker is the only program in a DB-Forge worker image: it
// holds one database's volume, answers the image's HEALTHCHECK, and gives
// operators an SQL shell (docker exec -it db-worker-x /forge-worker sql).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/praetorian/db-forge/internal/worker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := worker.Run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
