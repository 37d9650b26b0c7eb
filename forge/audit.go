package forge

import (
	"context"
	"time"
)

// Caller is who asked for the work a context carries: the verified key's
// id (never its token), the request's id and the route's pattern. The
// gateway puts it in a request's context (WithCaller); the engine reads it
// when it records a statement in the audit log (AuditRecord). Any front
// end that calls the engine (an MCP endpoint, a function runtime) does the
// same, and its statements are recorded with it.
type Caller struct {
	KeyID     string
	RequestID string
	Route     string
	// DryRun: the work is a dry run, which writes nothing and is not
	// recorded either (a record would write).
	DryRun bool
}

type callerKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// DryRun returns ctx marked as a dry run's (Caller.DryRun), with its
// caller if it has one.
func DryRun(ctx context.Context) context.Context {
	var c Caller
	if p := CallerFrom(ctx); p != nil {
		c = *p
	}
	c.DryRun = true
	return WithCaller(ctx, &c)
}

// CallerFrom is the Caller ctx carries, or nil.
func CallerFrom(ctx context.Context) *Caller {
	if ctx == nil {
		return nil
	}
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}

// Outcomes of a statement in the audit log.
const (
	// AuditOK: the statement ran; its record commits with its write.
	AuditOK = "ok"
	// AuditError: the statement failed and changed nothing.
	AuditError = "error"
	// AuditRolledBack: the statement ran, but its transaction (or the
	// unit of work around it) was rolled back: nothing of it stays.
	AuditRolledBack = "rolled_back"
)

// AuditRecord is what the engine tells of one statement it ran for a
// client: a write (any statement SQLite does not call read-only), or a
// read where reads are recorded. Package audit gives it its table.
type AuditRecord struct {
	Time   time.Time // when the statement began
	Caller *Caller   // nil: no caller known (the engine's own work)
	SQL    string    // the statement's text, whole (the recorder caps it)
	Params int       // the parameters bound (of every run)
	Rows   int64     // rows changed (a write), rows returned (a read)
	// Runs: how many times in a row the same statement ran in one
	// transaction for the same caller, all successfully (the rows route's
	// INSERT of 1,000 rows is one record of 1,000 runs); Rows, Params and
	// Duration are their sums.
	Runs     int
	Duration time.Duration
	Read     bool   // a read-only statement
	Outcome  string // AuditOK, AuditError, AuditRolledBack
	Error    string // the failure's message (AuditError)
}

// AuditEntry is one record of a database's audit log, as
// GET /api/db/{db_name}/audit answers it (package audit stores it).
type AuditEntry struct {
	ID        int64  `json:"id"`
	Time      string `json:"time"` // RFC 3339, microseconds, UTC
	KeyID     string `json:"key_id"`
	RequestID string `json:"request_id"`
	Route     string `json:"route"`
	Kind      string `json:"kind"` // "write" or "read"
	SQL       string `json:"sql"`  // capped at FORGE_AUDIT_MAX_SQL_BYTES bytes
	// SQLBytes is the statement's whole length (more than len(SQL) when
	// the text was capped).
	SQLBytes   int64  `json:"sql_bytes"`
	Params     int64  `json:"params"`
	Runs       int64  `json:"runs"`
	Rows       int64  `json:"rows"`
	DurationUS int64  `json:"duration_us"`
	Outcome    string `json:"outcome"` // ok, error, rolled_back
	Error      string `json:"error"`
}
