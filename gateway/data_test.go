package gateway

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/praetorian/db-forge/forge"
)

// namedEngine is an Engine over a fixed set of databases: a missing one is
// forge.ErrDatabaseNotFound, as the real engine answers; a table spec with
// no columns is refused before the database is looked at, as the real
// engine's builder does.
type namedEngine struct {
	Engine
	dbs map[string]bool
}

func (e namedEngine) open(db string) error {
	if !e.dbs[db] {
		return forge.ErrDatabaseNotFound
	}
	return nil
}

func (e namedEngine) Query(_ context.Context, db string, _ forge.Statement, _ forge.RowWriter) (forge.Result, error) {
	return forge.Result{}, e.open(db)
}

func (e namedEngine) CreateTable(_ context.Context, db string, spec forge.TableSpec) error {
	if len(spec.Columns) == 0 {
		return forge.Inputf("INVALID_TABLE_SPEC", "A table needs at least one column.")
	}
	return e.open(db)
}

// ReadRows refuses a column filtered twice before it opens the
// database, as package tables does.
func (e namedEngine) ReadRows(_ context.Context, db, _ string, params []forge.QueryParam, _ forge.RowWriter) (forge.Result, forge.Page, error) {
	for i, p := range params {
		for _, q := range params[:i] {
			if p.Key == q.Key {
				return forge.Result{}, forge.Page{}, forge.Inputf("INVALID_VALUE", "Column %q is filtered more than once.", p.Key)
			}
		}
	}
	return forge.Result{}, forge.Page{}, e.open(db)
}

func (e namedEngine) InsertRows(_ context.Context, db, _ string, rows []forge.Record) (int64, error) {
	return int64(len(rows)), e.open(db)
}

// countingDatabases is the existence port over a fixed set, counting the
// questions.
type countingDatabases struct {
	dbs   map[string]bool
	asked atomic.Int64
}

func (c *countingDatabases) Exists(name string) (bool, error) {
	c.asked.Add(1)
	return c.dbs[name], nil
}

// TestDataRoutesExistenceFirst: the seed contract's order on every data
// route. A missing database is 404 whatever is wrong with the request;
// an existing one hears what is wrong; a request that passes validation
// never asks whether its database exists (the engine says so).
func TestDataRoutesExistenceFirst(t *testing.T) {
	t.Parallel()
	exist := map[string]bool{"here": true}
	dbs := &countingDatabases{dbs: exist}
	s := New(Options{Databases: dbs}, namedEngine{dbs: exist}, nil, zap.NewNop())
	h := s.Handler()
	tests := []struct {
		name, method, path, body string
		header                   string // X-Query-Timeout, if any
		status                   int
		code                     string
		asks                     bool // the existence port is asked
	}{
		{"query ok", "POST", "/api/db/here/query", `{"sql":"SELECT 1"}`, "", 200, "", false},
		{"query missing, ok body", "POST", "/api/db/gone/query", `{"sql":"SELECT 1"}`, "", 404, CodeDatabaseNotFound, false},
		{"query missing, no sql", "POST", "/api/db/gone/query", `{"params":[]}`, "", 404, CodeDatabaseNotFound, true},
		{"query here, no sql", "POST", "/api/db/here/query", `{"params":[]}`, "", 422, CodeValidation, true},
		{"query missing, unknown field", "POST", "/api/db/gone/query", `{"sql":"SELECT 1","x":1}`, "", 404, CodeDatabaseNotFound, true},
		{"query missing, not JSON", "POST", "/api/db/gone/query", `{"sql":`, "", 404, CodeDatabaseNotFound, true},
		{"query missing, bad timeout", "POST", "/api/db/gone/query", `{"sql":"SELECT 1"}`, "soon", 404, CodeDatabaseNotFound, true},
		{"query here, bad timeout", "POST", "/api/db/here/query", `{"sql":"SELECT 1"}`, "soon", 400, CodeInvalidTimeout, true},
		{"query invalid name", "POST", "/api/db/-x/query", `{}`, "", 400, CodeInvalidName, false},
		{"tables missing, no columns", "POST", "/api/db/gone/tables", `{"table_name": "test", "columns": []}`, "", 404, CodeDatabaseNotFound, true},
		{"tables here, no columns", "POST", "/api/db/here/tables", `{"table_name": "test", "columns": []}`, "", 400, "INVALID_TABLE_SPEC", true},
		{"tables missing, no name", "POST", "/api/db/gone/tables", `{"columns": []}`, "", 404, CodeDatabaseNotFound, true},
		{"select missing, filter twice", "GET", "/api/db/gone/tables/t/rows?a=1&a=2", "", "", 404, CodeDatabaseNotFound, true},
		{"select here, filter twice", "GET", "/api/db/here/tables/t/rows?a=1&a=2", "", "", 400, CodeInvalidValue, true},
		{"insert missing, no rows", "POST", "/api/db/gone/tables/t/rows", `{"rows": []}`, "", 404, CodeDatabaseNotFound, true},
		{"insert here, no rows", "POST", "/api/db/here/tables/t/rows", `{"rows": []}`, "", 400, CodeNoRows, true},
		{"insert missing, rows not an array", "POST", "/api/db/gone/tables/t/rows", `{"rows": 1}`, "", 404, CodeDatabaseNotFound, true},
		{"insert here, ok", "POST", "/api/db/here/tables/t/rows", `{"rows": [{}]}`, "", 201, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Not parallel: each case counts the port's questions.
			var ctx fasthttp.RequestCtx
			ctx.Request.Header.SetMethod(tc.method)
			ctx.Request.SetRequestURI(tc.path)
			ctx.Request.SetBodyString(tc.body)
			if tc.header != "" {
				ctx.Request.Header.Set(headerQueryTimeout, tc.header)
			}
			before := dbs.asked.Load()
			h(&ctx)
			var body struct {
				Detail string
				Error  struct{ Code string }
			}
			_ = json.Unmarshal(ctx.Response.Body(), &body)
			if ctx.Response.StatusCode() != tc.status || body.Error.Code != tc.code {
				t.Fatalf("got %d %s, want %d %s: %s", ctx.Response.StatusCode(), body.Error.Code, tc.status, tc.code, ctx.Response.Body())
			}
			switch tc.code {
			case CodeDatabaseNotFound:
				if body.Detail != "Database not found." {
					t.Errorf("detail %q", body.Detail)
				}
			case CodeNoRows:
				if body.Detail != "No rows provided." {
					t.Errorf("detail %q", body.Detail)
				}
			}
			if asked := dbs.asked.Load() > before; asked != tc.asks {
				t.Errorf("existence asked: %v, want %v", asked, tc.asks)
			}
		})
	}
}
