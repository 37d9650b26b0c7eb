// Package bench is DB-Forge's benchmark harness: a closed-loop HTTP load
// generator built on the fasthttp client, a latency histogram, a Zipf
// picker for skewed access, and the report (Markdown table, JSON, PNG chart)
// that `make bench` writes to bench/results.
//
// bench is a black-box client of the gateway: it imports no package of the
// project. The suite driver is cmd/forge-bench; the ceilings the gateway is
// compared with are the small programs cmd/ceiling-fixed (a fasthttp server
// answering a fixed body), cmd/ceiling-sqlite (a fasthttp server doing the
// same point SELECT on the same engine) and cmd/ceiling-engine (the engine
// in-process, no HTTP).
package bench
