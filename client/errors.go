package client

import (
	"fmt"
	"net/http"
	"time"
)

// Error is an error answer of the gateway: its HTTP status and the
// structured error object ({"detail": …, "error": {"code": …}}), as
// docs/API.md (Errors) describes it. errors.Is matches it against the
// sentinel of its code (ErrDatabaseNotFound, ErrSQLError, …); errors.As
// gives the whole value:
//
//	var e *client.Error
//	if errors.As(err, &e) && e.StatementIndex != nil { … }
type Error struct {
	// Status is the HTTP status (0 on a sentinel).
	Status int
	// Code is the stable error code (error.code), e.g. "SQL_ERROR".
	Code string
	// Detail is the human-readable detail ("detail"); Message is
	// error.message (the same text today).
	Detail, Message string
	// SQLiteCode is SQLite's result code name on SQL errors
	// ("SQLITE_CONSTRAINT_UNIQUE"), else "".
	SQLiteCode string
	// StatementIndex is the failing statement's place in a batch or an
	// import script, from 0; nil when the answer has none.
	StatementIndex *int
	// RetryAfter is the Retry-After header's delay, 0 without one.
	RetryAfter time.Duration
	// RequestID is the answer's X-Request-Id (the gateway's log has it).
	RequestID string
}

func (e *Error) Error() string {
	if e.Status == 0 {
		return "db-forge: " + e.Code
	}
	d := e.Detail
	if d == "" {
		d = e.Message
	}
	s := fmt.Sprintf("db-forge: %d %s: %s", e.Status, e.Code, d)
	if e.StatementIndex != nil {
		s += fmt.Sprintf(" (statement %d)", *e.StatementIndex)
	}
	return s
}

// Is reports whether target is the sentinel of e's code (a sentinel has
// no status), or an Error of the same code and status.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok || t.Code != e.Code {
		return false
	}
	return t.Status == 0 || t.Status == e.Status
}

// Temporary reports whether the server said a retry may succeed: the
// answer carried Retry-After, or its code is one a retry cures.
func (e *Error) Temporary() bool {
	if e.RetryAfter > 0 {
		return true
	}
	switch e.Code {
	case "TOO_MANY_REQUESTS", "RATE_LIMITED", "SERVER_BUSY", "SHUTTING_DOWN", "DATABASE_BUSY",
		"BACKEND_UNAVAILABLE", "IDEMPOTENCY_IN_PROGRESS", "TOO_MANY_TRANSACTIONS", "QUERY_TIMEOUT",
		"REQUEST_CANCELED":
		return true
	}
	return false
}

// Sentinel returns the sentinel of a code, nil for a code this client
// does not know (a newer gateway's).
func Sentinel(code string) *Error { return sentinels[code] }

// errorBody is the wire shape of an error answer.
type errorBody struct {
	Detail any `json:"detail"`
	Error  *struct {
		Code           string `json:"code"`
		Message        string `json:"message"`
		Status         int    `json:"status"`
		SQLiteCode     string `json:"sqlite_code"`
		StatementIndex *int   `json:"statement_index"`
	} `json:"error"`
}

// newError builds the Error of an answer whose body was read.
func newError(resp *http.Response, body []byte) *Error {
	e := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id"),
		RetryAfter: retryAfter(resp.Header)}
	var b errorBody
	if err := jsonUnmarshal(body, &b); err == nil && b.Error != nil {
		e.Code, e.Message, e.SQLiteCode, e.StatementIndex = b.Error.Code, b.Error.Message, b.Error.SQLiteCode, b.Error.StatementIndex
		if s, ok := b.Detail.(string); ok {
			e.Detail = s
		}
	}
	if e.Code == "" { // not the gateway's JSON (a proxy's page)
		e.Code = "HTTP_" + fmt.Sprint(resp.StatusCode)
		e.Detail = http.StatusText(resp.StatusCode)
		if len(body) > 0 && len(body) < 512 {
			e.Detail = string(body)
		}
	}
	if e.Message == "" {
		e.Message = e.Detail
	}
	return e
}
