// Package forge holds the domain vocabulary every other package shares:
// database names, SQL values, row streams, instances and the errors they
// fail with. It imports nothing of the project and no third-party module, so
// that the engine, the file layout, the orchestrator and the gateway can all
// speak it without importing one another.
package forge

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. The gateway maps each to one HTTP status and one code in a
// single place; other packages wrap them with context ("open %s: %w").
var (
	// ErrDatabaseNotFound: no data file exists for the name.
	ErrDatabaseNotFound = errors.New("database not found")
	// ErrInstanceNotFound: the orchestrator manages no instance of that name.
	ErrInstanceNotFound = errors.New("database instance not found")
	// ErrInvalidName: the database name breaks the naming rules.
	ErrInvalidName = errors.New("invalid database name")
	// ErrNameConflict: another database's name differs from this one only by case.
	ErrNameConflict = errors.New("database name conflicts with an existing database")
	// ErrBackendUnavailable: the orchestrator backend (Docker) does not answer.
	ErrBackendUnavailable = errors.New("orchestrator backend not available")
	// ErrTableNotFound: the rows routes name a table the database does not have.
	ErrTableNotFound = errors.New("table not found")
	// ErrTimeout: a statement ran past its deadline and was interrupted.
	ErrTimeout = errors.New("query timed out")
	// ErrCanceled: the request went away while its statement ran.
	ErrCanceled = errors.New("query canceled")
	// ErrBusy: the database stayed locked for longer than the busy timeout.
	ErrBusy = errors.New("database is busy")
	// ErrClosed: the engine is shutting down and takes no new work.
	ErrClosed = errors.New("engine closed")
	// ErrEngineFault: the connection's wasm instance failed (a trap) and
	// was discarded; the database itself is unharmed.
	ErrEngineFault = errors.New("engine fault")
	// ErrOutOfMemory: the statement needed more memory than its
	// connection's heap limit; that wasm instance was discarded.
	ErrOutOfMemory = errors.New("statement out of memory")
	// ErrDatabaseFull: a write would grow the database past its size quota
	// (FORGE_MAX_DB_SIZE_MB).
	ErrDatabaseFull = errors.New("database is full")
	// ErrDiskFull: the volume that holds the data directory has no space
	// left (ENOSPC): the write failed and nothing of it was kept.
	ErrDiskFull = errors.New("volume is full")
	// ErrDatabaseCorrupt: SQLite found the database file damaged (a bad
	// header, a malformed page). A *CorruptError carries SQLite's message.
	ErrDatabaseCorrupt = errors.New("database file is damaged")
	// ErrNotAuthorized: the SQL sandbox refused the statement. A
	// *NotAuthorizedError carries the reason.
	ErrNotAuthorized = errors.New("statement not authorized")
	// ErrReadOnly: the request may only read (Statement.ReadOnly, a
	// read-only API key) and SQLite does not report the prepared statement
	// read-only. Nothing of it ran.
	ErrReadOnly = errors.New("statement may write, and the request may only read")
)

// NotAuthorizedError is the SQL sandbox refusing a statement: an ATTACH, a
// PRAGMA outside the allowlist, a temporary object. Reason is one sentence
// for the client, e.g. "PRAGMA journal_mode is reserved to the gateway."
type NotAuthorizedError struct {
	Reason string
}

func (e *NotAuthorizedError) Error() string        { return "not authorized: " + e.Reason }
func (e *NotAuthorizedError) Is(target error) bool { return target == ErrNotAuthorized }

// CorruptError is a damaged database file: SQLite's own message
// ("database disk image is malformed", "file is not a database").
type CorruptError struct {
	Message string
}

func (e *CorruptError) Error() string        { return "corrupt: " + e.Message }
func (e *CorruptError) Is(target error) bool { return target == ErrDatabaseCorrupt }

// Damage is a database the engine found damaged, until an integrity check
// passes or the database is deleted.
type Damage struct {
	Name    string
	Message string    // SQLite's message when it was found
	Since   time.Time // when it was first found
}

// SQLError is SQLite refusing a statement: a syntax error, a constraint, a
// missing table. Message is SQLite's own text, which the contract passes to
// clients after "SQL Error: ".
type SQLError struct {
	Message string // SQLite's message, e.g. "no such table: t"
	Code    string // extended result code name, e.g. "SQLITE_CONSTRAINT_UNIQUE"
}

func (e *SQLError) Error() string { return "sql: " + e.Message }

// InputError is a client request that is well-formed JSON but asks for
// something invalid: an unknown column, a bad identifier, a wrong parameter
// count. Field names what was wrong when that helps the client.
type InputError struct {
	Code    string // stable machine-readable code, e.g. "UNKNOWN_COLUMN"
	Message string
}

func (e *InputError) Error() string { return e.Message }

// Inputf builds an InputError.
func Inputf(code, format string, args ...any) error {
	return &InputError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// BackendError is the orchestrator backend failing for a reason an operator
// must fix (a missing worker image, a foreign container in the way), as
// opposed to ErrBackendUnavailable, which a retry may cure.
type BackendError struct {
	Message string
	Err     error
}

func (e *BackendError) Error() string { return "backend: " + e.Message }
func (e *BackendError) Unwrap() error { return e.Err }

// StatementError is the failure of one statement of a batch: Index is its
// place in the batch (from 0), Err what it failed with.
type StatementError struct {
	Index int
	Err   error
}

func (e *StatementError) Error() string { return fmt.Sprintf("statement %d: %v", e.Index, e.Err) }

func (e *StatementError) Unwrap() error { return e.Err }
