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
	CodeBadRequest       = "BAD_REQUEST" // a request fasthttp could not read

	// Authentication (docs/API.md#authentication).
	CodeUnauthorized  = "UNAUTHORIZED"
	CodeForbidden     = "FORBIDDEN"
	CodeReadOnlyKey   = "READ_ONLY_KEY"
	CodeRateLimited   = "RATE_LIMITED"
	CodeKeyNotFound   = "KEY_NOT_FOUND"
	CodeInvalidScope  = "INVALID_SCOPE"
	CodeInvalidExpiry = "INVALID_EXPIRY"

	// Idempotent retries (docs/API.md#idempotent-retries).
	CodeInvalidIdempotencyKey = "INVALID_IDEMPOTENCY_KEY"
	CodeIdempotencyInProgress = "IDEMPOTENCY_IN_PROGRESS"
	CodeIdempotencyKeyReused  = "IDEMPOTENCY_KEY_REUSED"
	// Interactive transactions (docs/API.md#transactions).
	CodeTransactionNotFound = "TRANSACTION_NOT_FOUND"
	CodeTransactionExpired  = "TRANSACTION_EXPIRED"
	CodeTransactionAborted  = "TRANSACTION_ABORTED"
	CodeTransactionEnded    = "TRANSACTION_ENDED"
	CodeTooManyTransactions = "TOO_MANY_TRANSACTIONS"
	// Exports, imports and checkpoints (docs/API.md#exports-imports-and-checkpoints).
	CodeCheckpointNotFound  = "CHECKPOINT_NOT_FOUND"
	CodeCheckpointExists    = "CHECKPOINT_EXISTS"
	CodeCheckpointLimit     = "CHECKPOINT_LIMIT"
	CodeDatabaseExists      = "DATABASE_EXISTS"
	CodeReadOnlyTransaction = "READ_ONLY_TRANSACTION"
	// Leases and the trash (docs/API.md#leases-and-the-trash-addition).
	CodeNotInTrash = "NOT_IN_TRASH"
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
	statement  int    // a batch's failed statement: its index + 1; 0 = none
}

func (e *apiError) Error() string { return e.detail }

func newError(status int, code, detail string) *apiError {
	return &apiError{status: status, code: code, detail: detail}
}

// toAPIError is the one place where errors become statuses and codes: the
// first rule of errorRules that matches err, or 500 INTERNAL_ERROR.
func toAPIError(err error) *apiError {
	var se *forge.StatementError
	if errors.As(err, &se) {
		// A batch's statement: its own answer, which says which it was.
		ae := *toAPIError(se.Err)
		ae.statement = se.Index + 1
		return &ae
	}
	if errors.Is(err, forge.ErrTxAborted) {
		return txAborted(err) // says what ended it, as toAPIError would
	}
	for i := range errorRules {
		if ae := errorRules[i].apply(err); ae != nil {
			return ae
		}
	}
	return newError(fasthttp.StatusInternalServerError, CodeInternal, "Internal server error.")
}

// errorRule turns the errors it matches into one answer. Rules are tried
// in order, so a more specific error goes before a more general one it
// may also wrap (forge.ErrReadOnly before auth.ErrForbidden, a typed
// error before a sentinel it wraps, forge.SQLError before anything).
type errorRule struct {
	// code is the rule's error code, for the check against docs/API.md
	// ("" when the error brings its own: apiError, forge.InputError).
	code string
	// apply is the answer to err, or nil when the rule does not match.
	// The answer may be shared between requests: never change it.
	apply func(err error) *apiError
}

// is matches an error that wraps target, and answers status, code and
// detail (with Retry-After when retry > 0).
func is(target error, status int, code, detail string, retry int) errorRule {
	ae := &apiError{status: status, code: code, detail: detail, retryAfter: retry}
	return errorRule{code: code, apply: func(err error) *apiError {
		if errors.Is(err, target) {
			return ae
		}
		return nil
	}}
}

// as matches an error that wraps an E, and answers what build makes of
// it.
func as[E error](code string, build func(e E) *apiError) errorRule {
	return errorRule{code: code, apply: func(err error) *apiError {
		var e E
		if errors.As(err, &e) {
			return build(e)
		}
		return nil
	}}
}

// The 507 of a full volume, and the detail of a rate-limited key.
const (
	detailDiskFull = "The volume that holds the database is full (no space left on device); nothing of this request was written. " +
		"Delete data (DELETE, DROP TABLE, DELETE /admin/databases/{db_name}) or give the volume more space."
	detailRateLimited = "This API key has used up its request rate; retry later."
)

// errorRules: every error a handler, the guard or a limit returns, in the
// order they are tried. Codes made elsewhere (the decoders' 400/422, the
// router's 404/405, the transport's 408/413/431, GET /health's 503) are
// listed in directCodes.
var errorRules = []errorRule{
	// An answer already made (the decoders, the limits) passes through.
	as("", func(ae *apiError) *apiError { return ae }),
	// Functions: each error with its own status and code (functions.go).
	{code: "", apply: functionRule},

	// Authentication and authorization.
	{code: CodeUnauthorized, apply: func(err error) *apiError {
		if errors.Is(err, auth.ErrUnauthenticated) {
			return unauthenticated(err)
		}
		return nil
	}},
	is(forge.ErrReadOnly, fasthttp.StatusForbidden, CodeReadOnlyKey,
		"This API key is read-only, and SQLite does not report the statement read-only.", 0),
	is(auth.ErrReadOnly, fasthttp.StatusForbidden, CodeReadOnlyKey, "This API key is read-only, and this route writes.", 0),
	is(auth.ErrAdminOnly, fasthttp.StatusForbidden, CodeForbidden, "This route needs the admin key.", 0),
	is(auth.ErrOtherDatabase, fasthttp.StatusForbidden, CodeForbidden, "This API key is for another database.", 0),
	is(auth.ErrForbidden, fasthttp.StatusForbidden, CodeForbidden, "Forbidden.", 0),
	as(CodeRateLimited, func(rl *rateLimitedError) *apiError {
		return &apiError{status: fasthttp.StatusTooManyRequests, code: CodeRateLimited, detail: detailRateLimited,
			retryAfter: retrySeconds(rl.wait)}
	}),
	is(auth.ErrRateLimited, fasthttp.StatusTooManyRequests, CodeRateLimited, detailRateLimited, 1),
	is(auth.ErrKeyNotFound, fasthttp.StatusNotFound, CodeKeyNotFound, "API key not found.", 0),
	is(auth.ErrInvalidScope, fasthttp.StatusUnprocessableEntity, CodeInvalidScope,
		`Field "scope" must be "read-only" or "read-write".`, 0),
	is(auth.ErrInvalidExpiry, fasthttp.StatusUnprocessableEntity, CodeInvalidExpiry,
		`Field "expires_in" must be a whole number of seconds from 1 to `+strconv.Itoa(maxExpiresIn)+
			` (100 years), or null for a key that never expires.`, 0),

	// Interactive transactions: before SQL errors, which an aborted
	// transaction's cause may be.
	is(forge.ErrTxNotFound, fasthttp.StatusNotFound, CodeTransactionNotFound,
		"Transaction not found: this API key has no transaction of this id on this database.", 0),
	is(forge.ErrTxExpired, fasthttp.StatusConflict, CodeTransactionExpired,
		"The transaction's lease expired and it was rolled back; nothing of it was committed. Open a new transaction and run its statements again.", 0),
	// (forge.ErrTxAborted: toAPIError, TRANSACTION_ABORTED with its cause.)
	is(forge.ErrTxCommitted, fasthttp.StatusConflict, CodeTransactionEnded, "The transaction was committed already.", 0),
	is(forge.ErrTxRolledBack, fasthttp.StatusConflict, CodeTransactionEnded, "The transaction was rolled back already; nothing of it was committed.", 0),
	is(forge.ErrReadOnlyTx, fasthttp.StatusForbidden, CodeReadOnlyTransaction,
		"The transaction is read-only (opened with \"read_only\": true), and SQLite does not report the statement read-only; nothing of it ran, and the transaction goes on.", 0),
	is(forge.ErrTxLimit, fasthttp.StatusTooManyRequests, CodeTooManyTransactions,
		"Too many open transactions: this database (FORGE_MAX_TX_PER_DB) or this API key (FORGE_MAX_TX_PER_KEY) has as many as it may; commit or roll one back, or retry shortly.", 1),

	// SQL, the sandbox and the limits.
	as(CodeSQLError, func(se *forge.SQLError) *apiError {
		return &apiError{status: fasthttp.StatusBadRequest, code: CodeSQLError, detail: "SQL Error: " + se.Message, sqliteCode: se.Code}
	}),
	as(CodeNotAuthorized, func(ne *forge.NotAuthorizedError) *apiError {
		return newError(fasthttp.StatusForbidden, CodeNotAuthorized, "Not authorized: "+ne.Reason)
	}),
	is(forge.ErrNotAuthorized, fasthttp.StatusForbidden, CodeNotAuthorized, "Not authorized.", 0),
	is(forge.ErrTxControl, fasthttp.StatusBadRequest, CodeSQLError,
		"SQL Error: BEGIN, COMMIT, END and ROLLBACK are not allowed here: the statements already run in one transaction (SAVEPOINT is).", 0),
	as(CodeResponseTooLarge, func(re *responseTooLargeError) *apiError {
		return newError(fasthttp.StatusRequestEntityTooLarge, CodeResponseTooLarge,
			"The result exceeds the response limit of "+formatBytes(re.limit)+"; select fewer rows (LIMIT and OFFSET) or columns.")
	}),
	is(errTooManyForDB, fasthttp.StatusTooManyRequests, CodeTooManyRequests,
		"Too many concurrent requests for this database; retry shortly.", 1),
	is(errServerBusy, fasthttp.StatusServiceUnavailable, CodeServerBusy,
		"The gateway is at its limit of concurrent requests; retry shortly.", 1),
	is(forge.ErrOutOfMemory, fasthttp.StatusBadRequest, CodeOutOfMemory,
		"The statement needed more memory than a connection may use; its SQLite instance was replaced and the database is unharmed.", 0),
	is(forge.ErrDiskFull, fasthttp.StatusInsufficientStorage, CodeDatabaseFull, detailDiskFull, 0),
	as(CodeDatabaseCorrupt, func(ce *forge.CorruptError) *apiError {
		return newError(fasthttp.StatusInternalServerError, CodeDatabaseCorrupt,
			"The database file is damaged ("+ce.Message+"); restore it from a copy or delete it. "+
				"POST /admin/databases/{db_name}/integrity-check tells what SQLite finds.")
	}),
	is(forge.ErrDatabaseFull, fasthttp.StatusInsufficientStorage, CodeDatabaseFull,
		"Database is full: it has reached its size limit. Delete rows to make room.", 0),
	as("", func(ie *forge.InputError) *apiError { return newError(fasthttp.StatusBadRequest, ie.Code, ie.Message) }),

	// Databases, instances and the backend.
	is(forge.ErrInvalidName, fasthttp.StatusBadRequest, CodeInvalidName, "Invalid database name.", 0),
	is(forge.ErrDatabaseNotFound, fasthttp.StatusNotFound, CodeDatabaseNotFound, "Database not found.", 0),
	is(forge.ErrInstanceNotFound, fasthttp.StatusNotFound, CodeInstanceNotFound, "Database instance not found.", 0),
	is(forge.ErrNameConflict, fasthttp.StatusConflict, CodeNameConflict,
		"Database name conflicts with an existing database whose name differs only in case.", 0),
	as(CodeBackendError, func(be *forge.BackendError) *apiError {
		return newError(fasthttp.StatusBadGateway, CodeBackendError, "Orchestrator backend error: "+be.Message)
	}),
	is(forge.ErrBackendUnavailable, fasthttp.StatusServiceUnavailable, CodeBackendUnavailable, "Docker not available.", 5),
	is(forge.ErrTableNotFound, fasthttp.StatusNotFound, CodeTableNotFound, "Table not found.", 0),

	// The request's own end.
	is(forge.ErrTimeout, fasthttp.StatusGatewayTimeout, CodeQueryTimeout, "Query exceeded its time limit and was interrupted.", 0),
	is(forge.ErrCanceled, fasthttp.StatusServiceUnavailable, CodeCanceled, "Request canceled.", 0),
	is(forge.ErrBusy, fasthttp.StatusServiceUnavailable, CodeBusy, "Database is busy; retry shortly.", 1),
	is(forge.ErrClosed, fasthttp.StatusServiceUnavailable, CodeShuttingDown, "Gateway is shutting down.", 1),
	is(forge.ErrEngineFault, fasthttp.StatusInternalServerError, CodeEngineFault,
		"The statement crashed its SQLite instance; the instance was replaced and the database is unharmed.", 0),

	// Idempotent retries.
	is(forge.ErrIdempotencyInProgress, fasthttp.StatusConflict, CodeIdempotencyInProgress,
		"A request with this Idempotency-Key is still in progress; retry when it has been answered.", 1),
	is(forge.ErrIdempotencyKeyReused, fasthttp.StatusUnprocessableEntity, CodeIdempotencyKeyReused,
		"This Idempotency-Key was used with a different request (method, path or body); use a new key.", 0),

	// Exports, imports and checkpoints (moves.go).
	is(forge.ErrCheckpointNotFound, fasthttp.StatusNotFound, CodeCheckpointNotFound, "Checkpoint not found.", 0),
	is(forge.ErrCheckpointExists, fasthttp.StatusConflict, CodeCheckpointExists,
		"The database has a checkpoint of this name already; delete it first or choose another name.", 0),
	is(forge.ErrCheckpointLimit, fasthttp.StatusConflict, CodeCheckpointLimit,
		"The database has as many checkpoints, or bytes of them, as it may (FORGE_MAX_CHECKPOINTS, FORGE_MAX_CHECKPOINT_MB); delete some.", 0),
	// Leases and the trash (leases.go).
	is(forge.ErrNotInTrash, fasthttp.StatusNotFound, CodeNotInTrash,
		"The trash holds no database of this name: it never expired, was restored already, or was purged after FORGE_TRASH_RETENTION.", 0),
	is(forge.ErrNameInUse, fasthttp.StatusConflict, CodeDatabaseExists,
		"A database of this name exists: the one in the trash cannot take its place. Delete it first, or leave the old one to the trash.", 0),
	is(forge.ErrDatabaseExists, fasthttp.StatusConflict, CodeDatabaseExists,
		"A database of this name exists: a spawn from a file or a script makes a new database and never replaces one. "+
			"Import into it (POST /api/db/{db_name}/import) or delete it first.", 0),
}

// directCodes are the codes answered without a rule of errorRules: made
// as apiErrors where the fault is found (the decoders, the router, the
// transport, GET /health) or passed through from the engine's
// forge.InputError (engineCodes in errors_test.go).
var directCodes = []string{
	CodeInvalidJSON, CodeUnknownField, CodeValidation, CodeInvalidValue, CodeNoRows, CodeInvalidTimeout, // requests.go, limits.go
	CodeRouteNotFound, CodeMethodNotAllowed, // routes.go
	CodeBodyTooLarge, CodeHeadersTooLarge, CodeRequestTimeout, CodeBadRequest, // server.go transportError
	CodeUnavailable,           // health.go
	CodeInvalidIdempotencyKey, // idempotency.go
	CodeTransactionAborted,    // toAPIError, with its cause (transactions.go)
	CodeInternal,              // toAPIError's fallback, recovered panics
	CodeUnsupportedMediaType,  // moves.go
	CodeInvalidTTL,            // leases.go
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
	writeJSON(rc, ae.status, errorBody(ae))
}

// errorBody is the JSON of an error answer.
func errorBody(ae *apiError) []byte {
	b := make([]byte, 0, 128+2*len(ae.detail))
	b = append(b, `{"detail":`...)
	b = appendString(b, ae.detail)
	b = append(b, `,"error":`...)
	b = appendErrorObject(b, ae)
	return append(b, '}')
}

// appendErrorObject appends the structured error object
// {"code": "...", "message": "...", "status": N[, "sqlite_code": "..."]
// [, "statement_index": N]}.
func appendErrorObject(b []byte, ae *apiError) []byte {
	b = append(b, `{"code":`...)
	b = appendString(b, ae.code)
	b = append(b, `,"message":`...)
	b = appendString(b, ae.detail)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(ae.status), 10)
	if ae.sqliteCode != "" {
		b = append(b, `,"sqlite_code":`...)
		b = appendString(b, ae.sqliteCode)
	}
	if ae.statement > 0 {
		b = append(b, `,"statement_index":`...)
		b = strconv.AppendInt(b, int64(ae.statement-1), 10)
	}
	return append(b, '}')
}
