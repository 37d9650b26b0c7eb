package gateway

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/forge"
)

// Leases and the trash (package lifecycle's protocols, package leases'
// table): a spawn's {"ttl": seconds}, POST /admin/databases/{db_name}/lease,
// GET /admin/trash, POST /admin/trash/{db_name}/restore, and the gate that
// makes an expired database answer 404 at once, as if deleted, before the
// janitor has moved it to the trash.

// Leases is what the gateway reads of the lease table; the changes go
// through package lifecycle.
type Leases interface {
	// Expired reports whether name's lease has run out: the per-request
	// check, without a lock or a system call.
	Expired(name string) bool
	// ExpiresAt is name's lease's end; false when it has none.
	ExpiresAt(name string) (time.Time, bool)
}

// Trash lists the expired databases kept for restore.
type Trash interface {
	Trashed(ctx context.Context) ([]TrashEntry, error)
}

// TrashEntry is one expired database in the trash.
type TrashEntry struct {
	Name string
	// ExpiredAt is when its lease ran out, TrashedAt when it was moved,
	// PurgeAt when the janitor removes it (FORGE_TRASH_RETENTION).
	ExpiredAt, TrashedAt, PurgeAt time.Time
	SizeBytes                     int64
}

func hasLeases(s *Server) bool { return s.opts.Leases != nil && s.opts.Trash != nil }

// maxTTL is the longest lease, in seconds (10 years).
const maxTTL = 10 * 365 * 24 * 3600

// CodeInvalidTTL: a "ttl" that is not a whole number of seconds in range.
const CodeInvalidTTL = "INVALID_TTL"

func invalidTTL() *apiError {
	return newError(fasthttp.StatusBadRequest, CodeInvalidTTL,
		`Field "ttl" must be a whole number of seconds from 1 to `+strconv.Itoa(maxTTL)+` (10 years), or null for no lease.`)
}

// decodeTTL reads a "ttl" member: seconds, or null (0: no lease).
func decodeTTL(v jvalue) (time.Duration, error) {
	switch v.kind {
	case jNull:
		return 0, nil
	case jNumber:
		secs, err := strconv.ParseInt(v.s, 10, 64)
		if err != nil || secs < 1 || secs > maxTTL {
			return 0, invalidTTL()
		}
		return time.Duration(secs) * time.Second, nil
	}
	return 0, invalidShape("Field \"ttl\" must be a number of seconds or null, not %s.", v.kind)
}

// decodeLease reads {"ttl": seconds | null}: the body of the lease route
// (required) and of a restore (optional, "" = {}).
func decodeLease(body []byte, required bool) (time.Duration, error) {
	if len(body) == 0 && !required {
		return 0, nil
	}
	v, err := parseBody(body)
	if err != nil {
		return 0, err
	}
	var ttl time.Duration
	have := false
	for _, m := range v.obj {
		if m.key != "ttl" {
			return 0, unknownField("the lease body", m.key)
		}
		if ttl, err = decodeTTL(m.val); err != nil {
			return 0, err
		}
		have = true
	}
	if required && !have {
		return 0, invalidShape(`Field "ttl" is required: seconds from now, or null to remove the lease.`)
	}
	return ttl, nil
}

// leaseRequest: POST /admin/databases/{db_name}/lease and POST
// /admin/trash/{db_name}/restore.
type leaseRequest struct {
	db  string
	ttl time.Duration // 0: no lease
}

func bindLease(rc *fasthttp.RequestCtx) (leaseRequest, error) {
	db, err := dbName(rc)
	if err != nil {
		return leaseRequest{}, err
	}
	ttl, err := decodeLease(rc.PostBody(), true)
	return leaseRequest{db: db, ttl: ttl}, err
}

func bindRestore(rc *fasthttp.RequestCtx) (leaseRequest, error) {
	db, err := dbName(rc)
	if err != nil {
		return leaseRequest{}, err
	}
	ttl, err := decodeLease(rc.PostBody(), false)
	return leaseRequest{db: db, ttl: ttl}, err
}

// setLease renews (or, with null, removes) a database's lease.
func (s *Server) setLease(ctx context.Context, rc *fasthttp.RequestCtx, req leaseRequest) error {
	at, err := s.life.SetLease(ctx, req.db, req.ttl)
	if err != nil {
		return err
	}
	b := make([]byte, 0, 96)
	b = append(b, `{"db_name":`...)
	b = appendString(b, req.db)
	b = append(b, `,"expires_at":`...)
	b = appendTime(b, at)
	b = append(b, '}')
	writeJSON(rc, fasthttp.StatusOK, b)
	return nil
}

// listTrash answers the expired databases kept for restore, by name.
func (s *Server) listTrash(ctx context.Context, rc *fasthttp.RequestCtx, _ noRequest) error {
	list, err := s.opts.Trash.Trashed(ctx)
	if err != nil {
		return err
	}
	b := make([]byte, 0, 64+160*len(list))
	b = append(b, '[')
	for i, e := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendString(b, e.Name)
		b = append(b, `,"expired_at":`...)
		b = appendTime(b, e.ExpiredAt)
		b = append(b, `,"trashed_at":`...)
		b = appendTime(b, e.TrashedAt)
		b = append(b, `,"purge_at":`...)
		b = appendTime(b, e.PurgeAt)
		b = append(b, `,"size_bytes":`...)
		b = strconv.AppendInt(b, e.SizeBytes, 10)
		b = append(b, '}')
	}
	b = append(b, ']')
	writeJSON(rc, fasthttp.StatusOK, b)
	return nil
}

// restoreFromTrash brings an expired database back, with a new key.
func (s *Server) restoreFromTrash(ctx context.Context, rc *fasthttp.RequestCtx, req leaseRequest) error {
	sp, err := s.life.Restore(ctx, req.db, req.ttl)
	if err != nil {
		return err
	}
	fields := []string{"db_name", req.db, "container_id", sp.Instance.ContainerID}
	if sp.Key != nil {
		fields = append(fields, "api_key", sp.Key.Reveal())
	}
	if !sp.ExpiresAt.IsZero() {
		fields = append(fields, "expires_at", sp.ExpiresAt.UTC().Format(time.RFC3339))
	}
	writeJSON(rc, fasthttp.StatusOK, messageBody("Database restored from the trash.", fields...))
	return nil
}

// leaseGated says whether a route answers 404 for a database whose lease
// has run out, and with which error: every route of {db_name} but the
// spawn (which expires it and makes a new one) and the trash's.
func leaseGated(pattern string) (gated bool, notFound error) {
	switch {
	case !strings.Contains(pattern, "{db_name}"), pattern == "/admin/databases/spawn/{db_name}",
		strings.HasPrefix(pattern, "/admin/trash/"):
		return false, nil
	case pattern == "/admin/databases/prune/{db_name}":
		return true, forge.ErrInstanceNotFound
	}
	return true, forge.ErrDatabaseNotFound
}

// unexpired answers 404 for a database whose lease has run out, as if it
// were deleted; the janitor moves it to the trash in the meantime.
func (s *Server) unexpired(notFound error, next fasthttp.RequestHandler) fasthttp.RequestHandler {
	leases := s.opts.Leases
	return func(rc *fasthttp.RequestCtx) {
		if name, _ := rc.UserValue("db_name").(string); leases.Expired(name) {
			s.writeError(rc, notFound)
			return
		}
		next(rc)
	}
}

// appendExpiresAt appends ,"expires_at": … of database name: its lease's
// end, or null.
func (s *Server) appendExpiresAt(b []byte, name string) []byte {
	var at time.Time
	if s.opts.Leases != nil {
		at, _ = s.opts.Leases.ExpiresAt(name)
	}
	b = append(b, `,"expires_at":`...)
	return appendTime(b, at)
}
