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
// buffer (Unwritten): when the buffer is full, or their write fails, they
// are dropped, counted (Dropped) and logged.
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
	DefaultBuffer    = 4096
)

// The engine's own statements on Table (forge.Statement.Bookkeeping).
const (
	createTable = "CREATE TABLE IF NOT EXISTS " + Table + " (" +
		"id INTEGER PRIMARY KEY, at_us INTEGER NOT NULL, key_id TEXT NOT NULL, request_id TEXT NOT NULL, " +
		"route TEXT NOT NULL, kind TEXT NOT NULL, sql TEXT NOT NULL, sql_bytes INTEGER NOT NULL, " +
		"params INTEGER NOT NULL, runs INTEGER NOT NULL, rows INTEGER NOT NULL, duration_us INTEGER NOT NULL, " +
		"outcome TEXT NOT NULL, error TEXT NOT NULL)"
	// insertHead is the INSERT up to its values; each record is width
	// values.
	insertHead = "INSERT INTO " + Table +
		" (at_us, key_id, request_id, route, kind, sql, sql_bytes, params, runs, rows, duration_us, outcome, error) VALUES "
	width = 13
	// Records are added in time order, so ids are too: the oldest are the
	// first ids. Each deletion is bounded (?2 rows), so that no write pays
	// for a large backlog.
	expireOld = "DELETE FROM " + Table + " WHERE id IN (SELECT id FROM " + Table +
		" ORDER BY id LIMIT ?2) AND at_us < ?1"
	expireMany = "DELETE FROM " + Table + " WHERE id IN (SELECT id FROM " + Table +
		" WHERE id <= (SELECT max(id) FROM " + Table + ") - ?1 ORDER BY id LIMIT ?2)"
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

// values appends r's row of insertHead to vals.
func values(vals []forge.Value, r *forge.AuditRecord, maxSQL, maxErr int) []forge.Value {
	var key, req, route string
	if c := r.Caller; c != nil {
		key, req, route = c.KeyID, c.RequestID, c.Route
	}
	kind := "write"
	if r.Read {
		kind = "read"
	}
	runs := r.Runs
	if runs < 1 {
		runs = 1
	}
	return append(vals,
		forge.IntValue(r.Time.UnixMicro()),
		forge.TextValue(key),
		forge.TextValue(req),
		forge.TextValue(route),
		forge.TextValue(kind),
		forge.TextValue(Cap(r.SQL, maxSQL)),
		forge.IntValue(int64(len(r.SQL))),
		forge.IntValue(int64(r.Params)),
		forge.IntValue(int64(runs)),
		forge.IntValue(r.Rows),
		forge.IntValue(r.Duration.Microseconds()),
		forge.TextValue(r.Outcome),
		forge.TextValue(Cap(r.Error, maxErr)),
	)
}

// bulkInsert is insertHead followed by n rows of placeholders.
func bulkInsert(n int) string {
	var b strings.Builder
	b.Grow(len(insertHead) + n*(2*width+2))
	b.WriteString(insertHead)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for j := range width {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('?')
		}
		b.WriteByte(')')
	}
	return b.String()
}

// formatTime is an at_us as the route answers it.
func formatTime(us int64) string {
	return time.UnixMicro(us).UTC().Format("2006-01-02T15:04:05.000000Z07:00")
}
