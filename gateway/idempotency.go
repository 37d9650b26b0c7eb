package gateway

import (
	"context"
	"crypto/sha256"
	"errors"
	"hash"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/forge"
)

// Idempotent retries (docs/API.md#idempotent-retries). A write route's
// request with an Idempotency-Key runs, with the record of its answer, in
// one write unit (the Idempotency port); a retry with the same key and
// the same request gets the recorded answer with Idempotent-Replayed:
// true. Without the header a route takes its usual path, unchanged.

// Headers of idempotent requests.
const (
	headerIdempotencyKey = "Idempotency-Key"
	headerReplayed       = "Idempotent-Replayed"
	// maxIdempotencyKey is the longest key accepted, in bytes.
	maxIdempotencyKey = 255
)

// Idempotency runs writes under idempotency keys (package idem's Service),
// and the rows and tables routes' work on the unit it holds (package
// tables' Service).
type Idempotency interface {
	// Do runs fn in one write unit of db with the record of the answer
	// it returns, or replays the answer recorded for k (replayed).
	Do(ctx context.Context, db string, k forge.IdempotencyKey,
		fn func(forge.Tx) (forge.Answer, error)) (a forge.Answer, replayed bool, err error)
	// DoRead is Do for a request that may only read: read runs first on
	// a read unit, after the look-up of k's record (or on its own, Tx
	// nil, when k has none), and records nothing; when it answers
	// forge.ErrReadOnly, write runs as Do's fn.
	DoRead(ctx context.Context, db string, k forge.IdempotencyKey,
		read, write func(forge.Tx) (forge.Answer, error)) (a forge.Answer, replayed bool, err error)
	// Claim marks k in progress on db (spawn's weaker form: no record).
	Claim(db string, k forge.IdempotencyKey) (release func(), err error)
	CreateTableTx(ctx context.Context, tx forge.Tx, spec forge.TableSpec) error
	// BatchTx runs a batch in one transaction on tx (package batch's
	// InTx).
	BatchTx(ctx context.Context, tx forge.Tx, b forge.Batch, out forge.BatchOutput) error
	InsertRowsTx(ctx context.Context, tx forge.Tx, table string, rows []forge.Record) (int64, error)
	// InsertRowsWithTx is InsertRowsTx with an upsert and returned rows.
	InsertRowsWithTx(ctx context.Context, tx forge.Tx, table string, rows []forge.Record, opt forge.InsertOptions, w forge.RowWriter) (int64, error)
}

// bindIdempotency reads the request's Idempotency-Key: the zero key when
// there is none, when the server has no Idempotency port, or when the
// request's key may only read (it cannot write, so there is nothing to
// record). The request hash covers the method, the path and the body;
// headers (X-Query-Timeout among them) are not part of the request.
func bindIdempotency(rc *fasthttp.RequestCtx) (forge.IdempotencyKey, error) {
	v := peekHeader(rc, keyIdempotencyKey)
	if v == nil {
		return forge.IdempotencyKey{}, nil
	}
	if len(v) == 0 || len(v) > maxIdempotencyKey {
		return forge.IdempotencyKey{}, errBadIdempotencyKey
	}
	for _, c := range v {
		if c < 0x21 || c > 0x7e {
			return forge.IdempotencyKey{}, errBadIdempotencyKey
		}
	}
	st := state(rc)
	if st.readOnly {
		return forge.IdempotencyKey{}, nil
	}
	h := hashers.Get().(hash.Hash)
	h.Reset()
	h.Write(rc.Method())
	h.Write([]byte{'\n'})
	h.Write(rc.Path())
	h.Write([]byte{'\n'})
	h.Write(rc.PostBody())
	k := forge.IdempotencyKey{Scope: st.keyID, Key: string(v)}
	h.Sum(k.Hash[:0])
	hashers.Put(h)
	return k, nil
}

// hashers are SHA-256 states for the request hash (one allocation less
// per keyed request).
var hashers = sync.Pool{New: func() any { return sha256.New() }}

// errBadIdempotencyKey: the header is empty, too long, or not visible
// ASCII.
var errBadIdempotencyKey = newError(fasthttp.StatusBadRequest, CodeInvalidIdempotencyKey,
	"Idempotency-Key must be 1 to 255 visible ASCII characters (no spaces).")

// once answers a write route's request under k: work runs in the unit of
// the record and returns the answer and whether to record it (false: it
// only read). A failed work's error is answered as usual; when that
// answer is a completed one (recordable), it is recorded too.
func (s *Server) once(ctx context.Context, rc *fasthttp.RequestCtx, db string, k forge.IdempotencyKey,
	work func(tx forge.Tx) (a forge.Answer, record bool, err error),
) error {
	var out forge.Answer
	a, replayed, err := s.opts.Idempotency.Do(ctx, db, k, recordWork(work, &out))
	if err != nil {
		return err
	}
	return answerOnce(rc, a, replayed, out)
}

// recordWork adapts a route's work to the record's unit: out is the
// work's answer, recorded or not. A failure is recorded (when its answer
// is a completed one) unless the work says not to record (a read).
func recordWork(work func(tx forge.Tx) (a forge.Answer, record bool, err error), out *forge.Answer) func(forge.Tx) (forge.Answer, error) {
	return func(tx forge.Tx) (forge.Answer, error) {
		ans, record, err := work(tx)
		if err != nil {
			if !record {
				return forge.Answer{}, err
			}
			return recordedError(err), err
		}
		*out = ans
		if !record {
			return forge.Answer{}, nil
		}
		return ans, nil
	}
}

// answerOnce writes the answer of an idempotent request: a replayed
// record's, or the work's own (out).
func answerOnce(rc *fasthttp.RequestCtx, a forge.Answer, replayed bool, out forge.Answer) error {
	if replayed {
		rc.Response.Header.Set(headerReplayed, "true")
		out = a
	}
	rc.SetStatusCode(out.Status)
	rc.SetContentType(out.ContentType)
	rc.SetBody(out.Body)
	return nil
}

// readsFirst tells, from its first keyword (after spaces and comments), a
// statement that probably only reads (SELECT, VALUES, WITH), so that a
// keyed write does not pay a read unit first. It only routes: what runs
// as a read is what SQLite prepares as read-only (a WITH … INSERT goes on
// to the write unit), and a read it misses runs in the write unit,
// recording nothing, as before.
func readsFirst(sql string) bool {
	switch w := forge.LeadingWord(sql); {
	case strings.EqualFold(w, "SELECT"), strings.EqualFold(w, "VALUES"), strings.EqualFold(w, "WITH"):
		return true
	}
	return false
}

// writesSurely tells, from its first keyword, a statement that SQLite
// never prepares as read-only (INSERT, UPDATE, DELETE, REPLACE), so that
// its keyed write unit need not Describe it first: it is recorded, as
// one that Describe said writes, and a text that does not prepare fails
// in Run with the error Describe would have given, recorded the same.
func writesSurely(sql string) bool {
	switch w := forge.LeadingWord(sql); {
	case strings.EqualFold(w, "INSERT"), strings.EqualFold(w, "UPDATE"),
		strings.EqualFold(w, "DELETE"), strings.EqualFold(w, "REPLACE"):
		return true
	}
	return false
}

// jsonAnswer is a JSON answer to record.
func jsonAnswer(status int, body []byte) forge.Answer {
	return forge.Answer{Status: status, ContentType: "application/json", Body: body}
}

// recordedError is the answer to record for a failed request: its error
// answer when that says what the database holds (the statement's own
// error, a table or column that is not there), else the zero Answer (a
// timeout, a busy or full database, a fault: a retry must run again).
func recordedError(err error) forge.Answer {
	ae := toAPIError(err)
	switch ae.status {
	case fasthttp.StatusBadRequest, fasthttp.StatusForbidden, fasthttp.StatusNotFound, fasthttp.StatusUnprocessableEntity:
	default:
		return forge.Answer{}
	}
	switch ae.code {
	case CodeDatabaseNotFound, CodeOutOfMemory, CodeReadOnlyKey:
		return forge.Answer{}
	}
	return jsonAnswer(ae.status, errorBody(ae))
}

// The write routes under a key: the same work as their usual handlers, on
// the unit of the record.

// queryOnce: a statement that SQLite prepares as read-only records
// nothing, success or failure (a read has nothing to repeat): one that
// starts like a read is answered from a read unit, beside the writes (or
// as a plain read when its key is known to have no record); any other
// runs in a write unit with its record.
func (s *Server) queryOnce(ctx context.Context, rc *fasthttp.RequestCtx, req queryRequest) error {
	enc := getEncoder()
	defer putEncoder(enc)
	var out forge.Answer
	dml := writesSurely(req.stmt.SQL)
	write := recordWork(func(tx forge.Tx) (forge.Answer, bool, error) {
		info := forge.StatementInfo{}
		if !dml { // an INSERT, UPDATE, DELETE or REPLACE never reads only
			var err error
			if info, err = tx.Describe(ctx, req.stmt.SQL); err != nil {
				return forge.Answer{}, true, err
			}
		}
		enc.reset(s.opts.MaxResponseBytes) // a unit may run more than once
		res, err := tx.Run(ctx, req.stmt, enc)
		if err != nil {
			return forge.Answer{}, !info.ReadOnly, err
		}
		return encodedAnswer(enc, res), !info.ReadOnly, nil
	}, &out)
	var a forge.Answer
	var replayed bool
	var err error
	if readsFirst(req.stmt.SQL) {
		a, replayed, err = s.opts.Idempotency.DoRead(ctx, req.db, req.idem, s.readOnce(ctx, req, enc), write)
	} else {
		a, replayed, err = s.opts.Idempotency.Do(ctx, req.db, req.idem, write)
	}
	if err != nil {
		return err
	}
	if !replayed && out.Status == 0 {
		out = a // answered by the read
	}
	return answerOnce(rc, a, replayed, out)
}

// encodedAnswer is the answer of a statement whose rows enc holds.
func encodedAnswer(enc *rowsEncoder, res forge.Result) forge.Answer {
	return jsonAnswer(fasthttp.StatusOK, appendMeta(enc.finish(res), res.Meta))
}

// readOnce is queryOnce's read (made only for a statement that starts
// like one: a closure less for a keyed write).
func (s *Server) readOnce(ctx context.Context, req queryRequest, enc *rowsEncoder) func(forge.Tx) (forge.Answer, error) {
	answer := func(res forge.Result) forge.Answer { return encodedAnswer(enc, res) }
	return func(tx forge.Tx) (forge.Answer, error) {
		enc.reset(s.opts.MaxResponseBytes)
		if tx == nil { // no record to look for: a plain read
			q := req.stmt
			q.ReadOnly = true
			res, err := s.engine.Query(ctx, req.db, q, enc)
			switch {
			case err == nil:
				return answer(res), nil
			case errors.Is(err, forge.ErrTimeout), errors.Is(err, forge.ErrCanceled),
				errors.Is(err, forge.ErrBusy), errors.Is(err, forge.ErrDatabaseNotFound):
				return forge.Answer{}, err // never recorded, on any path
			}
			// A write, or a statement's failure that the write unit tells
			// apart (one that does not prepare is recorded, a read's is
			// not): the write unit's turn.
			return forge.Answer{}, forge.ErrReadOnly
		}
		info, err := tx.Describe(ctx, req.stmt.SQL)
		if err != nil || !info.ReadOnly {
			return forge.Answer{}, forge.ErrReadOnly // the write unit's turn, as above
		}
		res, err := tx.Run(ctx, req.stmt, enc)
		if err != nil {
			return forge.Answer{}, err
		}
		return answer(res), nil
	}
}

func (s *Server) createTableOnce(ctx context.Context, rc *fasthttp.RequestCtx, req tableRequest) error {
	return s.once(ctx, rc, req.db, req.idem, func(tx forge.Tx) (forge.Answer, bool, error) {
		if err := s.opts.Idempotency.CreateTableTx(ctx, tx, req.spec); err != nil {
			return forge.Answer{}, true, err
		}
		return jsonAnswer(fasthttp.StatusCreated, createdTableBody(req.spec.Name)), true, nil
	})
}

func (s *Server) insertRowsOnce(ctx context.Context, rc *fasthttp.RequestCtx, req insertRequest) error {
	if insertOptionsSet(req.opt) {
		enc := getEncoder()
		defer putEncoder(enc)
		enc.limit = s.opts.MaxResponseBytes
		var w forge.RowWriter
		if req.opt.Return {
			w = enc
		}
		return s.once(ctx, rc, req.db, req.idem, func(tx forge.Tx) (forge.Answer, bool, error) {
			n, err := s.opts.Idempotency.InsertRowsWithTx(ctx, tx, req.table, req.rows, req.opt, w)
			if err != nil {
				return forge.Answer{}, false, err
			}
			return jsonAnswer(fasthttp.StatusCreated, insertedWithBody(n, req.opt, enc)), true, nil
		})
	}
	return s.once(ctx, rc, req.db, req.idem, func(tx forge.Tx) (forge.Answer, bool, error) {
		n, err := s.opts.Idempotency.InsertRowsTx(ctx, tx, req.table, req.rows)
		if err != nil {
			return forge.Answer{}, true, err
		}
		return jsonAnswer(fasthttp.StatusCreated, insertedBody(n)), true, nil
	})
}

// batchOnce runs a batch under its key: in one transaction with the
// record of its answer, the whole batch's (its results, or the error of
// the statement that failed, which is recorded as a /query's is). A batch
// whose statements SQLite all prepares as read-only records nothing, as
// a read on /query. A batch of separate statements ("transaction": false)
// or a dry run takes no key: there is no one transaction for the record
// to commit with (docs/API.md).
func (s *Server) batchOnce(ctx context.Context, rc *fasthttp.RequestCtx, req batchRequest) error {
	if req.batch.Separate {
		return invalidValue(`A batch with "transaction": false commits each statement on its own, so no one record can answer for it: leave out the Idempotency-Key, or run the batch in one transaction.`)
	}
	if req.batch.DryRun {
		return invalidValue("A dry run records nothing: leave out the Idempotency-Key.")
	}
	out := batchOutput{limit: s.opts.MaxResponseBytes, opts: req.opts}
	out.enc = getEncoder()
	defer putEncoder(out.enc)
	return s.once(ctx, rc, req.db, req.idem, func(tx forge.Tx) (forge.Answer, bool, error) {
		writes := false
		for _, q := range req.batch.Statements {
			info, err := tx.Describe(ctx, q.SQL)
			if err != nil || !info.ReadOnly {
				writes = true // or cannot tell: the batch's run says
				break
			}
		}
		if err := s.opts.Idempotency.BatchTx(ctx, tx, req.batch, &out); err != nil {
			return forge.Answer{}, writes, err
		}
		body := out.finish(false)
		if out.limit > 0 && len(body) > out.limit {
			return forge.Answer{}, false, &responseTooLargeError{limit: out.limit}
		}
		return jsonAnswer(fasthttp.StatusOK, body), writes, nil
	})
}

// idempotent reports whether a request runs under its Idempotency-Key.
func (s *Server) idempotent(k forge.IdempotencyKey) bool {
	return k.Key != "" && s.opts.Idempotency != nil
}

// reset empties e for another run of the same statement (a unit of work
// may be called again after its first call was rolled back), with the
// response cap limit.
func (e *rowsEncoder) reset(limit int) {
	e.buf = e.buf[:0]
	e.rows = 0
	e.limit = limit
	e.truncated = false
}
