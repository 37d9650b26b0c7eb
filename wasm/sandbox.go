package wasm

import (
	"fmt"
	"strings"

	"github.com/ncruces/go-sqlite3"

	"github.com/praetorian/db-forge/forge"
)

// The SQL sandbox. Every connection runs client SQL under an authorizer
// (sqlite3_set_authorizer) that allows what a database needs for its own
// file and nothing else; docs/SECURITY.md gives the reasons rule by rule.
// SQLite consults it while preparing a statement (and while re-preparing one
// after a schema change, and when a pragma table-valued function prepares
// its inner PRAGMA), so a statement is refused before it runs.
//
// The engine's own statements (BEGIN IMMEDIATE/COMMIT, SAVEPOINT, ROLLBACK)
// and those of the units of work above it (the rows routes' pragma_table_list
// and pragma_table_info look-ups, package tables)
// use only allowed actions; the gateway's settings (journal_mode,
// synchronous, max_page_count, ...) are applied when a connection opens,
// before the authorizer is installed.

// Virtual table modules a client may create.
var allowedModules = map[string]bool{"fts5": true, "rtree": true, "rtree_i32": true}

// pragmaRule says which forms of an allowed PRAGMA a client may use.
type pragmaRule uint8

const (
	// pragmaRead: only the form without an argument, which reads a value.
	// The setting form belongs to the gateway (or to nobody).
	pragmaRead pragmaRule = iota + 1
	// pragmaAnyArg: the argument names a schema object, or sets a value
	// that is the client's own data (user_version, application_id).
	pragmaAnyArg
)

// allowedPragmas is the written allowlist: read-only introspection and the
// two header fields that are the application's own. Everything else —
// journal_mode, synchronous, locking_mode, writable_schema, cache_size,
// max_page_count=N, temp_store, query_only, foreign_keys, busy_timeout,
// database_list (which shows host paths)... — is refused.
//
// The authorizer cannot tell "PRAGMA x" from "PRAGMA x=”" (ncruces passes
// a NULL argument as ""), so a pragma is listed as pragmaRead only if its
// setting form with an empty argument changes nothing. foreign_keys and
// journal_mode are not listed for that reason: "" turns the former off and
// the latter to DELETE.
var allowedPragmas = map[string]pragmaRule{
	"table_info":        pragmaAnyArg,
	"table_xinfo":       pragmaAnyArg,
	"table_list":        pragmaAnyArg,
	"index_list":        pragmaAnyArg,
	"index_info":        pragmaAnyArg,
	"index_xinfo":       pragmaAnyArg,
	"foreign_key_list":  pragmaAnyArg,
	"foreign_key_check": pragmaAnyArg,
	"integrity_check":   pragmaAnyArg,
	"quick_check":       pragmaAnyArg,
	"user_version":      pragmaAnyArg,
	"application_id":    pragmaAnyArg,
	"collation_list":    pragmaRead,
	"function_list":     pragmaRead,
	"module_list":       pragmaRead,
	"pragma_list":       pragmaRead,
	"compile_options":   pragmaRead,
	"page_count":        pragmaRead,
	"page_size":         pragmaRead,
	"max_page_count":    pragmaRead,
	"freelist_count":    pragmaRead,
	"data_version":      pragmaRead,
	"encoding":          pragmaRead,
}

// Denial reasons, shown to the client.
const (
	reasonAttach = "ATTACH is not allowed: a database can only use its own file."
	reasonDetach = "DETACH is not allowed."
	reasonVacuum = "VACUUM is not allowed: it works by attaching a second database file. " +
		"Pages freed by DELETE are reused by later writes."
	reasonTemp = "Temporary tables, views, indexes and triggers are not allowed: " +
		"they would outlive the request on a shared connection. Use a regular table."
	reasonUnknown = "This statement is not allowed."
	// reasonReserved: the engine's bookkeeping tables (forge.ReservedPrefix).
	reasonReserved = "Tables whose names begin with " + forge.ReservedPrefix + " are reserved to the gateway's " +
		"bookkeeping (idempotency records): they cannot be read, written, created or dropped."
)

// touchesReserved reports whether an authorizer call names a table (or an
// index, trigger or view) whose name is reserved (forge.ReservedPrefix).
// Which argument names a table depends on the action; a column's name
// (READ, UPDATE) or a function's is never looked at, so a client's column
// may be called anything.
func touchesReserved(action sqlite3.AuthorizerActionCode, arg3, arg4 string) bool {
	switch action {
	case sqlite3.AUTH_READ, sqlite3.AUTH_UPDATE, sqlite3.AUTH_INSERT, sqlite3.AUTH_DELETE,
		sqlite3.AUTH_CREATE_TABLE, sqlite3.AUTH_DROP_TABLE, sqlite3.AUTH_CREATE_VIEW, sqlite3.AUTH_DROP_VIEW,
		sqlite3.AUTH_CREATE_VTABLE, sqlite3.AUTH_DROP_VTABLE, sqlite3.AUTH_REINDEX, sqlite3.AUTH_ANALYZE,
		sqlite3.AUTH_CREATE_TEMP_TABLE, sqlite3.AUTH_DROP_TEMP_TABLE, sqlite3.AUTH_CREATE_TEMP_VIEW,
		sqlite3.AUTH_DROP_TEMP_VIEW:
		return forge.IsReserved(arg3)
	case sqlite3.AUTH_CREATE_INDEX, sqlite3.AUTH_DROP_INDEX, sqlite3.AUTH_CREATE_TRIGGER, sqlite3.AUTH_DROP_TRIGGER,
		sqlite3.AUTH_CREATE_TEMP_INDEX, sqlite3.AUTH_DROP_TEMP_INDEX, sqlite3.AUTH_CREATE_TEMP_TRIGGER,
		sqlite3.AUTH_DROP_TEMP_TRIGGER:
		return forge.IsReserved(arg3) || forge.IsReserved(arg4)
	case sqlite3.AUTH_ALTER_TABLE, sqlite3.AUTH_PRAGMA:
		return forge.IsReserved(arg4) // the table altered; a pragma's argument
	}
	return false
}

// authorize is the sandbox's decision for one authorizer call; "" allows.
// schema is the database the action is on ("main", "temp", or "" when none
// applies). stepping tells a call made while a statement runs (SQLite
// preparing an internal statement, as VACUUM does to attach its target)
// from one made while the client's own SQL is prepared.
func authorize(action sqlite3.AuthorizerActionCode, arg3, arg4, schema string, stepping bool) string {
	if schema == "temp" {
		// Nothing is created in the temp schema. SQLite reports CREATE
		// TABLE temp.x as CREATE_TABLE on "temp", and CREATE TRIGGER
		// temp.x as CREATE_TRIGGER on "main" followed by an INSERT into
		// the temp schema's table of objects: every way in inserts into
		// "temp". (ALTER TABLE updates and reads the temp schema's table
		// of objects for triggers there; with none there, that is a no-op.)
		switch action {
		case sqlite3.AUTH_INSERT, sqlite3.AUTH_CREATE_TABLE, sqlite3.AUTH_CREATE_INDEX,
			sqlite3.AUTH_CREATE_VIEW, sqlite3.AUTH_CREATE_TRIGGER, sqlite3.AUTH_CREATE_VTABLE:
			return reasonTemp
		}
	}
	switch action {
	case sqlite3.AUTH_SELECT, sqlite3.AUTH_READ, sqlite3.AUTH_INSERT, sqlite3.AUTH_UPDATE,
		sqlite3.AUTH_DELETE, sqlite3.AUTH_FUNCTION, sqlite3.AUTH_RECURSIVE,
		sqlite3.AUTH_TRANSACTION, sqlite3.AUTH_SAVEPOINT,
		sqlite3.AUTH_CREATE_TABLE, sqlite3.AUTH_CREATE_INDEX, sqlite3.AUTH_CREATE_VIEW,
		sqlite3.AUTH_CREATE_TRIGGER, sqlite3.AUTH_DROP_TABLE, sqlite3.AUTH_DROP_INDEX,
		sqlite3.AUTH_DROP_VIEW, sqlite3.AUTH_DROP_TRIGGER, sqlite3.AUTH_DROP_VTABLE,
		sqlite3.AUTH_ALTER_TABLE, sqlite3.AUTH_REINDEX, sqlite3.AUTH_ANALYZE:
		return ""
	case sqlite3.AUTH_CREATE_VTABLE:
		if allowedModules[strings.ToLower(arg4)] {
			return ""
		}
		return fmt.Sprintf("Virtual table module %q is not allowed; only fts5 and rtree are.", arg4)
	case sqlite3.AUTH_PRAGMA:
		return authorizePragma(arg3, arg4)
	case sqlite3.AUTH_ATTACH:
		if stepping {
			// The client's ATTACH is refused while it is prepared; one
			// asked for while a statement runs is VACUUM's own.
			return reasonVacuum
		}
		return reasonAttach
	case sqlite3.AUTH_DETACH:
		return reasonDetach
	case sqlite3.AUTH_CREATE_TEMP_TABLE, sqlite3.AUTH_CREATE_TEMP_INDEX, sqlite3.AUTH_CREATE_TEMP_VIEW,
		sqlite3.AUTH_CREATE_TEMP_TRIGGER, sqlite3.AUTH_DROP_TEMP_TABLE, sqlite3.AUTH_DROP_TEMP_INDEX,
		sqlite3.AUTH_DROP_TEMP_VIEW, sqlite3.AUTH_DROP_TEMP_TRIGGER:
		return reasonTemp
	}
	return reasonUnknown
}

func authorizePragma(name, arg string) string {
	name = strings.ToLower(name)
	switch allowedPragmas[name] {
	case pragmaAnyArg:
		return ""
	case pragmaRead:
		if arg == "" {
			return ""
		}
		return fmt.Sprintf("PRAGMA %s can only be read; setting it is reserved to the gateway.", name)
	}
	return fmt.Sprintf("PRAGMA %s is not allowed.", name)
}

// authorizer is the callback installed on a connection. The first denial
// of a statement is kept for the error the client gets.
func (c *conn) authorizer(action sqlite3.AuthorizerActionCode, arg3, arg4, schema, inner string) sqlite3.AuthorizerReturnCode {
	switch action {
	case sqlite3.AUTH_SELECT, sqlite3.AUTH_READ, sqlite3.AUTH_INSERT, sqlite3.AUTH_UPDATE,
		sqlite3.AUTH_DELETE, sqlite3.AUTH_FUNCTION, sqlite3.AUTH_RECURSIVE:
	default:
		if !c.stepping {
			c.nonDML = true
		}
	}
	if action == sqlite3.AUTH_TRANSACTION && !c.stepping {
		c.txControl = true
	}
	if action == sqlite3.AUTH_SAVEPOINT && !c.stepping {
		c.savepointOp, c.savepointName = arg3, arg4
	}
	if action == sqlite3.AUTH_ALTER_TABLE && !c.stepping {
		c.altering = true
	}
	if action == sqlite3.AUTH_INSERT && !c.stepping && inner == "" {
		c.inserts = true // the statement's own insert, not a trigger's
	}
	switch action {
	case sqlite3.AUTH_SELECT, sqlite3.AUTH_READ, sqlite3.AUTH_DELETE, sqlite3.AUTH_FUNCTION,
		sqlite3.AUTH_RECURSIVE, sqlite3.AUTH_DROP_TABLE, sqlite3.AUTH_DROP_INDEX,
		sqlite3.AUTH_DROP_TRIGGER, sqlite3.AUTH_DROP_VIEW, sqlite3.AUTH_DROP_VTABLE:
	default:
		if !c.stepping {
			c.grows = true
		}
	}
	reason := authorize(action, arg3, arg4, schema, c.stepping)
	if reason == "" && !c.bookkeeping && touchesReserved(action, arg3, arg4) {
		reason = reasonReserved
	}
	if reason == "" {
		return sqlite3.AUTH_OK
	}
	if c.denied == "" {
		c.denied = reason
	}
	return sqlite3.AUTH_DENY
}

// checkSQLText refuses SQL the engine will not hand to SQLite: a NUL byte
// (SQLite would stop reading there, so the statement run would differ from
// the text the client sent), and parentheses nested deeper than maxDepth.
// SQLite's own limits bound expression depth but not, for one, subqueries
// nested in FROM clauses, which overflow the wasm instance's stack past
// about 250 levels; refusing deep parentheses turns most of those into a
// plain error instead of a discarded instance.
func checkSQLText(sql string, maxDepth int) error {
	if strings.IndexByte(sql, 0) >= 0 {
		return &forge.SQLError{Message: "SQL text must not contain NUL characters.", Code: "SQLITE_ERROR"}
	}
	if d := parenDepth(sql, maxDepth); d > maxDepth {
		return &forge.SQLError{
			Message: fmt.Sprintf("Parentheses nest too deeply (maximum depth %d).", maxDepth),
			Code:    "SQLITE_ERROR",
		}
	}
	return nil
}

// parenDepth returns the deepest nesting of parentheses in sql outside
// string literals, quoted identifiers and comments, stopping early once it
// passes limit.
func parenDepth(sql string, limit int) int {
	depth, deepest := 0, 0
	for i := 0; i < len(sql); i++ {
		switch c := sql[i]; c {
		case '(':
			depth++
			if depth > deepest {
				deepest = depth
				if deepest > limit {
					return deepest
				}
			}
		case ')':
			if depth > 0 {
				depth--
			}
		case '\'', '"', '`':
			// A quote ends the literal unless doubled; a doubled quote
			// reads as the end of one literal and the start of the next,
			// which skips the same bytes.
			j := strings.IndexByte(sql[i+1:], c)
			if j < 0 {
				return deepest
			}
			i += j + 1
		case '[':
			j := strings.IndexByte(sql[i+1:], ']')
			if j < 0 {
				return deepest
			}
			i += j + 1
		case '-':
			if i+1 < len(sql) && sql[i+1] == '-' {
				j := strings.IndexByte(sql[i:], '\n')
				if j < 0 {
					return deepest
				}
				i += j
			}
		case '/':
			if i+1 < len(sql) && sql[i+1] == '*' {
				j := strings.Index(sql[i+2:], "*/")
				if j < 0 {
					return deepest
				}
				i += j + 3
			}
		}
	}
	return deepest
}
