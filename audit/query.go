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

// selectPage reads a page of the log: ?1 the first at_us, ?2 the key id
// ("" any), ?3 the limit.
const selectPage = "SELECT id, at_us, key_id, request_id, route, kind, sql, sql_bytes, params, runs, rows, " +
	"duration_us, outcome, error FROM " + Table +
	" WHERE at_us >= ?1 AND (?2 = '' OR key_id = ?2) ORDER BY id DESC LIMIT ?3"

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
		if _, err := tx.Run(ctx, forge.Statement{SQL: hasTable, Bookkeeping: true}, rowFunc(func(forge.Row) { found = true })); err != nil {
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
		if limit <= 0 {
			limit = DefaultLimit
		}
		_, err := tx.Run(ctx, forge.Statement{SQL: selectPage, Bookkeeping: true, Params: forge.Params{Positional: []forge.Value{
			forge.IntValue(since), forge.TextValue(q.KeyID), forge.IntValue(int64(min(limit, MaxLimit))),
		}}}, rowFunc(func(r forge.Row) {
			out = append(out, Record{
				ID: r.Int(0), Time: formatTime(r.Int(1)), KeyID: string(r.Text(2)), RequestID: string(r.Text(3)),
				Route: string(r.Text(4)), Kind: string(r.Text(5)), SQL: string(r.Text(6)), SQLBytes: r.Int(7),
				Params: r.Int(8), Runs: r.Int(9), Rows: r.Int(10), DurationUS: r.Int(11),
				Outcome: string(r.Text(12)), Error: string(r.Text(13)),
			})
		}))
		return err
	})
	if out == nil {
		out = []Record{}
	}
	return out, err
}

// rowFunc is a forge.RowWriter that hands each row to a func.
type rowFunc func(forge.Row)

func (rowFunc) Columns([]string) error  { return nil }
func (f rowFunc) Row(r forge.Row) error { f(r); return nil }
