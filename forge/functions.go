package forge

import "time"

// Functions (package functions): WebAssembly modules deployed to a
// database and run by the gateway, their SQL in one transaction of it.

// Error codes of functions, each answered with its own status.
const (
	CodeFunctionNotFound    = "FUNCTION_NOT_FOUND"    // 404
	CodeFunctionInvalid     = "FUNCTION_INVALID"      // 400: a module we will not run
	CodeFunctionTimeout     = "FUNCTION_TIMEOUT"      // 504: the deadline ended the call
	CodeFunctionTrapped     = "FUNCTION_TRAPPED"      // 500: the module trapped or exited
	CodeFunctionMemoryLimit = "FUNCTION_MEMORY_LIMIT" // 400: the module needed more memory than allowed
	CodeFunctionOutputLimit = "FUNCTION_OUTPUT_LIMIT" // 413: the answer passed its cap
	CodeFunctionLimit       = "FUNCTION_LIMIT"        // 409: the database has as many functions (or bytes of them) as it may
)

// FunctionError is a function that could not be deployed or run: its
// code, the HTTP status that code is answered with, and a message that
// says why (a trap's message, the import refused). Nothing of the
// invocation was committed.
type FunctionError struct {
	Status  int
	Code    string
	Message string
}

func (e *FunctionError) Error() string { return e.Message }

// FunctionInfo describes a deployed function.
type FunctionInfo struct {
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	SHA256  string    `json:"sha256"`
	Created time.Time `json:"created"`
	// Exports are the module's exported functions, sorted.
	Exports []string `json:"exports"`
	// SQLFunction, when set, also makes the module a scalar SQL function
	// of its database.
	SQLFunction *SQLFunction `json:"sql_function,omitempty"`
}

// SQLFunction registers a function's module as an SQLite scalar
// function of its database.
type SQLFunction struct {
	Name          string `json:"name"`
	Args          int    `json:"args"`
	Deterministic bool   `json:"deterministic"`
	// Function is the deployed function's name (in lists of a
	// database's SQL functions only).
	Function string `json:"-"`
}

// FunctionAnswer is what an invocation answers: the status the function
// returned, its content type and its bytes.
type FunctionAnswer struct {
	Status      int
	ContentType string
	Body        []byte
}
