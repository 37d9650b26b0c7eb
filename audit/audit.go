// Package audit is the statement audit log: what each database's log
// holds (Record, the table Table), how a statement's text is capped, the
// retention of old records, and the query of the log's route.
//
// The engine (package wasm) notes every statement a client runs and hands
// the notes to a Recorder (its Auditor): a write's record is stored in the
// same transaction as the write, by the statements AtCommit returns, so
// that a write that committed always has its record and a record never
// outlives its write. Records no committing transaction carries (reads,
// when FORGE_AUDIT_READS is on, and the statements of a transaction that
// rolled back) are written best effort, by a goroutine fed by a bounded
// buffer (Unwritten) that writes what waits every Config.Flush, a
// transaction per database: when the buffer is full, or their write
// fails, they are dropped, counted (Dropped) and logged. With
// Config.AfterCommit (FORGE_AUDIT=async) a write's records take that way
// too, handed on just after its commit: their cost is shared by the
// writes of an interval, and a crash loses those still waiting.
//
// The log is a bookkeeping table of each database (forge.ReservedPrefix):
// hidden from the tables and schema routes, exports and diffs, refused to
// client SQL by the engine's sandbox. It knows the engine only through the
// Engine interface it declares, and knows no HTTP.
package audit

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/praetorian/db-forge/forge"
)

// Table is each database's audit log, made by its first recorded write.
const Table = forge.ReservedPrefix + "audit"

// Defaults of Config.
const (
	DefaultMaxSQL    = 1024
	DefaultMaxError  = 256
	DefaultRetention = 7 * 24 * time.Hour
	DefaultMaxRows   = 100_000
	DefaultBuffer    = 65536
	DefaultFlush     = 200 * time.Millisecond
)

// The log holds one row per transaction (or best-effort write): the
// records of its statements in one compact blob (codec.go). A row costs
// one INSERT however many statements the transaction ran: storing each
// record as a row of its own (thirteen values bound, a B-tree insert)
// cost as much as the client's own single-row INSERT, and a JSON array of
// them half as much (docs/PERFORMANCE.md).
//
// seq numbers the records of a database: a row's seq is its last
// record's, the previous row's plus n. A record's id is its number.

// The engine's own statements on Table (forge.Statement.Bookkeeping).
const (
	createTable = "CREATE TABLE IF NOT EXISTS " + Table + " (" +
		"id INTEGER PRIMARY KEY, at_us INTEGER NOT NULL, n INTEGER NOT NULL, seq INTEGER NOT NULL, " +
		"records BLOB NOT NULL)"
	// insertRow stores ?3, n = ?2 records whose last began at ?1.
	insertRow = "INSERT INTO " + Table + " (at_us, n, seq, records) VALUES (?1, ?2, " +
		"?2 + coalesce((SELECT seq FROM " + Table + " ORDER BY id DESC LIMIT 1), 0), ?3)"
	// Rows are added in time order, so ids are too: the oldest are the
	// first ids. Each deletion is bounded (?2 rows), so that no write
	// pays for a large backlog.
	expireOld = "DELETE FROM " + Table + " WHERE id IN (SELECT id FROM " + Table +
		" ORDER BY id LIMIT ?2) AND at_us < ?1"
	expireMany = "DELETE FROM " + Table + " WHERE id IN (SELECT id FROM " + Table +
		" ORDER BY id LIMIT ?2) AND seq <= (SELECT seq FROM " + Table + " ORDER BY id DESC LIMIT 1) - ?1"
)

// Record is one entry of the log, as the route answers it.
type Record = forge.AuditEntry

// Cap cuts s to at most n bytes, on a UTF-8 boundary.
func Cap(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return strings.ToValidUTF8(s[:i], "")
}
