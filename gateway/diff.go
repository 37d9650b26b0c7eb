package gateway

import (
	"bytes"
	"context"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/auth"
	"github.com/praetorian/db-forge/forge"
)

// Row-level diffs (package diff): GET /api/db/{db_name}/diff. The route
// is in the table of routes.go; this file holds its port, binder and
// handler.

// Diffs is the port of diffs (package diff's *Service).
type Diffs interface {
	Diff(ctx context.Context, db string, q forge.DiffQuery) (forge.Diff, error)
	// ParseAgainst reads the "against" parameter: "checkpoint:<name>"
	// or "db:<name>".
	ParseAgainst(s string) (kind, name string, err error)
}

func hasDiffs(s *Server) bool { return s.opts.Diffs != nil }

// headerAgainstKey carries a key of the other database of a diff
// against=db:<other>, when the request's own key is not the admin key.
const headerAgainstKey = "X-Against-Key"

// diffRequest: GET /api/db/{db_name}/diff?against=…&summary=1&limit=N&cursor=….
type diffRequest struct {
	db      string
	against string
	q       forge.DiffQuery
}

func bindDiff(rc *fasthttp.RequestCtx) (diffRequest, error) {
	db, err := dbName(rc)
	if err != nil {
		return diffRequest{}, err
	}
	req := diffRequest{db: db}
	var bad error
	seen := map[string]bool{}
	rc.QueryArgs().VisitAll(func(k, v []byte) {
		if bad != nil {
			return
		}
		key := string(k)
		if seen[key] {
			bad = invalidValue("Query parameter %q is given twice.", key)
			return
		}
		seen[key] = true
		switch key {
		case "against":
			req.against = string(v)
		case "summary":
			switch string(v) {
			case "1", "true":
				req.q.Summary = true
			case "0", "false":
			default:
				bad = invalidValue(`Query parameter "summary" must be 1 or 0.`)
			}
		case "limit":
			n, err := strconv.Atoi(string(v))
			if err != nil || n < 1 {
				bad = invalidValue(`Query parameter "limit" must be a positive integer.`)
			}
			req.q.Limit = n
		case "cursor":
			req.q.Cursor = string(v)
		default:
			bad = invalidValue("Unknown query parameter %q; the diff takes \"against\", \"summary\", \"limit\" and \"cursor\".", key)
		}
	})
	if bad != nil {
		return req, bad
	}
	if req.against == "" {
		return req, invalidValue(`Query parameter "against" is required: "checkpoint:<name>" or "db:<name>".`)
	}
	return req, nil
}

// mayCompare checks that the request may read database other too: the
// admin key may; another key needs a key of other in X-Against-Key.
func (s *Server) mayCompare(rc *fasthttp.RequestCtx, other string) error {
	if !s.auth.enforced() || state(rc).keyID == auth.AdminKeyID {
		return nil
	}
	tok := bytes.TrimSpace(rc.Request.Header.Peek(headerAgainstKey))
	if len(tok) == 0 {
		return newError(fasthttp.StatusForbidden, CodeForbidden,
			"A diff against another database needs the admin key, or a key of that database too in the "+headerAgainstKey+" header.")
	}
	key, err := s.auth.Keys.VerifyBytes(tok)
	if err == nil {
		err = auth.Authorize(key, auth.Access{DB: other})
	}
	if err != nil {
		return newError(fasthttp.StatusForbidden, CodeForbidden,
			"The "+headerAgainstKey+" header holds no key of database "+strconv.Quote(other)+".")
	}
	return nil
}

// diff answers a page of the diff of {db_name} against a checkpoint of it
// or another database. It runs under the export timeout: it reads whole
// tables, as an export does.
func (s *Server) diff(_ context.Context, rc *fasthttp.RequestCtx, req diffRequest) error {
	kind, name, err := s.opts.Diffs.ParseAgainst(req.against)
	if err != nil {
		return err
	}
	if kind == "db" {
		if err := forge.ValidateName(name); err != nil {
			return err
		}
		if err := s.mayCompare(rc, name); err != nil {
			return err
		}
	}
	req.q.AgainstKind, req.q.AgainstName = kind, name
	ctx, cancel := s.exportContext()
	defer cancel()
	d, err := s.opts.Diffs.Diff(ctx, req.db, req.q)
	if err != nil {
		return err
	}
	rc.Response.Header.Set("Cache-Control", "no-store")
	writeJSON(rc, fasthttp.StatusOK, appendDiff(nil, req, d))
	return nil
}

// appendDiff writes the answer:
//
//	{"db_name":…,"against":…,"summary":false,
//	 "schema":[{"type","name","change","before","after","columns_added",…}],
//	 "tables":[{"table","key","inserted","deleted","updated","changes":[…]}],
//	 "truncated":false,"next_cursor":null}
func appendDiff(b []byte, req diffRequest, d forge.Diff) []byte {
	b = append(b, `{"db_name":`...)
	b = appendString(b, req.db)
	b = append(b, `,"against":`...)
	b = appendString(b, req.against)
	b = append(b, `,"summary":`...)
	b = strconv.AppendBool(b, req.q.Summary)
	b = append(b, `,"schema":[`...)
	for i, c := range d.Schema {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":`...)
		b = appendString(b, c.Type)
		b = append(b, `,"name":`...)
		b = appendString(b, c.Name)
		b = append(b, `,"change":`...)
		b = appendString(b, c.Change)
		b = append(b, `,"before":`...)
		b = appendOptString(b, c.Before)
		b = append(b, `,"after":`...)
		b = appendOptString(b, c.After)
		if c.Type == "table" && c.Change == "modified" {
			b = append(b, `,"columns_added":`...)
			b = appendStrings(b, c.ColumnsAdded)
			b = append(b, `,"columns_dropped":`...)
			b = appendStrings(b, c.ColumnsDropped)
			b = append(b, `,"columns_changed":`...)
			b = appendStrings(b, c.ColumnsChanged)
		}
		b = append(b, '}')
	}
	b = append(b, `],"tables":[`...)
	for i, t := range d.Tables {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"table":`...)
		b = appendString(b, t.Table)
		if t.Skipped != "" {
			b = append(b, `,"skipped":`...)
			b = appendString(b, t.Skipped)
			b = append(b, '}')
			continue
		}
		b = append(b, `,"key":`...)
		b = appendStrings(b, t.Key)
		b = append(b, `,"inserted":`...)
		b = strconv.AppendInt(b, t.Inserted, 10)
		b = append(b, `,"deleted":`...)
		b = strconv.AppendInt(b, t.Deleted, 10)
		b = append(b, `,"updated":`...)
		b = strconv.AppendInt(b, t.Updated, 10)
		if !req.q.Summary {
			b = append(b, `,"changes":[`...)
			for j, ch := range t.Changes {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"op":`...)
				b = appendString(b, ch.Op)
				b = append(b, `,"key":`...)
				b = appendRecord(b, ch.Key)
				b = append(b, `,"before":`...)
				b = appendRecord(b, ch.Before)
				b = append(b, `,"after":`...)
				b = appendRecord(b, ch.After)
				b = append(b, '}')
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	b = append(b, `],"truncated":`...)
	b = strconv.AppendBool(b, d.Truncated)
	b = append(b, `,"next_cursor":`...)
	b = appendOptString(b, d.Next)
	return append(b, '}')
}

func appendOptString(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}
