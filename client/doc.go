// Package client is the Go client of DB-Forge's HTTP API (docs/API.md):
// typed methods for every route, a context on every call, errors you can
// match, retries where a retry is safe, and streams for exports and
// imports. It uses the standard library only.
//
//	c := client.New("http://localhost:8000", client.WithKey(adminKey))
//	db, err := c.Spawn(ctx, "agent1", nil)          // the control plane: methods of Client
//	agent := client.New(url, client.WithKey(db.APIKey)).DB("agent1")
//	res, err := agent.Query(ctx, "SELECT * FROM t WHERE id = ?", 7) // the data plane: methods of DB
//
// # Shape
//
// The admin key's routes (spawn, prune, list, details, delete, integrity
// check, keys, leases, the trash) are methods of Client; the routes of
// one database (/api/db/{db_name}/…: query, batch, transactions, tables,
// schema, rows, export, import, checkpoints, diff) are methods of the
// handle Client.DB(name) returns. A Tx from DB.Begin runs statements in
// an interactive transaction. Each method is one route: adding a route is
// one method calling Client.call with a request (method, path, query,
// body, whether it may be repeated).
//
// # Values
//
// Rows come as Row (map[string]any) or, with Statement.Shape "arrays",
// as Result.Columns and Result.Rows in column order. INTEGER is int64
// (exact to 64 bits), REAL float64, TEXT string, NULL nil, BLOB []byte.
// Parameters take the same Go types; []byte is sent as a blob.
//
// # Errors
//
// An error answer is an *Error with the server's status, code, detail,
// SQLite code and statement index. Every documented code has a sentinel:
//
//	if errors.Is(err, client.ErrDatabaseNotFound) { … }
//	var e *client.Error
//	if errors.As(err, &e) && e.StatementIndex != nil { … }
//
// # Retries
//
// A request is retried (WithRetries: 3 times by default, exponential
// backoff with jitter, the server's Retry-After honoured) only when
// repeating it cannot do the work twice:
//
//   - any request the gateway refused before it ran: 429
//     TOO_MANY_REQUESTS, RATE_LIMITED, 503 SERVER_BUSY, SHUTTING_DOWN;
//   - an idempotent request — a GET, a DELETE, a PATCH of rows, a lease,
//     or a write carrying an Idempotency-Key — also after a lost
//     connection, 503 DATABASE_BUSY / BACKEND_UNAVAILABLE, 504
//     QUERY_TIMEOUT (which wrote nothing) and 409 IDEMPOTENCY_IN_PROGRESS.
//
// Writes to /query, /batch, /tables and rows inserts get an
// Idempotency-Key the client generates (one per call, the same on every
// retry), unless they run in a transaction, are dry runs or ask for
// result options (the gateway refuses the key there); then, like spawn,
// commit, rollback, restores and imports, they are not retried after a
// lost connection. WithoutIdempotencyKeys turns the generated keys off.
//
// # Streams
//
// DB.Export returns the database file or SQL dump as an io.ReadCloser,
// read as it arrives; DB.Import and Client.SpawnFrom send an io.Reader;
// DB.QueryStream returns a statement's rows as NDJSON, CSV or Markdown.
package client
