package gateway

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/praetorian/db-forge/auth"
	"github.com/praetorian/db-forge/forge"
)

// Error codes of the structured error object. Clients match these, so they
// only ever get added.
const (
	CodeInvalidName        = "INVALID_DATABASE_NAME"
	CodeDatabaseNotFound   = "DATABASE_NOT_FOUND"
	CodeInstanceNotFound   = "INSTANCE_NOT_FOUND"
	CodeNameConflict       = "DATABASE_NAME_CONFLICT"
	CodeBackendUnavailable = "BACKEND_UNAVAILABLE"
	CodeBackendError       = "BACKEND_ERROR"
	CodeTableNotFound      = "TABLE_NOT_FOUND"
	CodeSQLError           = "SQL_ERROR"
	CodeQueryTimeout       = "QUERY_TIMEOUT"
	CodeCanceled           = "REQUEST_CANCELED"
	CodeBusy               = "DATABASE_BUSY"
	CodeShuttingDown       = "SHUTTING_DOWN"
	CodeEngineFault        = "ENGINE_FAULT"
	CodeInvalidJSON        = "INVALID_JSON"
	CodeUnknownField       = "UNKNOWN_FIELD"
	CodeValidation         = "VALIDATION_ERROR"
	CodeNoRows             = "NO_ROWS"
	CodeInvalidValue       = "INVALID_VALUE"
	CodeBodyTooLarge       = "BODY_TOO_LARGE"
	CodeRouteNotFound      = "ROUTE_NOT_FOUND"
	CodeMethodNotAllowed   = "METHOD_NOT_ALLOWED"
	CodeUnavailable        = "SERVICE_UNAVAILABLE"
	CodeInternal           = "INTERNAL_ERROR"

	// The sandbox and the limits (docs/SECURITY.md).
	CodeNotAuthorized    = "SQL_NOT_AUTHORIZED"
	CodeOutOfMemory      = "MEMORY_LIMIT_EXCEEDED"
	CodeDatabaseFull     = "DATABASE_FULL"
	CodeDatabaseCorrupt  = "DATABASE_CORRUPT"
	CodeResponseTooLarge = "RESPONSE_TOO_LARGE"
	CodeTooManyRequests  = "TOO_MANY_REQUESTS"
	CodeServerBusy       = "SERVER_BUSY"
	CodeInvalidTimeout   = "INVALID_QUERY_TIMEOUT"
	CodeRequestTimeout   = "REQUEST_TIMEOUT"
	CodeHeadersTooLarge  = "HEADERS_TOO_LARGE"

	// Authentication (docs/API.md#authentication).
	CodeUnauthorized  = "UNAUTHORIZED"
	CodeForbidden     = "FORBIDDEN"
	CodeReadOnlyKey   = "READ_ONLY_KEY"
	CodeRateLimited   = "RATE_LIMITED"
	CodeKeyNotFound   = "KEY_NOT_FOUND"
	CodeInvalidScope  = "INVALID_SCOPE"
	CodeInvalidExpiry = "INVALID_EXPIRY"
)

// Errors of the gateway's own limits.
var (
	// errTooManyForDB: the database has FORGE_MAX_INFLIGHT_PER_DB requests
	// in flight already.
	errTooManyForDB = errors.New("too many concurrent requests for the database")
	// errServerBusy: the gateway has FORGE_MAX_INFLIGHT requests in flight.
	errServerBusy = errors.New("too many concurrent requests")
)

// responseTooLargeError: a result passed FORGE_MAX_RESPONSE_BYTES while
// it was encoded.
type responseTooLargeError struct{ limit int }

func (e *responseTooLargeError) Error() string {
	return "response exceeds " + formatBytes(e.limit)
}

// errNoRows is an insert of no rows ({"rows": []}): 400 with the seed
// contract's exact detail.
var errNoRows = newError(fasthttp.StatusBadRequest, CodeNoRows, "No rows provided.")

// errShuttingDown: the request arrived while the gateway drains for
// shutdown.
var errShuttingDown = fmt.Errorf("draining: %w", forge.ErrClosed)

// invalidTimeout is a bad X-Query-Timeout header.
func invalidTimeout(detail string) *apiError {
	return newError(fasthttp.StatusBadRequest, CodeInvalidTimeout, detail)
}

// apiError is an error as the client sees it: a status, a stable code and
// the detail text (which the seed contract's clients match exactly).
type apiError struct {
	status     int
	code       string
	detail     string
	sqliteCode string // SQL errors only
	retryAfter int    // seconds; 0 = no Retry-After header
	challenge  string // WWW-Authenticate (401 only)
}

func (e *apiError) Error() string { return e.detail }

func newError(status int, code, detail string) *apiError {
	return &apiError{status: status, code: code, detail: detail}
}

// toAPIError is the one place where errors become statuses and codes.
func toAPIError(err error) *apiError {
	var ae *apiError
	var se *forge.SQLError
	var ie *forge.InputError
	var be *forge.BackendError
	var ne *forge.NotAuthorizedError
	var re *responseTooLargeError
	var rl *rateLimitedError
	var ce *forge.CorruptError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, auth.ErrUnauthenticated):
		return unauthenticated(err)
	case errors.Is(err, forge.ErrReadOnly):
		return newError(fasthttp.StatusForbidden, CodeReadOnlyKey,
			"This API key is read-only, and SQLite does not report the statement read-only.")
	case errors.Is(err, auth.ErrReadOnly):
		return newError(fasthttp.StatusForbidden, CodeReadOnlyKey, "This API key is read-only, and this route writes.")
	case errors.Is(err, auth.ErrAdminOnly):
		return newError(fasthttp.StatusForbidden, CodeForbidden, "This route needs the admin key.")
	case errors.Is(err, auth.ErrOtherDatabase):
		return newError(fasthttp.StatusForbidden, CodeForbidden, "This API key is for another database.")
	case errors.Is(err, auth.ErrForbidden):
		return newError(fasthttp.StatusForbidden, CodeForbidden, "Forbidden.")
	case errors.As(err, &rl):
		return &apiError{status: fasthttp.StatusTooManyRequests, code: CodeRateLimited,
			detail: "This API key has used up its request rate; retry later.", retryAfter: retrySeconds(rl.wait)}
	case errors.Is(err, auth.ErrRateLimited):
		return &apiError{status: fasthttp.StatusTooManyRequests, code: CodeRateLimited,
			detail: "This API key has used up its request rate; retry later.", retryAfter: 1}
	case errors.Is(err, auth.ErrKeyNotFound):
		return newError(fasthttp.StatusNotFound, CodeKeyNotFound, "API key not found.")
	case errors.Is(err, auth.ErrInvalidScope):
		return newError(fasthttp.StatusUnprocessableEntity, CodeInvalidScope, `Field "scope" must be "read-only" or "read-write".`)
	case errors.Is(err, auth.ErrInvalidExpiry):
		return newError(fasthttp.StatusUnprocessableEntity, CodeInvalidExpiry,
			`Field "expires_in" must be a whole number of seconds from 1 to `+strconv.Itoa(maxExpiresIn)+
				` (100 years), or null for a key that never expires.`)
	case errors.As(err, &se):
		return &apiError{status: fasthttp.StatusBadRequest, code: CodeSQLError, detail: "SQL Error: " + se.Message, sqliteCode: se.Code}
	case errors.As(err, &ne):
		return newError(fasthttp.StatusForbidden, CodeNotAuthorized, "Not authorized: "+ne.Reason)
	case errors.Is(err, forge.ErrNotAuthorized):
		return newError(fasthttp.StatusForbidden, CodeNotAuthorized, "Not authorized.")
	case errors.As(err, &re):
		return newError(fasthttp.StatusRequestEntityTooLarge, CodeResponseTooLarge,
			"The result exceeds the response limit of "+formatBytes(re.limit)+"; select fewer rows (LIMIT and OFFSET) or columns.")
	case errors.Is(err, errTooManyForDB):
		return &apiError{status: fasthttp.StatusTooManyRequests, code: CodeTooManyRequests,
			detail: "Too many concurrent requests for this database; retry shortly.", retryAfter: 1}
	case errors.Is(err, errServerBusy):
		return &apiError{status: fasthttp.StatusServiceUnavailable, code: CodeServerBusy,
			detail: "The gateway is at its limit of concurrent requests; retry shortly.", retryAfter: 1}
	case errors.Is(err, forge.ErrOutOfMemory):
		return newError(fasthttp.StatusBadRequest, CodeOutOfMemory,
			"The statement needed more memory than a connection may use; its SQLite instance was replaced and the database is unharmed.")
	case errors.Is(err, forge.ErrDiskFull):
		return newError(fasthttp.StatusInsufficientStorage, CodeDatabaseFull,
			"The volume that holds the database is full (no space left on device); nothing of this request was written. "+
				"Delete data (DELETE, DROP TABLE, DELETE /admin/databases/{db_name}) or give the volume more space.")
	case errors.As(err, &ce):
		return newError(fasthttp.StatusInternalServerError, CodeDatabaseCorrupt,
			"The database file is damaged ("+ce.Message+"); restore it from a copy or delete it. "+
				"POST /admin/databases/{db_name}/integrity-check tells what SQLite finds.")
	case errors.Is(err, forge.ErrDatabaseFull):
		return newError(fasthttp.StatusInsufficientStorage, CodeDatabaseFull,
			"Database is full: it has reached its size limit. Delete rows to make room.")
	case errors.As(err, &ie):
		return newError(fasthttp.StatusBadRequest, ie.Code, ie.Message)
	case errors.Is(err, forge.ErrInvalidName):
		return newError(fasthttp.StatusBadRequest, CodeInvalidName, "Invalid database name.")
	case errors.Is(err, forge.ErrDatabaseNotFound):
		return newError(fasthttp.StatusNotFound, CodeDatabaseNotFound, "Database not found.")
	case errors.Is(err, forge.ErrInstanceNotFound):
		return newError(fasthttp.StatusNotFound, CodeInstanceNotFound, "Database instance not found.")
	case errors.Is(err, forge.ErrNameConflict):
		return newError(fasthttp.StatusConflict, CodeNameConflict, "Database name conflicts with an existing database whose name differs only in case.")
	case errors.As(err, &be):
		return newError(fasthttp.StatusBadGateway, CodeBackendError, "Orchestrator backend error: "+be.Message)
	case errors.Is(err, forge.ErrBackendUnavailable):
		return &apiError{status: fasthttp.StatusServiceUnavailable, code: CodeBackendUnavailable, detail: "Docker not available.", retryAfter: 5}
	case errors.Is(err, forge.ErrTableNotFound):
		return newError(fasthttp.StatusNotFound, CodeTableNotFound, "Table not found.")
	case errors.Is(err, forge.ErrTimeout):
		return newError(fasthttp.StatusGatewayTimeout, CodeQueryTimeout, "Query exceeded its time limit and was interrupted.")
	case errors.Is(err, forge.ErrCanceled):
		return newError(fasthttp.StatusServiceUnavailable, CodeCanceled, "Request canceled.")
	case errors.Is(err, forge.ErrBusy):
		return &apiError{status: fasthttp.StatusServiceUnavailable, code: CodeBusy, detail: "Database is busy; retry shortly.", retryAfter: 1}
	case errors.Is(err, forge.ErrClosed):
		return &apiError{status: fasthttp.StatusServiceUnavailable, code: CodeShuttingDown, detail: "Gateway is shutting down.", retryAfter: 1}
	case errors.Is(err, forge.ErrEngineFault):
		return newError(fasthttp.StatusInternalServerError, CodeEngineFault,
			"The statement crashed its SQLite instance; the instance was replaced and the database is unharmed.")
	}
	return newError(fasthttp.StatusInternalServerError, CodeInternal, "Internal server error.")
}

// WWW-Authenticate challenges (RFC 6750): without credentials, the scheme
// alone; with credentials that open nothing, error="invalid_token".
const (
	challengeBearer  = `Bearer realm="db-forge"`
	challengeInvalid = `Bearer realm="db-forge", error="invalid_token"`
)

// unauthenticated is the 401 for err (wrapping auth.ErrUnauthenticated):
// one code, and a detail that says what was wrong, so that a client whose
// key was revoked or expired hears why.
func unauthenticated(err error) *apiError {
	ae := &apiError{status: fasthttp.StatusUnauthorized, code: CodeUnauthorized, challenge: challengeInvalid}
	switch {
	case errors.Is(err, auth.ErrNoKey):
		ae.detail = `Authentication required: send an API key as "Authorization: Bearer <key>" or "X-API-Key: <key>".`
		ae.challenge = challengeBearer
	case errors.Is(err, auth.ErrMalformedKey):
		ae.detail = `Malformed credentials: send "Authorization: Bearer <key>" or "X-API-Key: <key>" (the same key if both).`
	case errors.Is(err, auth.ErrRevoked):
		ae.detail = "API key revoked."
	case errors.Is(err, auth.ErrExpired):
		ae.detail = "API key expired."
	default:
		ae.detail = "Invalid API key."
	}
	return ae
}

// writeError answers rc with err as JSON:
// {"detail": "...", "error": {"code": "...", "message": "...", "status": N}}.
func (s *Server) writeError(rc *fasthttp.RequestCtx, err error) {
	ae := toAPIError(err)
	if ae.status >= 500 && ae.code != CodeBackendUnavailable && ae.code != CodeShuttingDown &&
		ae.code != CodeServerBusy && ae.code != CodeDatabaseFull && ae.code != CodeDatabaseCorrupt {
		s.log.Error("request failed", zap.String("request_id", requestID(rc)), zap.Error(err))
	}
	if ae.retryAfter > 0 {
		rc.Response.Header.Set("Retry-After", strconv.Itoa(ae.retryAfter))
	}
	if ae.challenge != "" {
		rc.Response.Header.Set("WWW-Authenticate", ae.challenge)
	}
	b := make([]byte, 0, 128+2*len(ae.detail))
	b = append(b, `{"detail":`...)
	b = appendString(b, ae.detail)
	b = append(b, `,"error":{"code":`...)
	b = appendString(b, ae.code)
	b = append(b, `,"message":`...)
	b = appendString(b, ae.detail)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(ae.status), 10)
	if ae.sqliteCode != "" {
		b = append(b, `,"sqlite_code":`...)
		b = appendString(b, ae.sqliteCode)
	}
	b = append(b, "}}"...)
	writeJSON(rc, ae.status, b)
}
