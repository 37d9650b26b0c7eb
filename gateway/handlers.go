package gateway

import (
	"context"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/forge"
)

// Handlers: the request arrives bound (requests.go) with its context
// (routes.go); call a port, encode. Nothing else.

func (s *Server) root(_ context.Context, rc *fasthttp.RequestCtx, _ noRequest) error {
	writeJSON(rc, fasthttp.StatusOK, []byte(`{"message":"Praetorian DB-Forge is online."}`))
	return nil
}

// metricsContentType is the Prometheus text format's media type.
const metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// metrics answers GET /metrics: every metric, Prometheus text format.
func (s *Server) metrics(_ context.Context, rc *fasthttp.RequestCtx, _ noRequest) error {
	if err := s.opts.Metrics.WriteText(rc); err != nil {
		rc.ResetBody()
		return err
	}
	rc.SetStatusCode(fasthttp.StatusOK)
	rc.SetContentType(metricsContentType)
	return nil
}

func (s *Server) spawn(ctx context.Context, rc *fasthttp.RequestCtx, req spawnRequest) error {
	if s.idempotent(req.idem) { // spawn's weaker form: in progress only (docs/API.md)
		release, err := s.opts.Idempotency.Claim(req.db, req.idem)
		if err != nil {
			return err
		}
		defer release()
	}
	if req.source != spawnEmpty {
		return s.spawnFrom(ctx, rc, req)
	}
	sp, err := s.life.Spawn(ctx, req.db)
	if err != nil {
		return err
	}
	fields := []string{"db_name", req.db, "container_id", sp.Instance.ContainerID}
	if !sp.Created {
		// No new key: an idempotent re-spawn must not pile up keys nobody
		// asked for. POST /admin/databases/{db_name}/keys mints one.
		writeJSON(rc, fasthttp.StatusOK, messageBody("Database instance already exists and is running.", fields...))
		return nil
	}
	if sp.Key != nil {
		fields = append(fields, "api_key", sp.Key.Reveal())
	}
	writeJSON(rc, fasthttp.StatusCreated, messageBody("Database instance spawned successfully.", fields...))
	return nil
}

func (s *Server) prune(ctx context.Context, rc *fasthttp.RequestCtx, req dbRequest) error {
	if err := s.life.Prune(ctx, req.db); err != nil {
		return err
	}
	writeJSON(rc, fasthttp.StatusOK, messageBody("Database instance pruned successfully.", "db_name", req.db))
	return nil
}

// deleteDatabase removes a database with its keys (lifecycle.Delete says
// in which order, and why).
func (s *Server) deleteDatabase(ctx context.Context, rc *fasthttp.RequestCtx, req dbRequest) error {
	if err := s.life.Delete(ctx, req.db); err != nil {
		return err
	}
	writeJSON(rc, fasthttp.StatusOK, messageBody("Database deleted successfully.", "db_name", req.db))
	return nil
}

// createKey mints a key for an existing database; its token is in this
// response and nowhere else.
func (s *Server) createKey(ctx context.Context, rc *fasthttp.RequestCtx, req createKeyRequest) error {
	key, tok, err := s.life.MintKey(ctx, req.db, req.scope, req.expiresIn)
	if err != nil {
		return err
	}
	writeJSON(rc, fasthttp.StatusCreated, newKeyBody(key, tok))
	return nil
}

// listKeys lists a database's keys, revoked and expired ones included;
// never a token.
func (s *Server) listKeys(_ context.Context, rc *fasthttp.RequestCtx, req dbRequest) error {
	if err := s.life.MustExist(req.db); err != nil {
		return err
	}
	writeJSON(rc, fasthttp.StatusOK, keysBody(s.auth.Keys.List(req.db)))
	return nil
}

func (s *Server) revokeKey(ctx context.Context, rc *fasthttp.RequestCtx, req revokeRequest) error {
	if err := s.life.MustExist(req.db); err != nil {
		return err
	}
	if err := s.auth.Keys.Revoke(ctx, req.db, req.id); err != nil {
		return err
	}
	writeJSON(rc, fasthttp.StatusOK, messageBody("API key revoked.", "db_name", req.db, "id", req.id))
	return nil
}

func (s *Server) query(ctx context.Context, rc *fasthttp.RequestCtx, req queryRequest) error {
	id := transactionID(rc)
	if err := req.opt.combine(id != "", s.idempotent(req.idem)); err != nil {
		return err
	}
	switch {
	case req.opt.dryRun: // records nothing: an Idempotency-Key is moot
		return s.queryDryRun(ctx, rc, req, id)
	case id != "":
		return s.queryIn(ctx, rc, req, id)
	case s.idempotent(req.idem):
		return s.queryOnce(ctx, rc, req)
	case req.opt.result != (resultOptions{}):
		return s.queryShaped(ctx, rc, req)
	}
	enc := getEncoder()
	defer putEncoder(enc)
	enc.limit = s.opts.MaxResponseBytes
	res, err := s.engine.Query(ctx, req.db, req.stmt, enc)
	if err != nil {
		return err
	}
	writeJSON(rc, fasthttp.StatusOK, appendMeta(enc.finish(res), res.Meta))
	return nil
}

// queryShaped answers a query with result options. Apart from query so
// that its closure's capture of req does not move every query's request
// to the heap (208 bytes and an allocation per point SELECT).
func (s *Server) queryShaped(ctx context.Context, rc *fasthttp.RequestCtx, req queryRequest) error {
	return s.writeResult(ctx, rc, req.opt.result, true, func(ctx context.Context, w forge.RowWriter) (forge.Result, error) {
		return s.engine.Query(ctx, req.db, req.stmt, w)
	})
}

func (s *Server) createTable(ctx context.Context, rc *fasthttp.RequestCtx, req tableRequest) error {
	if s.idempotent(req.idem) {
		return s.createTableOnce(ctx, rc, req)
	}
	if err := s.engine.CreateTable(ctx, req.db, req.spec); err != nil {
		return err
	}
	writeJSON(rc, fasthttp.StatusCreated, createdTableBody(req.spec.Name))
	return nil
}

func createdTableBody(name string) []byte {
	return messageBody("Table '" + name + "' created successfully.")
}

func (s *Server) insertRows(ctx context.Context, rc *fasthttp.RequestCtx, req insertRequest) error {
	if s.idempotent(req.idem) {
		return s.insertRowsOnce(ctx, rc, req)
	}
	if insertOptionsSet(req.opt) {
		return s.insertRowsWith(ctx, rc, req)
	}
	n, err := s.engine.InsertRows(ctx, req.db, req.table, req.rows)
	if err != nil {
		return err
	}
	writeJSON(rc, fasthttp.StatusCreated, insertedBody(n))
	return nil
}

func insertedBody(n int64) []byte {
	b := append([]byte(`{"message":"Rows inserted successfully.","rows_affected":`), strconv.FormatInt(n, 10)...)
	return append(b, '}')
}
