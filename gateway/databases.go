package gateway

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/forge"
)

// GET /admin/databases (the seed's array, with filters and paging) and
// GET /admin/databases/{db_name} (one database in detail).

// Details is what the data directory and the engine know of one database.
type Details interface {
	// Details describes name; forge.ErrDatabaseNotFound when it has no
	// database.
	Details(ctx context.Context, name string) (DatabaseDetails, error)
}

// DatabaseDetails describes one database's storage.
type DatabaseDetails struct {
	// FileBytes and WALBytes are the sizes of the database file and of
	// its write-ahead log on disk.
	FileBytes, WALBytes int64
	// Tables counts its tables (views and SQLite's own aside).
	Tables int
	// LastUsedAt is when a request last let go of it, while the engine
	// has it open; else the last write to its files. Zero: unknown.
	LastUsedAt time.Time
	// CreatedAt is when its file was made, when known.
	CreatedAt time.Time
}

// maxListLimit caps one page of the list; an operator pages past it.
const maxListLimit = 1000

// listRequest: GET /admin/databases?status=&prefix=&limit=&after=.
type listRequest struct {
	status, prefix, after string
	limit                 int // 0: every database (the seed's answer)
}

// bindList reads the list's query string: every parameter at most once,
// and nothing else.
func bindList(rc *fasthttp.RequestCtx) (listRequest, error) {
	var req listRequest
	var err error
	seen := map[string]bool{}
	rc.QueryArgs().VisitAll(func(k, v []byte) {
		if err != nil {
			return
		}
		key := string(k)
		if seen[key] {
			err = invalidValue("Query parameter %q is given twice.", key)
			return
		}
		seen[key] = true
		val := string(v)
		if !utf8.ValidString(val) || strings.IndexByte(val, 0) >= 0 || len(val) > 256 {
			err = invalidValue("Query parameter %q must be at most 256 bytes of UTF-8 without NUL.", key)
			return
		}
		switch key {
		case "status":
			req.status = val
		case "prefix":
			req.prefix = val
		case "after":
			req.after = val
		case "limit":
			n, perr := strconv.Atoi(val)
			if perr != nil || n < 1 || n > maxListLimit {
				err = invalidValue("Query parameter \"limit\" must be a whole number from 1 to %d.", maxListLimit)
				return
			}
			req.limit = n
		default:
			err = invalidValue("Unknown query parameter %q: the list takes status, prefix, limit and after.", key)
		}
	})
	if err == nil && req.after != "" && req.limit == 0 {
		err = invalidValue("Query parameter \"after\" pages the list: give \"limit\" with it.")
	}
	return req, err
}

// list answers the seed's array of instances, in name order, filtered by
// status and name prefix. With limit, one page: when more follow, the
// X-Next-Cursor header holds the value of "after" for the next page and
// Link the next page's URL (rel="next"); the body stays the array.
func (s *Server) list(ctx context.Context, rc *fasthttp.RequestCtx, req listRequest) error {
	insts, err := s.orch.List(ctx)
	if err != nil {
		return err
	}
	insts = slices.DeleteFunc(insts, func(in forge.Instance) bool {
		return (req.status != "" && in.Status != req.status) ||
			(req.prefix != "" && !strings.HasPrefix(in.Name, req.prefix)) ||
			(req.after != "" && in.Name <= req.after)
	})
	slices.SortFunc(insts, func(a, b forge.Instance) int { return strings.Compare(a.Name, b.Name) })
	if req.limit > 0 && len(insts) > req.limit {
		insts = insts[:req.limit]
		next := insts[len(insts)-1].Name
		q := url.Values{"limit": {strconv.Itoa(req.limit)}, "after": {next}}
		if req.status != "" {
			q.Set("status", req.status)
		}
		if req.prefix != "" {
			q.Set("prefix", req.prefix)
		}
		rc.Response.Header.Set("X-Next-Cursor", next)
		rc.Response.Header.Set("Link", "</admin/databases?"+q.Encode()+`>; rel="next"`)
	}
	damaged := s.damaged()
	b := make([]byte, 0, 64+96*len(insts))
	b = append(b, '[')
	for i, in := range insts {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendString(b, in.Name)
		b = append(b, `,"container_id":`...)
		b = appendString(b, in.ContainerID)
		b = append(b, `,"status":`...)
		b = appendString(b, in.Status)
		if !in.CreatedAt.IsZero() {
			b = append(b, `,"created_at":`...)
			b = appendTime(b, in.CreatedAt)
		}
		if d, ok := damaged[in.Name]; ok {
			b = appendDamageFields(b, d)
		}
		b = append(b, '}')
	}
	b = append(b, ']')
	writeJSON(rc, fasthttp.StatusOK, b)
	return nil
}

// details answers one database: its instance (if it has one), its
// storage, its keys.
func (s *Server) details(ctx context.Context, rc *fasthttp.RequestCtx, req dbRequest) error {
	d, err := s.opts.Details.Details(ctx, req.db)
	if err != nil {
		return err
	}
	insts, err := s.orch.List(ctx)
	if err != nil {
		return err
	}
	var inst *forge.Instance
	for i := range insts {
		if insts[i].Name == req.db {
			inst = &insts[i]
			break
		}
	}
	b := make([]byte, 0, 512)
	b = append(b, `{"name":`...)
	b = appendString(b, req.db)
	b = append(b, `,"status":`...)
	created := d.CreatedAt
	if inst != nil {
		b = appendString(b, inst.Status)
		b = append(b, `,"container_id":`...)
		b = appendString(b, inst.ContainerID)
		if !inst.CreatedAt.IsZero() {
			created = inst.CreatedAt
		}
	} else {
		b = append(b, `"pruned","container_id":null`...)
	}
	b = append(b, `,"created_at":`...)
	b = appendTime(b, created)
	b = append(b, `,"last_used_at":`...)
	b = appendTime(b, d.LastUsedAt)
	b = append(b, `,"size_bytes":`...)
	b = strconv.AppendInt(b, d.FileBytes+d.WALBytes, 10)
	b = append(b, `,"file_bytes":`...)
	b = strconv.AppendInt(b, d.FileBytes, 10)
	b = append(b, `,"wal_bytes":`...)
	b = strconv.AppendInt(b, d.WALBytes, 10)
	b = append(b, `,"tables":`...)
	b = strconv.AppendInt(b, int64(d.Tables), 10)
	b = append(b, `,"expires_at":null`...) // databases do not expire (yet)
	if s.auth.Keys != nil {
		keys := s.auth.Keys.List(req.db)
		active := 0
		now := time.Now()
		for _, k := range keys {
			if !k.Revoked() && (k.ExpiresAt.IsZero() || k.ExpiresAt.After(now)) {
				active++
			}
		}
		b = append(b, `,"keys":{"total":`...)
		b = strconv.AppendInt(b, int64(len(keys)), 10)
		b = append(b, `,"active":`...)
		b = strconv.AppendInt(b, int64(active), 10)
		b = append(b, '}')
	}
	if dm, ok := s.damaged()[req.db]; ok {
		b = appendDamageFields(b, dm)
	}
	b = append(b, '}')
	writeJSON(rc, fasthttp.StatusOK, b)
	return nil
}
