package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/praetorian/db-forge/forge"
)

func TestToAPIError(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error { return fmt.Errorf("x: %w", err) }
	own := newError(fasthttp.StatusTeapot, "TEAPOT", "I'm a teapot.")
	tests := []struct {
		name       string
		err        error
		status     int
		code       string
		detail     string
		retry      bool
		sqliteCode string
		same       *apiError // must be returned as is
	}{
		{name: "database not found", err: wrap(forge.ErrDatabaseNotFound), status: 404, code: CodeDatabaseNotFound, detail: "Database not found."},
		{name: "instance not found", err: wrap(forge.ErrInstanceNotFound), status: 404, code: CodeInstanceNotFound, detail: "Database instance not found."},
		{name: "invalid name", err: wrap(forge.ErrInvalidName), status: 400, code: CodeInvalidName, detail: "Invalid database name."},
		{name: "invalid name bare", err: forge.ErrInvalidName, status: 400, code: CodeInvalidName, detail: "Invalid database name."},
		{name: "name conflict", err: wrap(forge.ErrNameConflict), status: 409, code: CodeNameConflict, detail: "Database name conflicts with an existing database whose name differs only in case."},
		{name: "backend unavailable", err: wrap(forge.ErrBackendUnavailable), status: 503, code: CodeBackendUnavailable, detail: "Docker not available.", retry: true},
		{name: "table not found", err: wrap(forge.ErrTableNotFound), status: 404, code: CodeTableNotFound, detail: "Table not found."},
		{name: "timeout", err: wrap(forge.ErrTimeout), status: 504, code: CodeQueryTimeout, detail: "Query exceeded its time limit and was interrupted."},
		{name: "canceled", err: wrap(forge.ErrCanceled), status: 503, code: CodeCanceled, detail: "Request canceled."},
		{name: "busy", err: wrap(forge.ErrBusy), status: 503, code: CodeBusy, detail: "Database is busy; retry shortly.", retry: true},
		{name: "closed", err: wrap(forge.ErrClosed), status: 503, code: CodeShuttingDown, detail: "Gateway is shutting down.", retry: true},
		{name: "engine fault", err: wrap(forge.ErrEngineFault), status: 500, code: CodeEngineFault, detail: "The statement crashed its SQLite instance; the instance was replaced and the database is unharmed."},
		{name: "sql error", err: wrap(&forge.SQLError{Message: "m"}), status: 400, code: CodeSQLError, detail: "SQL Error: m"},
		{name: "sql error with code", err: wrap(&forge.SQLError{Message: "no such table: t", Code: "SQLITE_ERROR"}), status: 400, code: CodeSQLError, detail: "SQL Error: no such table: t", sqliteCode: "SQLITE_ERROR"},
		{name: "input error", err: wrap(forge.Inputf("UNKNOWN_COLUMN", "Unknown column %q.", "c")), status: 400, code: "UNKNOWN_COLUMN", detail: `Unknown column "c".`},
		{name: "api error passes through", err: wrap(own), status: 418, code: "TEAPOT", detail: "I'm a teapot.", same: own},
		{name: "unknown error", err: errors.New("boom"), status: 500, code: CodeInternal, detail: "Internal server error."},
		{name: "wrapped unknown error", err: wrap(errors.New("secret path /var/x")), status: 500, code: CodeInternal, detail: "Internal server error."},
		{name: "not authorized", err: wrap(&forge.NotAuthorizedError{Reason: "PRAGMA x is not allowed."}), status: 403, code: CodeNotAuthorized, detail: "Not authorized: PRAGMA x is not allowed."},
		{name: "not authorized bare", err: forge.ErrNotAuthorized, status: 403, code: CodeNotAuthorized, detail: "Not authorized."},
		{name: "out of memory", err: wrap(forge.ErrOutOfMemory), status: 400, code: CodeOutOfMemory, detail: "The statement needed more memory than a connection may use; its SQLite instance was replaced and the database is unharmed."},
		{name: "database full", err: wrap(forge.ErrDatabaseFull), status: 507, code: CodeDatabaseFull, detail: "Database is full: it has reached its size limit. Delete rows to make room."},
		{name: "response too large", err: &responseTooLargeError{limit: 16 << 20}, status: 413, code: CodeResponseTooLarge, detail: "The result exceeds the response limit of 16 MiB; select fewer rows (LIMIT and OFFSET) or columns."},
		{name: "too many for a database", err: errTooManyForDB, status: 429, code: CodeTooManyRequests, detail: "Too many concurrent requests for this database; retry shortly.", retry: true},
		{name: "server busy", err: errServerBusy, status: 503, code: CodeServerBusy, detail: "The gateway is at its limit of concurrent requests; retry shortly.", retry: true},
		{name: "sql error wins over sentinel", err: fmt.Errorf("%w: %w", forge.ErrDatabaseNotFound, &forge.SQLError{Message: "m"}), status: 400, code: CodeSQLError, detail: "SQL Error: m"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ae := toAPIError(tc.err)
			if ae.status != tc.status || ae.code != tc.code || ae.detail != tc.detail {
				t.Fatalf("toAPIError(%v) = %d %s %q, want %d %s %q", tc.err, ae.status, ae.code, ae.detail, tc.status, tc.code, tc.detail)
			}
			if (ae.retryAfter > 0) != tc.retry {
				t.Fatalf("retryAfter = %d, want >0: %v", ae.retryAfter, tc.retry)
			}
			if ae.sqliteCode != tc.sqliteCode {
				t.Fatalf("sqliteCode = %q, want %q", ae.sqliteCode, tc.sqliteCode)
			}
			if tc.same != nil && ae != tc.same {
				t.Fatalf("toAPIError did not return the wrapped *apiError itself")
			}
			if ae.Error() != tc.detail {
				t.Fatalf("Error() = %q, want the detail", ae.Error())
			}
		})
	}
}

func TestWriteError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		status     int
		body       string
		retryAfter string
	}{
		{
			name:   "database not found",
			err:    fmt.Errorf("open: %w", forge.ErrDatabaseNotFound),
			status: 404,
			body:   `{"detail":"Database not found.","error":{"code":"DATABASE_NOT_FOUND","message":"Database not found.","status":404}}`,
		},
		{
			name:       "backend unavailable sets Retry-After",
			err:        forge.ErrBackendUnavailable,
			status:     503,
			body:       `{"detail":"Docker not available.","error":{"code":"BACKEND_UNAVAILABLE","message":"Docker not available.","status":503}}`,
			retryAfter: "5",
		},
		{
			name:   "sql error with sqlite code and escaping",
			err:    &forge.SQLError{Message: `near "x": syntax error`, Code: "SQLITE_ERROR"},
			status: 400,
			body:   `{"detail":"SQL Error: near \"x\": syntax error","error":{"code":"SQL_ERROR","message":"SQL Error: near \"x\": syntax error","status":400,"sqlite_code":"SQLITE_ERROR"}}`,
		},
		{
			name:   "request error",
			err:    invalidShape("Field \"sql\" is required."),
			status: 422,
			body:   `{"detail":"Field \"sql\" is required.","error":{"code":"VALIDATION_ERROR","message":"Field \"sql\" is required.","status":422}}`,
		},
		{
			name:   "internal",
			err:    errors.New("boom"),
			status: 500,
			body:   `{"detail":"Internal server error.","error":{"code":"INTERNAL_ERROR","message":"Internal server error.","status":500}}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &Server{log: zap.NewNop()}
			var ctx fasthttp.RequestCtx
			s.writeError(&ctx, tc.err)
			if got := ctx.Response.StatusCode(); got != tc.status {
				t.Fatalf("status = %d, want %d", got, tc.status)
			}
			if got := string(ctx.Response.Body()); got != tc.body {
				t.Fatalf("body =\n %s\nwant\n %s", got, tc.body)
			}
			if !json.Valid(ctx.Response.Body()) {
				t.Fatalf("body is not valid JSON")
			}
			if got := string(ctx.Response.Header.ContentType()); got != "application/json" {
				t.Fatalf("Content-Type = %q", got)
			}
			if got := string(ctx.Response.Header.Peek("Retry-After")); got != tc.retryAfter {
				t.Fatalf("Retry-After = %q, want %q", got, tc.retryAfter)
			}
		})
	}
}
