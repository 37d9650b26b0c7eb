package gateway

import (
	"strings"
	"sync"

	"github.com/praetorian/db-forge/forge"
)

// fastBatch decodes the batch body agents send most — {"statements":
// [{"sql": "...", "params": [scalars]}, ...], "transaction": bool,
// "dry_run": bool}, keys in any order, params optional or null — in one
// pass, without the strict reader's tree, as fastQuery does for /query.
// It answers false on anything else (named params, an escape in a
// string, "max_changes", a duplicate or unknown key, any syntax error);
// decodeBatch then runs the strict reader, the one source of error
// messages. What it accepts it decodes exactly as the strict reader does
// (FuzzFastBatchAgrees).
//
// It allocates little whatever the batch's length: the body is copied
// once into a string of which every SQL text and text value is a piece
// (a statement the engine caches copies its text: conn.prepare), an SQL
// text equal to the statement before's is that string again, and the
// parameters of all statements share one slice.
func fastBatch(b []byte, bufs *batchBufs) (forge.Batch, bool) {
	out := forge.Batch{MaxChanges: defaultMaxChanges}
	if bufs == nil {
		bufs = &batchBufs{}
	}
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return out, false
	}
	src := string(b)
	i = skipWS(b, i+1)
	haveStmts, haveTx, haveDry := false, false, false
	for {
		key, j, ok := memberKey(b, i)
		if !ok {
			return out, false
		}
		i = j
		switch string(key) {
		case "statements":
			if haveStmts {
				return out, false
			}
			haveStmts = true
			if out.Statements, i, ok = fastStatements(b, src, i, bufs); !ok {
				return out, false
			}
		case "transaction":
			var tx bool
			if haveTx {
				return out, false
			}
			haveTx = true
			if tx, i, ok = boolLiteral(b, i); !ok {
				return out, false
			}
			out.Separate = !tx
		case "dry_run":
			if haveDry {
				return out, false
			}
			haveDry = true
			if out.DryRun, i, ok = boolLiteral(b, i); !ok {
				return out, false
			}
		default:
			return out, false
		}
		j, more, ok := afterValue(b, i, '}')
		if !ok {
			return out, false
		}
		i = j
		if !more {
			i = skipWS(b, i)
			break
		}
	}
	if i != len(b) || len(out.Statements) == 0 {
		return out, false
	}
	return out, true
}

func boolLiteral(b []byte, i int) (v bool, j int, ok bool) {
	switch {
	case i+4 <= len(b) && string(b[i:i+4]) == "true":
		return true, i + 4, true
	case i+5 <= len(b) && string(b[i:i+5]) == "false":
		return false, i + 5, true
	}
	return false, i, false
}

// fastStatements reads the array of statements at b[i]; src is b as a
// string.
func fastStatements(b []byte, src string, i int, bufs *batchBufs) ([]forge.Statement, int, bool) {
	if i >= len(b) || b[i] != '[' {
		return nil, i, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return nil, i + 1, false // empty: the strict reader's error
	}
	if bufs.stmts == nil {
		// Statements are ~50 bytes of body at least: a first guess.
		bufs.stmts = make([]forge.Statement, 0, min(len(b)/50+1, 1024))
	}
	stmts := bufs.stmts[:0]
	var prev string
	for {
		q, j, ok := fastStatement(b, src, i, prev, &bufs.vals)
		if !ok {
			return nil, j, false
		}
		prev = q.SQL
		stmts = append(stmts, q)
		var more bool
		if i, more, ok = afterValue(b, j, ']'); !ok {
			return nil, i, false
		}
		if !more {
			bufs.stmts = stmts
			return stmts, i, true
		}
	}
}

// fastStatement reads one {"sql": "...", "params": [scalars] | null} at
// b[i]. An SQL text equal to prev is prev; parameters are appended to
// *slab and the statement's are a piece of it.
func fastStatement(b []byte, src string, i int, prev string, slab *[]forge.Value) (forge.Statement, int, bool) {
	var q forge.Statement
	if i >= len(b) || b[i] != '{' {
		return q, i, false
	}
	i = skipWS(b, i+1)
	haveSQL, haveParams := false, false
	for {
		key, j, ok := memberKey(b, i)
		if !ok {
			return q, j, false
		}
		i = j
		switch string(key) {
		case "sql":
			if haveSQL {
				return q, i, false
			}
			if j := i + 1 + len(prev); prev != "" && j < len(b) && b[j] == '"' && b[i] == '"' && string(b[i+1:j]) == prev {
				// The text of the statement before (the rows of an
				// insert): it was read as a plain string already, so
				// this one is one too, and needs no scan.
				q.SQL, haveSQL, i = prev, true, j+1
				break
			}
			_, j, ok := plainString(b, i)
			if !ok {
				return q, i, false
			}
			q.SQL, haveSQL, i = src[i+1:j-1], true, j
		case "params":
			if haveParams {
				return q, i, false
			}
			haveParams = true
			if i+4 <= len(b) && string(b[i:i+4]) == "null" {
				i += 4
				break
			}
			start := len(*slab)
			if *slab, i, ok = appendScalars(*slab, b, src, i); !ok {
				return q, i, false
			}
			// A piece that cannot grow into the next statement's.
			q.Params.Positional = (*slab)[start:len(*slab):len(*slab)]
		default:
			return q, i, false
		}
		j, more, ok := afterValue(b, i, '}')
		if !ok {
			return q, j, false
		}
		i = j
		if !more {
			break
		}
	}
	if !haveSQL || strings.TrimSpace(q.SQL) == "" {
		return q, i, false
	}
	return q, i, true
}

// appendScalars appends the values of the array at b[i] to vals, as
// scalarArray reads them; text values are pieces of src.
func appendScalars(vals []forge.Value, b []byte, src string, i int) ([]forge.Value, int, bool) {
	if i >= len(b) || b[i] != '[' {
		return vals, i, false
	}
	start := len(vals)
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		if cap(vals) == start {
			vals = append(vals, forge.Value{})[:start] // params: [] is not null
		}
		return vals, i + 1, true
	}
	for {
		v, text, j, ok := scalarAt(b, i)
		if !ok {
			return vals, i, false
		}
		if text {
			v = forge.TextValue(src[i+1 : j-1])
		}
		if len(vals) == cap(vals) {
			// Grow for the rest of the batch, not one statement.
			vals = append(make([]forge.Value, 0, max(2*cap(vals), 64)), vals...)
		}
		vals = append(vals, v)
		var more bool
		if i, more, ok = afterValue(b, j, ']'); !ok {
			return vals, i, false
		}
		if !more {
			return vals, i, true
		}
	}
}

// batchBufs are the slices a batch's statements and parameters are
// decoded into, reused from request to request (batchBufPool): the
// engine is done with them when the handler returns.
type batchBufs struct {
	stmts []forge.Statement
	vals  []forge.Value
}

var batchBufPool = sync.Pool{New: func() any { return new(batchBufs) }}

// release clears what the buffers point to (the body, its strings) and
// returns them to the pool, unless a one-off huge batch grew them.
func (bb *batchBufs) release() {
	if bb == nil || cap(bb.stmts) > 4096 || cap(bb.vals) > 1<<14 {
		return
	}
	clear(bb.stmts[:cap(bb.stmts)])
	clear(bb.vals[:cap(bb.vals)])
	bb.stmts, bb.vals = bb.stmts[:0], bb.vals[:0]
	batchBufPool.Put(bb)
}
