package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// AuditRecord is one statement of a database's audit log (docs/API.md,
// Statement audit log).
type AuditRecord struct {
	ID        int64     `json:"id"`
	Time      time.Time `json:"time"`
	KeyID     string    `json:"key_id"`
	RequestID string    `json:"request_id"`
	// Route is the pattern of the route that ran it
	// ("/api/db/{db_name}/query").
	Route string `json:"route"`
	// Kind is "write" (or "read" with FORGE_AUDIT_READS=on).
	Kind string `json:"kind"`
	// SQL is the text's head; SQLBytes its whole length.
	SQL        string `json:"sql"`
	SQLBytes   int64  `json:"sql_bytes"`
	Params     int64  `json:"params"`
	Runs       int64  `json:"runs"`
	Rows       int64  `json:"rows"`
	DurationUS int64  `json:"duration_us"`
	// Outcome is "ok", "error" or "rolled_back"; Error the error's text.
	Outcome string `json:"outcome"`
	Error   string `json:"error"`
}

// AuditQuery filters the audit log. The zero value is the newest 100.
type AuditQuery struct {
	// Since: records from this time on (zero: all).
	Since time.Time
	// KeyID: only this key's records.
	KeyID string
	// Limit: at most this many (0: the gateway's 100; at most 1,000).
	Limit int
}

// Audit reads the database's audit log, newest first. The admin key or
// a key of the database that may write.
func (db *DB) Audit(ctx context.Context, q *AuditQuery) ([]AuditRecord, error) {
	if err := need(db.name); err != nil {
		return nil, err
	}
	v := url.Values{}
	if q != nil {
		if !q.Since.IsZero() {
			v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
		}
		if q.KeyID != "" {
			v.Set("key_id", q.KeyID)
		}
		if q.Limit > 0 {
			v.Set("limit", strconv.Itoa(q.Limit))
		}
	}
	var out struct {
		Records []AuditRecord `json:"records"`
	}
	_, err := db.c.call(ctx, request{method: http.MethodGet, path: db.path("audit"), query: v, idempotent: true}, &out)
	return out.Records, err
}
