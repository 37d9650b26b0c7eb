package wasm

import (
	"context"
	"errors"
	"strings"

	"github.com/ncruces/go-sqlite3"

	"github.com/praetorian/db-forge/forge"
)

// translate turns an error of ncruces/go-sqlite3 into the forge vocabulary,
// so that no sqlite3 type leaves this package. ctx tells an interrupt caused
// by the deadline from one caused by the caller going away.
func translate(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var fe *forge.SQLError
	var ie *forge.InputError
	if errors.As(err, &fe) || errors.As(err, &ie) || errors.Is(err, forge.ErrEngineFault) ||
		errors.Is(err, forge.ErrOutOfMemory) || errors.Is(err, forge.ErrNotAuthorized) ||
		errors.Is(err, forge.ErrTableNotFound) || errors.Is(err, forge.ErrDatabaseNotFound) ||
		errors.Is(err, forge.ErrReadOnly) || errors.Is(err, forge.ErrDiskFull) ||
		errors.Is(err, forge.ErrDatabaseFull) || errors.Is(err, forge.ErrDatabaseCorrupt) {
		return err
	}
	// An interrupt is the context ending. So is a lock wait that gave up
	// because the context ended (the busy handler stops at the interrupt):
	// a deadline always comes out as ErrTimeout, never as ErrBusy.
	if errors.Is(err, sqlite3.INTERRUPT) ||
		ctx.Err() != nil && (errors.Is(err, sqlite3.BUSY) || errors.Is(err, sqlite3.LOCKED)) {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return forge.ErrTimeout
		}
		return forge.ErrCanceled
	}
	if errors.Is(err, sqlite3.BUSY) || errors.Is(err, sqlite3.LOCKED) {
		return forge.ErrBusy
	}
	// ncruces' VFS reports a write that met ENOSPC as SQLITE_IOERR_WRITE
	// ("disk I/O error") with the system error attached; an I/O error is
	// not the client's SQL, so the volume being full is said as such.
	if isDiskFull(err) {
		return forge.ErrDiskFull
	}
	if errors.Is(err, sqlite3.FULL) {
		return forge.ErrDatabaseFull // max_page_count: the quota
	}
	if errors.Is(err, sqlite3.CORRUPT) || errors.Is(err, sqlite3.NOTADB) {
		var se *sqlite3.Error
		if errors.As(err, &se) {
			return &forge.CorruptError{Message: sqliteMessage(se)}
		}
		var code sqlite3.ErrorCode
		if errors.As(err, &code) {
			return &forge.CorruptError{Message: strings.TrimPrefix(code.Error(), "sqlite3: ")}
		}
		return &forge.CorruptError{Message: err.Error()}
	}
	var se *sqlite3.Error
	if errors.As(err, &se) {
		return &forge.SQLError{Message: sqliteMessage(se), Code: codeName(se.ExtendedCode())}
	}
	var code sqlite3.ErrorCode
	if errors.As(err, &code) {
		return &forge.SQLError{Message: strings.TrimPrefix(code.Error(), "sqlite3: "), Code: codeName(sqlite3.ExtendedErrorCode(code))}
	}
	return err
}

// sqliteMessage is sqlite3_errmsg, the text Python's sqlite3 module showed
// and the prototype's clients read after "SQL Error: ": ncruces prefixes it
// with the result code's own description, which we take off again.
func sqliteMessage(e *sqlite3.Error) string {
	msg := e.Error()
	prefix := e.ExtendedCode().Error() + ": "
	if rest, ok := strings.CutPrefix(msg, prefix); ok {
		return rest
	}
	if rest, ok := strings.CutPrefix(msg, e.Code().Error()+": "); ok {
		return rest
	}
	return strings.TrimPrefix(msg, "sqlite3: ")
}

var primaryNames = map[sqlite3.ErrorCode]string{
	sqlite3.ERROR: "SQLITE_ERROR", sqlite3.INTERNAL: "SQLITE_INTERNAL", sqlite3.PERM: "SQLITE_PERM",
	sqlite3.ABORT: "SQLITE_ABORT", sqlite3.BUSY: "SQLITE_BUSY", sqlite3.LOCKED: "SQLITE_LOCKED",
	sqlite3.NOMEM: "SQLITE_NOMEM", sqlite3.READONLY: "SQLITE_READONLY", sqlite3.INTERRUPT: "SQLITE_INTERRUPT",
	sqlite3.IOERR: "SQLITE_IOERR", sqlite3.CORRUPT: "SQLITE_CORRUPT", sqlite3.NOTFOUND: "SQLITE_NOTFOUND",
	sqlite3.FULL: "SQLITE_FULL", sqlite3.CANTOPEN: "SQLITE_CANTOPEN", sqlite3.PROTOCOL: "SQLITE_PROTOCOL",
	sqlite3.SCHEMA: "SQLITE_SCHEMA", sqlite3.TOOBIG: "SQLITE_TOOBIG", sqlite3.CONSTRAINT: "SQLITE_CONSTRAINT",
	sqlite3.MISMATCH: "SQLITE_MISMATCH", sqlite3.MISUSE: "SQLITE_MISUSE", sqlite3.NOLFS: "SQLITE_NOLFS",
	sqlite3.AUTH: "SQLITE_AUTH", sqlite3.FORMAT: "SQLITE_FORMAT", sqlite3.RANGE: "SQLITE_RANGE",
	sqlite3.NOTADB: "SQLITE_NOTADB",
}

var constraintNames = map[sqlite3.ExtendedErrorCode]string{
	sqlite3.CONSTRAINT_CHECK: "SQLITE_CONSTRAINT_CHECK", sqlite3.CONSTRAINT_FOREIGNKEY: "SQLITE_CONSTRAINT_FOREIGNKEY",
	sqlite3.CONSTRAINT_NOTNULL: "SQLITE_CONSTRAINT_NOTNULL", sqlite3.CONSTRAINT_PRIMARYKEY: "SQLITE_CONSTRAINT_PRIMARYKEY",
	sqlite3.CONSTRAINT_UNIQUE: "SQLITE_CONSTRAINT_UNIQUE", sqlite3.CONSTRAINT_TRIGGER: "SQLITE_CONSTRAINT_TRIGGER",
	sqlite3.CONSTRAINT_DATATYPE: "SQLITE_CONSTRAINT_DATATYPE", sqlite3.CONSTRAINT_ROWID: "SQLITE_CONSTRAINT_ROWID",
}

// codeName names a result code the way SQLite's documentation does.
func codeName(x sqlite3.ExtendedErrorCode) string {
	if n, ok := constraintNames[x]; ok {
		return n
	}
	if n, ok := primaryNames[sqlite3.ErrorCode(x&0xff)]; ok {
		return n
	}
	return "SQLITE_ERROR"
}
