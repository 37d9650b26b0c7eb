package gateway

import (
	"context"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/forge"
)

// Handlers: decode, call a port, encode. Nothing else.

func (s *Server) root(ctx *fasthttp.RequestCtx) {
	writeJSON(ctx, fasthttp.StatusOK, []byte(`{"message":"Praetorian DB-Forge is online."}`))
}

func (s *Server) health(ctx *fasthttp.RequestCtx) {
	b := []byte(`{"status":`)
	checks := make([]byte, 0, 128)
	healthy := true
	for i, c := range s.opts.Checks {
		cctx, cancel := context.WithTimeout(context.Background(), s.opts.HealthTimeout)
		err := c.Run(cctx)
		cancel()
		if i > 0 {
			checks = append(checks, ',')
		}
		checks = appendString(checks, c.Name)
		if err != nil {
			healthy = false
			checks = append(checks, `:{"ok":false,"error":`...)
			checks = appendString(checks, err.Error())
		} else {
			checks = append(checks, `:{"ok":true`...)
		}
		if c.Figures != nil {
			for _, f := range c.Figures() {
				checks = append(checks, ',')
				checks = appendString(checks, f.Name)
				checks = append(checks, ':')
				checks = strconv.AppendInt(checks, f.Value, 10)
			}
		}
		checks = append(checks, '}')
	}
	status := fasthttp.StatusOK
	if healthy {
		b = append(b, `"ok"`...)
	} else {
		status = fasthttp.StatusServiceUnavailable
		b = append(b, `"unavailable","detail":"Service unavailable.","error":{"code":"`+CodeUnavailable+`","message":"Service unavailable.","status":503}`...)
	}
	b = append(b, `,"checks":{`...)
	b = append(b, checks...)
	b = append(b, '}')
	b = s.appendHealthDamage(ctx, b)
	b = append(b, '}')
	writeJSON(ctx, status, b)
}

// metricsContentType is the Prometheus text format's media type.
const metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// metrics answers GET /metrics: every metric, Prometheus text format.
func (s *Server) metrics(ctx *fasthttp.RequestCtx) error {
	if err := s.opts.Metrics.WriteText(ctx); err != nil {
		ctx.ResetBody()
		return err
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType(metricsContentType)
	return nil
}

// adminContext bounds one admin operation.
func (s *Server) adminContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.opts.AdminTimeout)
}

// dbName is the validated {db_name} of the route.
func dbName(ctx *fasthttp.RequestCtx) (string, error) {
	name, _ := ctx.UserValue("db_name").(string)
	return name, forge.ValidateName(name)
}

func (s *Server) spawn(ctx *fasthttp.RequestCtx) error {
	name, err := dbName(ctx)
	if err != nil {
		return err
	}
	c, cancel := s.adminContext()
	defer cancel()
	inst, created, err := s.orch.Spawn(c, name)
	if err != nil {
		return err
	}
	if !created {
		// No new key: an idempotent re-spawn must not pile up keys nobody
		// asked for. POST /admin/databases/{db_name}/keys mints one.
		writeJSON(ctx, fasthttp.StatusOK, messageBody("Database instance already exists and is running.",
			"db_name", name, "container_id", inst.ContainerID))
		return nil
	}
	fields := []string{"db_name", name, "container_id", inst.ContainerID}
	tok, err := s.completeSpawn(c, name)
	if err != nil {
		return err
	}
	if tok != nil {
		fields = append(fields, "api_key", tok.Reveal())
	}
	writeJSON(ctx, fasthttp.StatusCreated, messageBody("Database instance spawned successfully.", fields...))
	return nil
}

func (s *Server) prune(ctx *fasthttp.RequestCtx) error {
	name, err := dbName(ctx)
	if err != nil {
		return err
	}
	c, cancel := s.adminContext()
	defer cancel()
	if err := s.orch.Prune(c, name); err != nil {
		return err
	}
	writeJSON(ctx, fasthttp.StatusOK, messageBody("Database instance pruned successfully.", "db_name", name))
	return nil
}

func (s *Server) list(ctx *fasthttp.RequestCtx) error {
	c, cancel := s.adminContext()
	defer cancel()
	insts, err := s.orch.List(c)
	if err != nil {
		return err
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
			b = append(b, `,"created_at":"`...)
			b = in.CreatedAt.UTC().AppendFormat(b, time.RFC3339)
			b = append(b, '"')
		}
		if d, ok := damaged[in.Name]; ok {
			b = appendDamageFields(b, d)
		}
		b = append(b, '}')
	}
	b = append(b, ']')
	writeJSON(ctx, fasthttp.StatusOK, b)
	return nil
}

func (s *Server) deleteDatabase(ctx *fasthttp.RequestCtx) error {
	name, err := dbName(ctx)
	if err != nil {
		return err
	}
	c, cancel := s.adminContext()
	defer cancel()
	// The keys go before the data: a delete that fails half-way leaves a
	// database no old key opens, never keys that would open a successor
	// of the same name.
	if err := s.dropKeys(c, name); err != nil {
		return err
	}
	// No connection may hold the file while it goes, and none may open it.
	err = s.engine.Exclusive(c, name, func() error { return s.orch.Delete(c, name) })
	if err != nil {
		return err
	}
	// A key minted for it while it was being removed goes too.
	if err := s.dropKeys(c, name); err != nil {
		return err
	}
	writeJSON(ctx, fasthttp.StatusOK, messageBody("Database deleted successfully.", "db_name", name))
	return nil
}

// createKey mints a key for an existing database; its token is in this
// response and nowhere else.
func (s *Server) createKey(ctx *fasthttp.RequestCtx) error {
	name, err := dbName(ctx)
	if err != nil {
		return err
	}
	req, err := decodeKeyRequest(ctx.PostBody())
	if err != nil {
		return err
	}
	c, cancel := s.adminContext()
	defer cancel()
	key, tok, err := s.mintKey(c, name, req.scope, req.expiresIn)
	if err != nil {
		return err
	}
	writeJSON(ctx, fasthttp.StatusCreated, newKeyBody(key, tok))
	return nil
}

// listKeys lists a database's keys, revoked and expired ones included;
// never a token.
func (s *Server) listKeys(ctx *fasthttp.RequestCtx) error {
	name, err := dbName(ctx)
	if err != nil {
		return err
	}
	if err := s.mustExist(name); err != nil {
		return err
	}
	writeJSON(ctx, fasthttp.StatusOK, keysBody(s.auth.Keys.List(name)))
	return nil
}

func (s *Server) revokeKey(ctx *fasthttp.RequestCtx) error {
	name, err := dbName(ctx)
	if err != nil {
		return err
	}
	if err := s.mustExist(name); err != nil {
		return err
	}
	id, _ := ctx.UserValue("key_id").(string)
	c, cancel := s.adminContext()
	defer cancel()
	if err := s.auth.Keys.Revoke(c, name, id); err != nil {
		return err
	}
	writeJSON(ctx, fasthttp.StatusOK, messageBody("API key revoked.", "db_name", name, "id", id))
	return nil
}

func (s *Server) query(ctx *fasthttp.RequestCtx) error {
	name, err := dbName(ctx)
	if err != nil {
		return err
	}
	q, err := decodeQuery(ctx.PostBody())
	if err != nil {
		return err
	}
	q.ReadOnly = readOnly(ctx)
	c, cancel, err := s.requestContext(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	enc := getEncoder()
	defer putEncoder(enc)
	enc.limit = s.opts.MaxResponseBytes
	res, err := s.engine.Query(c, name, q, enc)
	if err != nil {
		return err
	}
	writeJSON(ctx, fasthttp.StatusOK, enc.finish(res))
	return nil
}

func (s *Server) createTable(ctx *fasthttp.RequestCtx) error {
	name, err := dbName(ctx)
	if err != nil {
		return err
	}
	spec, err := decodeTable(ctx.PostBody())
	if err != nil {
		return err
	}
	c, cancel, err := s.requestContext(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	if err := s.engine.CreateTable(c, name, spec); err != nil {
		return err
	}
	writeJSON(ctx, fasthttp.StatusCreated, messageBody("Table '"+spec.Name+"' created successfully."))
	return nil
}

func (s *Server) selectRows(ctx *fasthttp.RequestCtx) error {
	name, err := dbName(ctx)
	if err != nil {
		return err
	}
	filters, err := decodeFilters(ctx.QueryArgs())
	if err != nil {
		return err
	}
	c, cancel, err := s.requestContext(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	table, _ := ctx.UserValue("table_name").(string)
	enc := getEncoder()
	defer putEncoder(enc)
	enc.limit = s.opts.MaxResponseBytes
	res, err := s.engine.SelectRows(c, name, table, filters, enc)
	if err != nil {
		return err
	}
	writeJSON(ctx, fasthttp.StatusOK, enc.finish(res))
	return nil
}

func (s *Server) insertRows(ctx *fasthttp.RequestCtx) error {
	name, err := dbName(ctx)
	if err != nil {
		return err
	}
	rows, err := decodeRows(ctx.PostBody())
	if err != nil {
		return err
	}
	c, cancel, err := s.requestContext(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	table, _ := ctx.UserValue("table_name").(string)
	n, err := s.engine.InsertRows(c, name, table, rows)
	if err != nil {
		return err
	}
	b := append([]byte(`{"message":"Rows inserted successfully.","rows_affected":`), strconv.FormatInt(n, 10)...)
	writeJSON(ctx, fasthttp.StatusCreated, append(b, '}'))
	return nil
}
