package gateway

import (
	"context"
	"crypto/sha256"

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
	// Claim marks k in progress on db (spawn's weaker form: no record).
	Claim(db string, k forge.IdempotencyKey) (release func(), err error)
	CreateTableTx(ctx context.Context, tx forge.Tx, spec forge.TableSpec) error
	InsertRowsTx(ctx context.Context, tx forge.Tx, table string, rows []forge.Record) (int64, error)
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
	h := sha256.New()
	h.Write(rc.Method())
	h.Write([]byte{'\n'})
	h.Write(rc.Path())
	h.Write([]byte{'\n'})
	h.Write(rc.PostBody())
	k := forge.IdempotencyKey{Scope: st.keyID, Key: string(v)}
	h.Sum(k.Hash[:0])
	return k, nil
}

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
	a, replayed, err := s.opts.Idempotency.Do(ctx, db, k, func(tx forge.Tx) (forge.Answer, error) {
		ans, record, err := work(tx)
		if err != nil {
			return recordedError(err), err
		}
		out = ans
		if !record {
			return forge.Answer{}, nil
		}
		return ans, nil
	})
	if err != nil {
		return err
	}
	if replayed {
		rc.Response.Header.Set(headerReplayed, "true")
		out = a
	}
	rc.SetStatusCode(out.Status)
	rc.SetContentType(out.ContentType)
	rc.SetBody(out.Body)
	return nil
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

func (s *Server) queryOnce(ctx context.Context, rc *fasthttp.RequestCtx, req queryRequest) error {
	enc := getEncoder()
	defer putEncoder(enc)
	enc.limit = s.opts.MaxResponseBytes
	return s.once(ctx, rc, req.db, req.idem, func(tx forge.Tx) (forge.Answer, bool, error) {
		info, err := tx.Describe(ctx, req.stmt.SQL)
		if err != nil {
			return forge.Answer{}, false, err
		}
		res, err := tx.Run(ctx, req.stmt, enc)
		if err != nil {
			return forge.Answer{}, false, err
		}
		return jsonAnswer(fasthttp.StatusOK, enc.finish(res)), !info.ReadOnly, nil
	})
}

func (s *Server) createTableOnce(ctx context.Context, rc *fasthttp.RequestCtx, req tableRequest) error {
	return s.once(ctx, rc, req.db, req.idem, func(tx forge.Tx) (forge.Answer, bool, error) {
		if err := s.opts.Idempotency.CreateTableTx(ctx, tx, req.spec); err != nil {
			return forge.Answer{}, false, err
		}
		return jsonAnswer(fasthttp.StatusCreated, createdTableBody(req.spec.Name)), true, nil
	})
}

func (s *Server) insertRowsOnce(ctx context.Context, rc *fasthttp.RequestCtx, req insertRequest) error {
	return s.once(ctx, rc, req.db, req.idem, func(tx forge.Tx) (forge.Answer, bool, error) {
		n, err := s.opts.Idempotency.InsertRowsTx(ctx, tx, req.table, req.rows)
		if err != nil {
			return forge.Answer{}, false, err
		}
		return jsonAnswer(fasthttp.StatusCreated, insertedBody(n)), true, nil
	})
}

// idempotent reports whether a request runs under its Idempotency-Key.
func (s *Server) idempotent(k forge.IdempotencyKey) bool {
	return k.Key != "" && s.opts.Idempotency != nil
}
