// Package orchestrator holds the lifecycle backends of DB-Forge: what keeps
// a database instance alive beside its data. The gateway declares the
// interface it consumes (gateway.Orchestrator); each backend lives in its
// own subpackage and is proven by the shared suite in orchestratortest:
//
//   - local: the embedded default, no containers; an instance is a record
//     next to the database's file.
//
// Backends never import the gateway, the engine or the volumes package: they
// declare the small slice of the data directory they need and cmd/ wires
// volumes.Layout into it.
package orchestrator
