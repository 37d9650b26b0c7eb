package gateway

import (
	"context"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/auth"
	"github.com/praetorian/db-forge/forge"
)

// Interactive transactions: POST /api/db/{db_name}/transactions opens one
// under a lease, X-Transaction-Id joins the query and batch routes to it,
// .../transactions/{tx_id}/commit and /rollback end it. The logic is
// package txn's (and the engine's), behind the Transactions port; here
// are the bodies, the header and the handlers.

// Transactions keeps the interactive transactions (package txn's
// *Registry, with the batch logic wired in by internal/app). owner is the
// id of the key that opened the transaction ("" without authentication):
// another key's transaction is not found.
type Transactions interface {
	// Begin opens a transaction on db with a lease of timeout (0: the
	// configured default) and returns its id and when the lease runs out;
	// readOnly: a read-only one, on a snapshot, without the writer.
	Begin(ctx context.Context, db, owner string, timeout time.Duration, readOnly bool) (id string, expires time.Time, err error)
	Commit(ctx context.Context, db, owner, id string) error
	Rollback(ctx context.Context, db, owner, id string) error
	// Query and Batch run in the transaction, and renew its lease.
	Query(ctx context.Context, db, owner, id string, q forge.Statement, w forge.RowWriter) (forge.Result, error)
	Batch(ctx context.Context, db, owner, id string, b forge.Batch, out forge.BatchOutput) error
}

// headerTransaction joins a query or a batch to an open transaction.
const headerTransaction = "X-Transaction-Id"

func hasTransactions(s *Server) bool { return s.opts.Transactions != nil }

// transactionID is the request's X-Transaction-Id ("" = none), copied:
// fasthttp reuses the header's bytes.
func transactionID(rc *fasthttp.RequestCtx) string {
	return string(peekHeader(rc, keyTransaction))
}

// errNoTransactions: X-Transaction-Id sent to a gateway without
// transactions; no id can be found.
var errNoTransactions = forge.ErrTxNotFound

// maxTransactionTimeout bounds "timeout" in the decoder, before the
// configured maximum (FORGE_TX_MAX_TIMEOUT) is applied: a day.
const maxTransactionTimeout = 24 * 3600

// decodeTransaction decodes the body of POST .../transactions:
// {"timeout": <seconds>} (a positive number, fractions allowed) or null
// or an empty body for the default.
func decodeTransaction(body []byte) (time.Duration, error) {
	d, _, err := decodeBegin(body)
	return d, err
}

// decodeBegin decodes the body of POST .../transactions with "read_only"
// (a boolean, default false) beside "timeout".
func decodeBegin(body []byte) (d time.Duration, readOnly bool, err error) {
	if len(body) == 0 {
		return 0, false, nil
	}
	v, err := parseBody(body)
	if err != nil {
		return 0, false, err
	}
	for _, m := range v.obj {
		switch m.key {
		case "read_only":
			if m.val.kind != jBool {
				return 0, false, invalidShape("Field \"read_only\" must be a boolean, not %s.", m.val.kind)
			}
			readOnly = m.val.b
		case "timeout":
			switch m.val.kind {
			case jNull:
				d = 0
			case jNumber:
				secs, err := strconv.ParseFloat(m.val.s, 64)
				if err != nil || math.IsNaN(secs) || secs <= 0 || secs > maxTransactionTimeout {
					return 0, false, invalidValue("Field \"timeout\" must be a number of seconds above 0, not %s.", m.val.s)
				}
				d = max(time.Duration(secs*float64(time.Second)), time.Millisecond)
			default:
				return 0, false, invalidShape("Field \"timeout\" must be a number of seconds, not %s.", m.val.kind)
			}
		default:
			return 0, false, unknownField("the transaction body", m.key)
		}
	}
	return d, readOnly, nil
}

// beginRequest: POST /api/db/{db_name}/transactions.
type beginRequest struct {
	db       string
	timeout  time.Duration
	readOnly bool
}

func bindBegin(rc *fasthttp.RequestCtx) (beginRequest, error) {
	db, err := dbName(rc)
	if err != nil {
		return beginRequest{}, err
	}
	d, ro, err := decodeBegin(rc.PostBody())
	return beginRequest{db: db, timeout: d, readOnly: ro}, err
}

// txRequest: POST /api/db/{db_name}/transactions/{tx_id}/commit, /rollback.
type txRequest struct{ db, id string }

func bindTx(rc *fasthttp.RequestCtx) (txRequest, error) {
	db, err := dbName(rc)
	id, _ := rc.UserValue("tx_id").(string)
	return txRequest{db: db, id: id}, err
}

// beginTransaction: 201 {"transaction_id": "...", "expires_at": "..."}.
// A read-only key may open a read-only transaction only (the route lets
// every key of the database in: docs/API.md).
func (s *Server) beginTransaction(ctx context.Context, rc *fasthttp.RequestCtx, req beginRequest) error {
	if !req.readOnly && readOnly(rc) {
		return auth.ErrReadOnly
	}
	id, expires, err := s.opts.Transactions.Begin(ctx, req.db, state(rc).keyID, req.timeout, req.readOnly)
	if err != nil {
		return err
	}
	b := append([]byte(`{"transaction_id":`), appendString(nil, id)...)
	b = append(b, `,"expires_at":"`...)
	b = expires.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	writeJSON(rc, fasthttp.StatusCreated, append(b, `"}`...))
	return nil
}

func (s *Server) commitTransaction(ctx context.Context, rc *fasthttp.RequestCtx, req txRequest) error {
	if err := s.opts.Transactions.Commit(ctx, req.db, state(rc).keyID, req.id); err != nil {
		return err
	}
	writeJSON(rc, fasthttp.StatusOK, messageBody("Transaction committed.", "transaction_id", req.id))
	return nil
}

func (s *Server) rollbackTransaction(ctx context.Context, rc *fasthttp.RequestCtx, req txRequest) error {
	if err := s.opts.Transactions.Rollback(ctx, req.db, state(rc).keyID, req.id); err != nil {
		return err
	}
	writeJSON(rc, fasthttp.StatusOK, messageBody("Transaction rolled back.", "transaction_id", req.id))
	return nil
}

// queryIn runs the query route's statement in transaction id, with its
// result options (streamed, an uncapped NDJSON, CSV or Markdown answer
// holds the transaction's connection while the client reads, within the
// request's deadline, as any streamed answer holds its own).
func (s *Server) queryIn(ctx context.Context, rc *fasthttp.RequestCtx, req queryRequest, id string) error {
	if s.opts.Transactions == nil {
		return errNoTransactions
	}
	owner := state(rc).keyID
	return s.writeResult(ctx, rc, req.opt.result, true, func(ctx context.Context, w forge.RowWriter) (forge.Result, error) {
		return s.opts.Transactions.Query(ctx, req.db, owner, id, req.stmt, w)
	})
}

// batchIn runs the batch route's statements in transaction id.
func (s *Server) batchIn(ctx context.Context, rc *fasthttp.RequestCtx, req batchRequest, id string) error {
	if s.opts.Transactions == nil {
		return errNoTransactions
	}
	out := batchOutput{limit: s.opts.MaxResponseBytes, opts: req.opts}
	out.enc = getEncoder()
	defer putEncoder(out.enc)
	if err := s.opts.Transactions.Batch(ctx, req.db, state(rc).keyID, id, req.batch, &out); err != nil {
		return err
	}
	writeJSON(rc, fasthttp.StatusOK, out.finish(req.batch.DryRun))
	return nil
}

// txAborted is 409 TRANSACTION_ABORTED for err (wrapping
// forge.ErrTxAborted): the transaction is gone, and the detail says what
// ended it, as that error alone would have been answered.
func txAborted(err error) *apiError {
	ae := &apiError{status: fasthttp.StatusConflict, code: CodeTransactionAborted,
		detail: "The transaction was rolled back; nothing of it was committed."}
	if cause := abortCause(err); cause != nil {
		c := toAPIError(cause)
		ae.detail = "The transaction was rolled back; nothing of it was committed. What ended it: " + c.detail
		ae.sqliteCode = c.sqliteCode
	}
	return ae
}

// abortCause finds what err says ended the transaction: the error joined
// to forge.ErrTxAborted (fmt.Errorf("%w: %w", forge.ErrTxAborted, cause)).
func abortCause(err error) error {
	for err != nil && err != forge.ErrTxAborted {
		j, ok := err.(interface{ Unwrap() []error })
		if !ok {
			err = errors.Unwrap(err)
			continue
		}
		var next error
		for _, e := range j.Unwrap() {
			if !errors.Is(e, forge.ErrTxAborted) {
				return e
			}
			next = e
		}
		err = next
	}
	return nil
}
