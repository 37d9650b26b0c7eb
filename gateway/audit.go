package gateway

import (
	"context"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/forge"
)

// AuditLog serves GET /api/db/{db_name}/audit: the statement audit log
// of a database (package audit), newest first.
type AuditLog interface {
	// List decodes the query string (since, key_id, limit: a
	// forge.InputError when it is wrong) and returns the records.
	List(ctx context.Context, db string, params []forge.QueryParam) ([]forge.AuditEntry, error)
}

func hasAudit(s *Server) bool { return s.opts.Audit != nil }

// auditRequest: GET /api/db/{db_name}/audit?since=&key_id=&limit=.
type auditRequest struct {
	db     string
	params []forge.QueryParam
}

func bindAudit(rc *fasthttp.RequestCtx) (auditRequest, error) {
	db, err := dbName(rc)
	if err != nil {
		return auditRequest{}, err
	}
	req := auditRequest{db: db}
	rc.QueryArgs().VisitAll(func(k, v []byte) {
		req.params = append(req.params, forge.QueryParam{Key: string(k), Value: string(v)})
	})
	return req, nil
}

// auditAnswer is the route's answer.
type auditAnswer struct {
	DBName  string             `json:"db_name"`
	Records []forge.AuditEntry `json:"records"`
	Count   int                `json:"count"`
}

func (s *Server) auditLog(ctx context.Context, rc *fasthttp.RequestCtx, req auditRequest) error {
	recs, err := s.opts.Audit.List(ctx, req.db, req.params)
	if err != nil {
		return err
	}
	return writeJSONValue(rc, fasthttp.StatusOK, auditAnswer{DBName: req.db, Records: recs, Count: len(recs)})
}

// withCaller puts who asks (key id, request id, route) in a request's
// context for the audit log, when there is one.
func (s *Server) withCaller(ctx context.Context, rc *fasthttp.RequestCtx, pattern string) context.Context {
	return forge.WithCaller(ctx, &forge.Caller{KeyID: state(rc).keyID, RequestID: requestID(rc), Route: pattern})
}
