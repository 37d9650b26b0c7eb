package forge

import (
	"errors"
	"time"
)

// Data that moves (exports, imports) and time that rewinds (checkpoints):
// the vocabulary package snapshot and the gateway share.

var (
	// ErrCheckpointNotFound: the database has no checkpoint of that name.
	ErrCheckpointNotFound = errors.New("checkpoint not found")
	// ErrCheckpointExists: the database has a checkpoint of that name.
	ErrCheckpointExists = errors.New("checkpoint exists")
	// ErrCheckpointLimit: the database has as many checkpoints, or as
	// many bytes of them, as it may.
	ErrCheckpointLimit = errors.New("checkpoint limit reached")
	// ErrDatabaseExists: a spawn from a file names a database that has
	// data already; a file never replaces one.
	ErrDatabaseExists = errors.New("database exists")
)

// Codes of the InputErrors of imports and checkpoints.
const (
	CodeInvalidDatabaseFile = "INVALID_DATABASE_FILE"
	CodeInvalidCSV          = "INVALID_CSV"
	CodeInvalidSQLScript    = "INVALID_SQL_SCRIPT"
	CodeInvalidCheckpoint   = "INVALID_CHECKPOINT_NAME"
)

// Checkpoint is a copy of a database that it can be restored to.
type Checkpoint struct {
	Name      string
	CreatedAt time.Time
	SizeBytes int64
	// Auto: taken by a restore, of the state it replaced.
	Auto bool
}

// Imported is the outcome of an import.
type Imported struct {
	// Statements run (an SQL script) or rows inserted (CSV).
	Statements int64
	Rows       int64
	// Created: the CSV import created its table.
	Created bool
	Table   string
	// Columns of a created table with their inferred types.
	Columns []ColumnType
}

// ColumnType is a column and its type.
type ColumnType struct{ Name, Type string }
