// Code generated from the error table of docs/API.md; DO NOT EDIT.
// Regenerate with: go test ./client -run TestSentinelsMatchDocs -update

package client

// One sentinel per error code the gateway documents: errors.Is(err,
// client.ErrDatabaseNotFound) holds when the server answered that code,
// whatever the status and detail.
var (
	ErrBackendError              = &Error{Code: "BACKEND_ERROR"}
	ErrBackendUnavailable        = &Error{Code: "BACKEND_UNAVAILABLE"}
	ErrBadRequest                = &Error{Code: "BAD_REQUEST"}
	ErrBodyTooLarge              = &Error{Code: "BODY_TOO_LARGE"}
	ErrCheckpointExists          = &Error{Code: "CHECKPOINT_EXISTS"}
	ErrCheckpointLimit           = &Error{Code: "CHECKPOINT_LIMIT"}
	ErrCheckpointNotFound        = &Error{Code: "CHECKPOINT_NOT_FOUND"}
	ErrDatabaseBusy              = &Error{Code: "DATABASE_BUSY"}
	ErrDatabaseCorrupt           = &Error{Code: "DATABASE_CORRUPT"}
	ErrDatabaseExists            = &Error{Code: "DATABASE_EXISTS"}
	ErrDatabaseFull              = &Error{Code: "DATABASE_FULL"}
	ErrDatabaseNameConflict      = &Error{Code: "DATABASE_NAME_CONFLICT"}
	ErrDatabaseNotFound          = &Error{Code: "DATABASE_NOT_FOUND"}
	ErrDuplicateColumn           = &Error{Code: "DUPLICATE_COLUMN"}
	ErrEngineFault               = &Error{Code: "ENGINE_FAULT"}
	ErrFilterRequired            = &Error{Code: "FILTER_REQUIRED"}
	ErrForbidden                 = &Error{Code: "FORBIDDEN"}
	ErrFunctionInvalid           = &Error{Code: "FUNCTION_INVALID"}
	ErrFunctionLimit             = &Error{Code: "FUNCTION_LIMIT"}
	ErrFunctionMemoryLimit       = &Error{Code: "FUNCTION_MEMORY_LIMIT"}
	ErrFunctionNotFound          = &Error{Code: "FUNCTION_NOT_FOUND"}
	ErrFunctionOutputLimit       = &Error{Code: "FUNCTION_OUTPUT_LIMIT"}
	ErrFunctionTimeout           = &Error{Code: "FUNCTION_TIMEOUT"}
	ErrFunctionTrapped           = &Error{Code: "FUNCTION_TRAPPED"}
	ErrHeadersTooLarge           = &Error{Code: "HEADERS_TOO_LARGE"}
	ErrIdempotencyInProgress     = &Error{Code: "IDEMPOTENCY_IN_PROGRESS"}
	ErrIdempotencyKeyReused      = &Error{Code: "IDEMPOTENCY_KEY_REUSED"}
	ErrInstanceNotFound          = &Error{Code: "INSTANCE_NOT_FOUND"}
	ErrInternalError             = &Error{Code: "INTERNAL_ERROR"}
	ErrInvalidCheckpointName     = &Error{Code: "INVALID_CHECKPOINT_NAME"}
	ErrInvalidColumnType         = &Error{Code: "INVALID_COLUMN_TYPE"}
	ErrInvalidCSV                = &Error{Code: "INVALID_CSV"}
	ErrInvalidDatabaseFile       = &Error{Code: "INVALID_DATABASE_FILE"}
	ErrInvalidDatabaseName       = &Error{Code: "INVALID_DATABASE_NAME"}
	ErrInvalidDefault            = &Error{Code: "INVALID_DEFAULT"}
	ErrInvalidExpiry             = &Error{Code: "INVALID_EXPIRY"}
	ErrInvalidIdempotencyKey     = &Error{Code: "INVALID_IDEMPOTENCY_KEY"}
	ErrInvalidIdentifier         = &Error{Code: "INVALID_IDENTIFIER"}
	ErrInvalidJSON               = &Error{Code: "INVALID_JSON"}
	ErrInvalidQueryTimeout       = &Error{Code: "INVALID_QUERY_TIMEOUT"}
	ErrInvalidScope              = &Error{Code: "INVALID_SCOPE"}
	ErrInvalidSQLScript          = &Error{Code: "INVALID_SQL_SCRIPT"}
	ErrInvalidTableSpec          = &Error{Code: "INVALID_TABLE_SPEC"}
	ErrInvalidToken              = &Error{Code: "INVALID_TOKEN"}
	ErrInvalidTransactionTimeout = &Error{Code: "INVALID_TRANSACTION_TIMEOUT"}
	ErrInvalidTTL                = &Error{Code: "INVALID_TTL"}
	ErrInvalidValue              = &Error{Code: "INVALID_VALUE"}
	ErrKeyNotFound               = &Error{Code: "KEY_NOT_FOUND"}
	ErrMemoryLimitExceeded       = &Error{Code: "MEMORY_LIMIT_EXCEEDED"}
	ErrMethodNotAllowed          = &Error{Code: "METHOD_NOT_ALLOWED"}
	ErrNotInTrash                = &Error{Code: "NOT_IN_TRASH"}
	ErrNoRows                    = &Error{Code: "NO_ROWS"}
	ErrQueryTimeout              = &Error{Code: "QUERY_TIMEOUT"}
	ErrRateLimited               = &Error{Code: "RATE_LIMITED"}
	ErrReadOnlyKey               = &Error{Code: "READ_ONLY_KEY"}
	ErrReadOnlyTransaction       = &Error{Code: "READ_ONLY_TRANSACTION"}
	ErrRequestCanceled           = &Error{Code: "REQUEST_CANCELED"}
	ErrRequestTimeout            = &Error{Code: "REQUEST_TIMEOUT"}
	ErrResponseTooLarge          = &Error{Code: "RESPONSE_TOO_LARGE"}
	ErrRouteNotFound             = &Error{Code: "ROUTE_NOT_FOUND"}
	ErrServerBusy                = &Error{Code: "SERVER_BUSY"}
	ErrServiceUnavailable        = &Error{Code: "SERVICE_UNAVAILABLE"}
	ErrShuttingDown              = &Error{Code: "SHUTTING_DOWN"}
	ErrSQLError                  = &Error{Code: "SQL_ERROR"}
	ErrSQLNotAuthorized          = &Error{Code: "SQL_NOT_AUTHORIZED"}
	ErrTableNotFound             = &Error{Code: "TABLE_NOT_FOUND"}
	ErrTooManyRequests           = &Error{Code: "TOO_MANY_REQUESTS"}
	ErrTooManyStatements         = &Error{Code: "TOO_MANY_STATEMENTS"}
	ErrTooManyTransactions       = &Error{Code: "TOO_MANY_TRANSACTIONS"}
	ErrTransactionAborted        = &Error{Code: "TRANSACTION_ABORTED"}
	ErrTransactionEnded          = &Error{Code: "TRANSACTION_ENDED"}
	ErrTransactionExpired        = &Error{Code: "TRANSACTION_EXPIRED"}
	ErrTransactionNotFound       = &Error{Code: "TRANSACTION_NOT_FOUND"}
	ErrUnauthorized              = &Error{Code: "UNAUTHORIZED"}
	ErrUnknownColumn             = &Error{Code: "UNKNOWN_COLUMN"}
	ErrUnknownField              = &Error{Code: "UNKNOWN_FIELD"}
	ErrUnknownParameter          = &Error{Code: "UNKNOWN_PARAMETER"}
	ErrUnsupportedMediaType      = &Error{Code: "UNSUPPORTED_MEDIA_TYPE"}
	ErrValidationError           = &Error{Code: "VALIDATION_ERROR"}
)

// sentinels lists every sentinel by code.
var sentinels = map[string]*Error{
	"BACKEND_ERROR":               ErrBackendError,
	"BACKEND_UNAVAILABLE":         ErrBackendUnavailable,
	"BAD_REQUEST":                 ErrBadRequest,
	"BODY_TOO_LARGE":              ErrBodyTooLarge,
	"CHECKPOINT_EXISTS":           ErrCheckpointExists,
	"CHECKPOINT_LIMIT":            ErrCheckpointLimit,
	"CHECKPOINT_NOT_FOUND":        ErrCheckpointNotFound,
	"DATABASE_BUSY":               ErrDatabaseBusy,
	"DATABASE_CORRUPT":            ErrDatabaseCorrupt,
	"DATABASE_EXISTS":             ErrDatabaseExists,
	"DATABASE_FULL":               ErrDatabaseFull,
	"DATABASE_NAME_CONFLICT":      ErrDatabaseNameConflict,
	"DATABASE_NOT_FOUND":          ErrDatabaseNotFound,
	"DUPLICATE_COLUMN":            ErrDuplicateColumn,
	"ENGINE_FAULT":                ErrEngineFault,
	"FILTER_REQUIRED":             ErrFilterRequired,
	"FORBIDDEN":                   ErrForbidden,
	"FUNCTION_INVALID":            ErrFunctionInvalid,
	"FUNCTION_LIMIT":              ErrFunctionLimit,
	"FUNCTION_MEMORY_LIMIT":       ErrFunctionMemoryLimit,
	"FUNCTION_NOT_FOUND":          ErrFunctionNotFound,
	"FUNCTION_OUTPUT_LIMIT":       ErrFunctionOutputLimit,
	"FUNCTION_TIMEOUT":            ErrFunctionTimeout,
	"FUNCTION_TRAPPED":            ErrFunctionTrapped,
	"HEADERS_TOO_LARGE":           ErrHeadersTooLarge,
	"IDEMPOTENCY_IN_PROGRESS":     ErrIdempotencyInProgress,
	"IDEMPOTENCY_KEY_REUSED":      ErrIdempotencyKeyReused,
	"INSTANCE_NOT_FOUND":          ErrInstanceNotFound,
	"INTERNAL_ERROR":              ErrInternalError,
	"INVALID_CHECKPOINT_NAME":     ErrInvalidCheckpointName,
	"INVALID_COLUMN_TYPE":         ErrInvalidColumnType,
	"INVALID_CSV":                 ErrInvalidCSV,
	"INVALID_DATABASE_FILE":       ErrInvalidDatabaseFile,
	"INVALID_DATABASE_NAME":       ErrInvalidDatabaseName,
	"INVALID_DEFAULT":             ErrInvalidDefault,
	"INVALID_EXPIRY":              ErrInvalidExpiry,
	"INVALID_IDEMPOTENCY_KEY":     ErrInvalidIdempotencyKey,
	"INVALID_IDENTIFIER":          ErrInvalidIdentifier,
	"INVALID_JSON":                ErrInvalidJSON,
	"INVALID_QUERY_TIMEOUT":       ErrInvalidQueryTimeout,
	"INVALID_SCOPE":               ErrInvalidScope,
	"INVALID_SQL_SCRIPT":          ErrInvalidSQLScript,
	"INVALID_TABLE_SPEC":          ErrInvalidTableSpec,
	"INVALID_TOKEN":               ErrInvalidToken,
	"INVALID_TRANSACTION_TIMEOUT": ErrInvalidTransactionTimeout,
	"INVALID_TTL":                 ErrInvalidTTL,
	"INVALID_VALUE":               ErrInvalidValue,
	"KEY_NOT_FOUND":               ErrKeyNotFound,
	"MEMORY_LIMIT_EXCEEDED":       ErrMemoryLimitExceeded,
	"METHOD_NOT_ALLOWED":          ErrMethodNotAllowed,
	"NOT_IN_TRASH":                ErrNotInTrash,
	"NO_ROWS":                     ErrNoRows,
	"QUERY_TIMEOUT":               ErrQueryTimeout,
	"RATE_LIMITED":                ErrRateLimited,
	"READ_ONLY_KEY":               ErrReadOnlyKey,
	"READ_ONLY_TRANSACTION":       ErrReadOnlyTransaction,
	"REQUEST_CANCELED":            ErrRequestCanceled,
	"REQUEST_TIMEOUT":             ErrRequestTimeout,
	"RESPONSE_TOO_LARGE":          ErrResponseTooLarge,
	"ROUTE_NOT_FOUND":             ErrRouteNotFound,
	"SERVER_BUSY":                 ErrServerBusy,
	"SERVICE_UNAVAILABLE":         ErrServiceUnavailable,
	"SHUTTING_DOWN":               ErrShuttingDown,
	"SQL_ERROR":                   ErrSQLError,
	"SQL_NOT_AUTHORIZED":          ErrSQLNotAuthorized,
	"TABLE_NOT_FOUND":             ErrTableNotFound,
	"TOO_MANY_REQUESTS":           ErrTooManyRequests,
	"TOO_MANY_STATEMENTS":         ErrTooManyStatements,
	"TOO_MANY_TRANSACTIONS":       ErrTooManyTransactions,
	"TRANSACTION_ABORTED":         ErrTransactionAborted,
	"TRANSACTION_ENDED":           ErrTransactionEnded,
	"TRANSACTION_EXPIRED":         ErrTransactionExpired,
	"TRANSACTION_NOT_FOUND":       ErrTransactionNotFound,
	"UNAUTHORIZED":                ErrUnauthorized,
	"UNKNOWN_COLUMN":              ErrUnknownColumn,
	"UNKNOWN_FIELD":               ErrUnknownField,
	"UNKNOWN_PARAMETER":           ErrUnknownParameter,
	"UNSUPPORTED_MEDIA_TYPE":      ErrUnsupportedMediaType,
	"VALIDATION_ERROR":            ErrValidationError,
}
