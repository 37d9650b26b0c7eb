package gateway

import (
	"context"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/auth"
	"github.com/praetorian/db-forge/forge"
)

// Damage is what the gateway needs of the engine's memory of damaged
// database files: the list that GET /admin/databases and GET /health
// show, and the integrity check an operator runs on demand.
type Damage interface {
	// Damaged lists the databases found damaged (SQLITE_CORRUPT or
	// SQLITE_NOTADB) since start or since their last passing check.
	Damaged() []forge.Damage
	// IntegrityCheck runs SQLite's integrity_check on db: no problems
	// means it is sound (and no longer marked damaged). A file SQLite
	// cannot open as a database is a problem, not an error.
	IntegrityCheck(ctx context.Context, db string) (problems []string, err error)
}

// integrityCheck answers POST /admin/databases/{db_name}/integrity-check:
// 200 with what SQLite found, whether or not the database is sound.
func (s *Server) integrityCheck(ctx context.Context, rc *fasthttp.RequestCtx, req dbRequest) error {
	problems, err := s.opts.Damage.IntegrityCheck(ctx, req.db)
	if err != nil {
		return err
	}
	writeJSON(rc, fasthttp.StatusOK, integrityBody(req.db, problems))
	return nil
}

// integrityBody: {"db_name": ..., "ok": bool, "problems": [...]}.
func integrityBody(name string, problems []string) []byte {
	b := make([]byte, 0, 64+64*len(problems))
	b = append(b, `{"db_name":`...)
	b = appendString(b, name)
	if len(problems) == 0 {
		b = append(b, `,"ok":true`...)
	} else {
		b = append(b, `,"ok":false`...)
	}
	b = append(b, `,"problems":[`...)
	for i, p := range problems {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, p)
	}
	return append(b, "]}"...)
}

// damaged is the engine's damage list by name; nil without a Damage port.
func (s *Server) damaged() map[string]forge.Damage {
	if s.opts.Damage == nil {
		return nil
	}
	list := s.opts.Damage.Damaged()
	if len(list) == 0 {
		return nil
	}
	m := make(map[string]forge.Damage, len(list))
	for _, d := range list {
		m[d.Name] = d
	}
	return m
}

// appendDamageFields adds a damaged database's fields to its object:
// ,"damaged":true,"damage":...,"damaged_since":...
func appendDamageFields(b []byte, d forge.Damage) []byte {
	b = append(b, `,"damaged":true,"damage":`...)
	b = appendString(b, d.Message)
	b = append(b, `,"damaged_since":"`...)
	b = d.Since.UTC().AppendFormat(b, time.RFC3339)
	return append(b, '"')
}

// appendHealthDamage adds GET /health's "damaged" section when databases
// are marked damaged: ,"damaged":{"count":N,"databases":[...]}. A damaged
// database does not make the gateway unready (the others are fine); the
// names are for the admin key only, since /health is public and a name
// is not (GET /admin/databases needs the admin key too).
func (s *Server) appendHealthDamage(rc *fasthttp.RequestCtx, b []byte) []byte {
	if s.opts.Damage == nil {
		return b
	}
	list := s.opts.Damage.Damaged()
	if len(list) == 0 {
		return b
	}
	b = append(b, `,"damaged":{"count":`...)
	b = strconv.AppendInt(b, int64(len(list)), 10)
	if s.adminRequest(rc) {
		b = append(b, `,"databases":[`...)
		for i, d := range list {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"db_name":`...)
			b = appendString(b, d.Name)
			b = appendDamageFields(b, d)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// adminRequest reports whether a request to a public route carries the
// admin key (or authentication is off, which opens everything). A bad
// key is not an error here: the request just gets the public answer.
func (s *Server) adminRequest(rc *fasthttp.RequestCtx) bool {
	if !s.auth.enforced() {
		return true
	}
	tok, err := auth.Credential(rc.Request.Header.Peek(headerAuthorization), rc.Request.Header.Peek(headerAPIKey))
	if err != nil {
		return false
	}
	key, err := s.auth.Keys.VerifyBytes(tok)
	return err == nil && key.Scope == auth.ScopeAdmin
}
