package forge

import "errors"

// ReservedPrefix starts the name of every table the engine keeps for its
// own bookkeeping inside a client's database (the idempotency records).
// Client SQL may neither read nor write such tables (the sandbox refuses
// it), and a listing of a database's tables leaves them out by this
// prefix, compared without regard to case as SQLite compares names.
const ReservedPrefix = "_forge_"

// IsReserved reports whether name is a bookkeeping table's name.
func IsReserved(name string) bool {
	return len(name) >= len(ReservedPrefix) && equalFoldASCII(name[:len(ReservedPrefix)], ReservedPrefix)
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// IdempotencyKey names one idempotent request: the client's key within
// its scope (the API key's id; "" without authentication), and the
// SHA-256 of the request it was first used with.
type IdempotencyKey struct {
	Scope string
	Key   string
	Hash  [32]byte
}

// Answer is a completed answer as the client got it, recorded so that a
// retry with the same key gets it again.
type Answer struct {
	Status      int
	ContentType string
	Body        []byte
}

// Errors of idempotent requests.
var (
	// ErrIdempotencyInProgress: a request with the same key is still
	// being answered.
	ErrIdempotencyInProgress = errors.New("a request with this idempotency key is in progress")
	// ErrIdempotencyKeyReused: the key was first used with another
	// request.
	ErrIdempotencyKeyReused = errors.New("idempotency key reused with a different request")
)
