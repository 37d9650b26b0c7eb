package audit

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// Limits of the route's page.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// CodeInvalidValue is the gateway's code for a query string it cannot
// take (an InputError answers 400 with it).
const CodeInvalidValue = "INVALID_VALUE"

// Query is what GET /api/db/{db}/audit asks: the records since Since
// (zero: all), of the key KeyID ("" any), newest first, at most Limit.
type Query struct {
	Since time.Time
	KeyID string
	Limit int
}

// ParseQuery decodes the route's query string: since (RFC 3339, or
// seconds since the epoch), key_id, limit (1 to MaxLimit; more is
// capped). A parameter given twice, or unknown, is refused.
func ParseQuery(params []forge.QueryParam) (Query, error) {
	q := Query{Limit: DefaultLimit}
	seen := map[string]bool{}
	for _, p := range params {
		if seen[p.Key] {
			return Query{}, forge.Inputf(CodeInvalidValue, "Query parameter %q is given twice.", p.Key)
		}
		seen[p.Key] = true
		switch p.Key {
		case "since":
			t, err := parseSince(p.Value)
			if err != nil {
				return Query{}, err
			}
			q.Since = t
		case "key_id":
			if len(p.Value) > 128 {
				return Query{}, forge.Inputf(CodeInvalidValue, `Query parameter "key_id" is longer than 128 bytes.`)
			}
			q.KeyID = p.Value
		case "limit":
			n, err := strconv.Atoi(p.Value)
			if err != nil || n < 1 {
				if err != nil && strings.TrimLeft(p.Value, "0123456789") == "" && p.Value != "" {
					n = MaxLimit // a number too large for an int: capped
				} else {
					return Query{}, forge.Inputf(CodeInvalidValue, `Query parameter "limit" must be a positive integer.`)
				}
			}
			q.Limit = min(n, MaxLimit)
		default:
			return Query{}, forge.Inputf(CodeInvalidValue,
				"Unknown query parameter %q; the audit log takes \"since\", \"key_id\" and \"limit\".", cut(p.Key, 64))
		}
	}
	return q, nil
}

// parseSince reads since: RFC 3339 (with fractions), or whole seconds
// since the epoch.
func parseSince(v string) (time.Time, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > 1<<40 {
			return time.Time{}, forge.Inputf(CodeInvalidValue, `Query parameter "since" is out of range.`)
		}
		return time.Unix(n, 0), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil || t.Year() < 1970 || t.Year() > 9999 {
		return time.Time{}, forge.Inputf(CodeInvalidValue,
			`Query parameter "since" must be an RFC 3339 time (2026-01-02T15:04:05Z) or seconds since 1970.`)
	}
	return t, nil
}

func cut(s string, n int) string {
	if len(s) > n {
		return Cap(s, n) + "…"
	}
	return s
}

// selectRows reads the log's rows newest first: those whose last record
// began at ?1 or later.
const selectRows = "SELECT seq, n, records FROM " + Table + " WHERE at_us >= ?1 ORDER BY id DESC"

// hasTable tells whether a database has the log.
const hasTable = "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = '" + Table + "'"

// Service answers the route over the engine.
type Service struct {
	e Engine
}

// NewService returns the route's service over e.
func NewService(e Engine) *Service { return &Service{e: e} }

// List decodes the route's query string (ParseQuery) and returns the
// records it asks for (Find).
func (s *Service) List(ctx context.Context, db string, params []forge.QueryParam) ([]Record, error) {
	q, err := ParseQuery(params)
	if err != nil {
		return nil, err
	}
	return s.Find(ctx, db, q)
}

// Find returns the records of database db that q asks for, newest first
// (none when the database has had no recorded statement yet).
func (s *Service) Find(ctx context.Context, db string, q Query) ([]Record, error) {
	var out []Record
	err := s.e.Read(ctx, db, func(tx forge.Tx) error {
		out = out[:0]
		var found bool
		if _, err := tx.Run(ctx, forge.Statement{SQL: hasTable, Bookkeeping: true}, rowFunc(func(forge.Row) error { found = true; return nil })); err != nil {
			return err
		}
		if !found {
			return nil
		}
		var since int64
		if !q.Since.IsZero() {
			since = q.Since.UnixMicro()
		}
		limit := q.Limit
		if limit <= 0 || limit > MaxLimit {
			limit = min(max(limit, DefaultLimit), MaxLimit)
		}
		var bad error
		_, err := tx.Run(ctx, forge.Statement{SQL: selectRows, Bookkeeping: true, Params: forge.Params{Positional: []forge.Value{
			forge.IntValue(since),
		}}}, rowFunc(func(r forge.Row) error {
			recs, err := decodeRecords(r.Blob(2), r.Int(1), r.Int(0))
			if err != nil {
				bad = err
				return forge.ErrStop
			}
			for i := len(recs) - 1; i >= 0 && len(out) < limit; i-- {
				rec := recs[i]
				if rec.atUS >= since && (q.KeyID == "" || rec.KeyID == q.KeyID) {
					out = append(out, rec.AuditEntry)
				}
			}
			if len(out) >= limit {
				return forge.ErrStop
			}
			return nil
		}))
		if err == nil {
			err = bad
		}
		return err
	})
	if out == nil {
		out = []Record{}
	}
	return out, err
}

// rowFunc is a forge.RowWriter that hands each row to a func.
type rowFunc func(forge.Row) error

func (rowFunc) Columns([]string) error  { return nil }
func (f rowFunc) Row(r forge.Row) error { return f(r) }
