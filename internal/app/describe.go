package app

import (
	"fmt"

	"github.com/praetorian/db-forge/apidoc"
	"github.com/praetorian/db-forge/config"
	"github.com/praetorian/db-forge/console"
	"github.com/praetorian/db-forge/gateway"
	"github.com/praetorian/db-forge/volumes"
	"github.com/praetorian/db-forge/wasm"
)

// describe gives the gateway what it tells of itself: its version, the
// OpenAPI document of its routes (GET /openapi.json), the documentation
// page (GET /docs), the web console (GET /console), a database's details, and the origins allowed
// cross-origin access.
func describe(opts *gateway.Options, cfg config.Config, vol *volumes.Layout, eng *wasm.Engine) error {
	opts.Version = version()
	doc, err := apidoc.Build(gateway.Routes(), apidoc.Info{Version: opts.Version})
	if err != nil {
		return fmt.Errorf("OpenAPI document: %w", err)
	}
	opts.OpenAPI = doc
	opts.Docs = apidoc.Docs()
	assets, err := console.New()
	if err != nil {
		return err
	}
	opts.Console = consoleFiles{assets}
	opts.Details = details{vol: vol, eng: eng}
	opts.CORSOrigins = cfg.CORSOrigins
	return nil
}
