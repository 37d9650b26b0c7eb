// Package gateway is DB-Forge's HTTP surface: the seed contract's control
// plane (spawn, prune, list, delete), the API key routes and the data plane
// (SQL and rows), on fasthttp and fasthttp/router. Every route is declared
// once, in the table of routes.go, from which the router is built. Every
// route but GET / and GET /health is guarded: after routing, the route says
// what it needs and the guard checks the request's API key against it
// (auth.go). Handlers are thin — bind, call a port, encode — and errors
// become statuses in one place (errors.go's rules). The gateway knows its
// dependencies only through the interfaces declared here (and package
// auth's pure policy functions, and package lifecycle's protocols);
// internal/app wires the concrete engine, orchestrator and key table in.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/lifecycle"
)

// Engine runs SQL against databases by name.
type Engine interface {
	Query(ctx context.Context, db string, q forge.Statement, w forge.RowWriter) (forge.Result, error)
	CreateTable(ctx context.Context, db string, spec forge.TableSpec) error
	SelectRows(ctx context.Context, db, table string, filters []forge.Filter, w forge.RowWriter) (forge.Result, error)
	InsertRows(ctx context.Context, db, table string, rows []forge.Record) (int64, error)
	// The rows and schema routes' REST face (rows.go).
	RowsPort
	// Batch runs several statements together, handing each outcome to out.
	Batch(ctx context.Context, db string, b forge.Batch, out forge.BatchOutput) error
	// Exclusive runs fn while db has no open connection and none can open.
	Exclusive(ctx context.Context, db string, fn func() error) error
}

// Orchestrator manages database instances.
type Orchestrator interface {
	// Spawn makes sure name has its database and a running instance;
	// created reports whether the instance is new.
	Spawn(ctx context.Context, name string) (inst forge.Instance, created bool, err error)
	// Prune removes the instance and keeps the data.
	Prune(ctx context.Context, name string) error
	List(ctx context.Context) ([]forge.Instance, error)
	// Delete removes the instance and the data.
	Delete(ctx context.Context, name string) error
}

// Metrics records every answer by route and exposes what it recorded
// (GET /metrics).
type Metrics interface {
	// Route is the recorder of one route, asked for once when the route
	// is registered. d < 0 means the answer was not timed.
	Route(method, pattern string) func(status int, d time.Duration, bodyBytes int)
	// WriteText writes every metric in the Prometheus text format.
	WriteText(w io.Writer) error
}

// Check is one readiness check of GET /health.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
	// Figures, when set, adds numbers to the check's object whether it
	// passes or not (the data directory's free_bytes, say).
	Figures func() []Figure
}

// Figure is a named number of a health check.
type Figure struct {
	Name  string
	Value int64
}

// Options configure a Server. Zero values take the defaults noted.
type Options struct {
	MaxBodyBytes int // request body cap; default 8 MiB
	// ReadHeaderTimeout bounds reading a request's line and headers, from
	// its first byte (or the connection's opening); default 10s.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration // reading the body once the headers are in; default 30s
	WriteTimeout      time.Duration // default 60s
	IdleTimeout       time.Duration // keep-alive idle; default 120s
	AdminTimeout      time.Duration // deadline of one admin operation; default 60s
	HealthTimeout     time.Duration // deadline of each health check; default 2s
	Checks            []Check

	// MaxResponseBytes caps a rows response; a result past it is 413
	// RESPONSE_TOO_LARGE. Default 16 MiB.
	MaxResponseBytes int
	// MaxQueryTimeout is the longest X-Query-Timeout a request may ask
	// for; default 30s.
	MaxQueryTimeout time.Duration
	// MaxInflight caps the requests in flight (but GET /health); past it
	// the gateway answers 503 SERVER_BUSY. Default 1024.
	MaxInflight int
	// MaxInflightPerDB caps the data-plane requests in flight on one
	// database; past it the gateway answers 429 TOO_MANY_REQUESTS.
	// Default 64.
	MaxInflightPerDB int

	// Auth is authentication: the key table, the rate limiter and the
	// mode. The zero value has no keys: every route is open.
	Auth Auth

	// Databases says whether a database exists, so that a data route can
	// answer 404 for a missing database before it judges the body (the
	// seed contract's order). Nil: Auth.Databases; if that is nil too, a
	// request with a bad body is refused for its body whether or not its
	// database exists.
	Databases Databases

	// Metrics, when set, records every answer and serves GET /metrics
	// (the admin key's).
	Metrics Metrics

	// Damage, when set, marks damaged databases in GET /admin/databases
	// and GET /health and serves POST /admin/databases/{db_name}/integrity-check.
	Damage Damage
	// Spawns, when set, is told when a spawn is complete (its key is
	// minted), and says whether a spawn made its database: a spawn that
	// fails after that removes it.
	Spawns Spawns

	// Transactions, when set, serves the interactive transaction routes
	// and the X-Transaction-Id header of the query and batch routes.
	Transactions Transactions

	// Lifecycle runs spawn and delete with their keys. Give the process's
	// one Service (a CLI or MCP server beside the gateway shares it: its
	// lock orders key mints with deletions); nil builds one from the
	// gateway's own ports (engine, orchestrator, Auth.Keys,
	// Auth.Databases, Spawns).
	Lifecycle *lifecycle.Service

	// Idempotency, when set, runs the write routes' requests that carry
	// an Idempotency-Key (idempotency.go); nil: the header is checked
	// and otherwise ignored.
	Idempotency Idempotency

	// Moves, when set, serves exports, imports, checkpoints and spawns
	// from a file or a script (moves.go).
	Moves Moves
	// Functions, when set, serves the functions routes (functions.go).
	Functions Functions
	// Diffs, when set, serves row-level diffs (diff.go); they run under
	// ExportTimeout.
	Diffs Diffs
	// Audit, when set, serves the statement audit log (audit.go), and
	// every request's context carries its caller (forge.Caller), which
	// the engine records with each statement.
	Audit AuditLog
	// ExportTimeout bounds making an export (the copy, or the dump while
	// it streams); default 10m.
	ExportTimeout time.Duration
	// The API's description and browser access (docs.go, cors.go).
	// Version is the build's version, in GET /health. OpenAPI, when set,
	// is the OpenAPI document GET /openapi.json serves (package apidoc
	// builds it from Routes); Docs, when set, serves the interactive
	// documentation under /docs. CORSOrigins are the origins allowed
	// cross-origin access ("*" for any; none by default).
	Version     string
	OpenAPI     []byte
	Docs        fasthttp.RequestHandler
	CORSOrigins []string

	// Details, when set, serves GET /admin/databases/{db_name}: what the
	// data directory and the engine know of one database (details.go).
	Details Details

	// Console, when set, serves the web console under /console
	// (console.go).
	Console Console

	// Leases and Trash, when both set, give databases leases (a spawn's
	// "ttl", the lease route), show expires_at, answer 404 for a database
	// whose lease ran out, and serve the trash (leases.go); the changes go
	// through Lifecycle, which must have the same table.
	Leases Leases
	Trash  Trash

	// MCP, when set, serves the Model Context Protocol at POST /mcp
	// (mcp.go).
	MCP MCP
}

// DefaultOptions are the server's limits and timeouts when nothing is set:
// what New takes for a zero field. The settings table (package config)
// starts from the same values; a test in internal/app keeps them equal.
func DefaultOptions() Options {
	return Options{
		MaxBodyBytes:      8 << 20,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		AdminTimeout:      60 * time.Second,
		HealthTimeout:     2 * time.Second,
		MaxResponseBytes:  16 << 20,
		MaxQueryTimeout:   30 * time.Second,
		MaxInflight:       1024,
		MaxInflightPerDB:  64,
		ExportTimeout:     10 * time.Minute,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	for _, p := range []struct{ v, def *int }{
		{&o.MaxBodyBytes, &d.MaxBodyBytes}, {&o.MaxResponseBytes, &d.MaxResponseBytes},
		{&o.MaxInflight, &d.MaxInflight}, {&o.MaxInflightPerDB, &d.MaxInflightPerDB},
	} {
		if *p.v <= 0 {
			*p.v = *p.def
		}
	}
	for _, p := range []struct{ v, def *time.Duration }{
		{&o.ReadHeaderTimeout, &d.ReadHeaderTimeout}, {&o.ReadTimeout, &d.ReadTimeout},
		{&o.WriteTimeout, &d.WriteTimeout}, {&o.IdleTimeout, &d.IdleTimeout},
		{&o.AdminTimeout, &d.AdminTimeout}, {&o.HealthTimeout, &d.HealthTimeout},
		{&o.MaxQueryTimeout, &d.MaxQueryTimeout}, {&o.ExportTimeout, &d.ExportTimeout},
	} {
		if *p.v <= 0 {
			*p.v = *p.def
		}
	}
	if o.Databases == nil {
		o.Databases = o.Auth.Databases
	}
	return o
}

// Server is the gateway.
type Server struct {
	opts   Options
	engine Engine
	orch   Orchestrator
	auth   Auth
	log    *zap.Logger
	srv    *fasthttp.Server
	ids    idGenerator
	load   *inflight

	// The recorders of answers no route took, by method label, and of
	// requests fasthttp could not read; nil without Metrics.
	unmatched map[string]observer
	transport observer

	// life runs the lifecycle protocols (spawn, delete, minting keys).
	life *lifecycle.Service

	// draining is set when graceful shutdown begins (Drain).
	draining atomic.Bool

	// base is the context every request's context derives from; stop
	// ends it when the drain runs out of time (drain.go) or at Shutdown,
	// interrupting the work still in flight.
	base context.Context
	stop context.CancelFunc

	// checked is GET /health's last round of checks (health.go).
	checked healthCache

	// started is when New ran (GET /health's uptime_s).
	started time.Time
	// corsPolicy is the parsed Options.CORSOrigins; nil: none (cors.go).
	corsPolicy *corsPolicy
}

// New builds the gateway around its ports.
func New(opts Options, engine Engine, orch Orchestrator, log *zap.Logger) *Server {
	if log == nil {
		log = zap.NewNop()
	}
	s := &Server{opts: opts.withDefaults(), engine: engine, orch: orch, auth: opts.Auth, log: log, ids: newIDGenerator()}
	s.base, s.stop = context.WithCancel(context.Background())
	s.started = time.Now()
	s.corsPolicy = newCORSPolicy(s.opts.CORSOrigins)
	s.checked.ttl = healthTTL
	s.life = s.opts.Lifecycle
	if s.life == nil {
		s.life = lifecycle.New(lifecycle.Ports{Engine: engine, Orchestrator: orch, Keys: s.auth.Keys,
			Databases: s.auth.Databases, Spawns: s.opts.Spawns, Log: log})
	}
	s.load = newInflight(s.opts.MaxInflight, s.opts.MaxInflightPerDB)
	if m := s.opts.Metrics; m != nil {
		s.unmatched = make(map[string]observer, len(metricMethods))
		for _, method := range metricMethods {
			s.unmatched[method] = m.Route(method, routeUnmatched)
		}
		s.transport = m.Route("OTHER", routeTransport)
	}
	s.srv = &fasthttp.Server{
		Handler: s.middleware(s.cors(s.limited(s.routes().Handler))),
		Name:    "db-forge",
		// fasthttp's ReadTimeout runs from a request's first byte (or the
		// connection's opening) until the headers are in; once they are,
		// the body gets ReadTimeout of its own. A client that never
		// finishes its headers is cut off after ReadHeaderTimeout.
		ReadTimeout: s.opts.ReadHeaderTimeout,
		HeaderReceived: func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
			return fasthttp.RequestConfig{ReadTimeout: s.opts.ReadTimeout}
		},
		WriteTimeout:          s.opts.WriteTimeout,
		IdleTimeout:           s.opts.IdleTimeout,
		MaxRequestBodySize:    s.opts.MaxBodyBytes,
		ErrorHandler:          s.transportError,
		CloseOnShutdown:       true,
		NoDefaultServerHeader: false,
		NoDefaultContentType:  true,
		Logger:                zapPrintf{log},
	}
	return s
}

// existenceFirst is err, or DATABASE_NOT_FOUND when err refuses the
// request itself (400, 422) and its database does not exist. Should the
// check fail, the request's own error stands.
func (s *Server) existenceFirst(rc *fasthttp.RequestCtx, err error) error {
	if s.opts.Databases == nil {
		return err
	}
	ae := toAPIError(err)
	if (ae.status != fasthttp.StatusBadRequest && ae.status != fasthttp.StatusUnprocessableEntity) ||
		ae.code == CodeInvalidName {
		return err
	}
	name, _ := rc.UserValue("db_name").(string)
	if ok, xerr := s.opts.Databases.Exists(name); xerr != nil || ok {
		return err
	}
	return fmt.Errorf("%s: %w", name, forge.ErrDatabaseNotFound)
}

// Handler is the gateway's request handler with its middleware, for tests
// and embedding.
func (s *Server) Handler() fasthttp.RequestHandler { return s.srv.Handler }

// InFlight is the number of requests being answered now (GET /health
// aside).
func (s *Server) InFlight() int { return s.load.inFlight() }

// Activity is the number of requests being answered now and the number
// ever admitted (GET /health aside): work in the background (an export's
// sending, after its handler returned) reads it to give way to requests.
// A streamed answer is not in flight once its handler has returned.
func (s *Server) Activity() (inFlight int, admitted uint64) { return s.load.activity() }

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// Shutdown closes the listener and the idle connections, and waits,
// within ctx, for the connections still serving a request. Drain first
// for a graceful shutdown.
// Requests still running when it returns are interrupted.
func (s *Server) Shutdown(ctx context.Context) error {
	defer s.stop()
	return s.srv.ShutdownWithContext(ctx)
}

// transportError answers requests fasthttp could not read: a body over the
// cap, a malformed request line, a read timeout.
func (s *Server) transportError(rc *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	switch {
	case isBodyTooLarge(err):
		s.writeError(rc, newError(fasthttp.StatusRequestEntityTooLarge, CodeBodyTooLarge,
			"Request body exceeds the limit of "+formatBytes(s.opts.MaxBodyBytes)+"."))
	case errors.As(err, &small):
		s.writeError(rc, newError(fasthttp.StatusRequestHeaderFieldsTooLarge, CodeHeadersTooLarge,
			"Request headers are too large."))
	case errors.As(err, &ne) && ne.Timeout():
		s.writeError(rc, newError(fasthttp.StatusRequestTimeout, CodeRequestTimeout,
			"The request was not received in time."))
	default:
		s.writeError(rc, newError(fasthttp.StatusBadRequest, CodeBadRequest, "Malformed HTTP request."))
	}
	if s.transport != nil {
		s.transport(rc.Response.StatusCode(), -1, len(rc.Response.Body()))
	}
}

func (s *Server) recovered(rc *fasthttp.RequestCtx, v any) {
	s.log.Error("handler panic", zap.String("request_id", requestID(rc)), zap.Any("panic", v), zap.Stack("stack"))
	s.writeError(rc, newError(fasthttp.StatusInternalServerError, CodeInternal, "Internal server error."))
}

// zapPrintf adapts zap to fasthttp's Logger.
type zapPrintf struct{ log *zap.Logger }

func (z zapPrintf) Printf(format string, args ...any) { z.log.Sugar().Debugf(format, args...) }
