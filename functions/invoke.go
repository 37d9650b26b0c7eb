package functions

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/praetorian/db-forge/forge"
)

// invocation is one call's state, reached by the host functions through
// the call's context.
type invocation struct {
	s        *Service
	f        *function
	ctx      context.Context
	request  []byte
	readOnly bool

	contentType string
	out         []byte
	logged      int
	errTail     []byte // the end of what the module wrote to stderr
	calls       int
	pending     []byte // the last statement's result, for result_read
	fault       error  // a fault the host found (bad pointer, output cap)

	tx          forge.Tx // the call's unit of work (a module that imports query)
	optimistic  bool     // a read unit for a call that may write: a write ends the attempt
	needWrite   bool     // it did
	enginePanic any      // a panic of the engine inside a statement, raised again in the unit
}

type invKey struct{}

func invocationOf(ctx context.Context) *invocation {
	inv, _ := ctx.Value(invKey{}).(*invocation)
	return inv
}

// reset starts a call's outputs afresh (a unit may run its callback
// again: wasm.Engine.Write's full-volume retry).
func (inv *invocation) reset() {
	inv.contentType, inv.out, inv.calls, inv.pending, inv.fault, inv.enginePanic = "", inv.out[:0], 0, inv.pending[:0], nil, nil
}

// stderr keeps the end of what the module wrote (a panic's message) and
// logs it within the call's log bytes.
func (inv *invocation) stderr(p []byte) {
	inv.errTail = append(inv.errTail, p...)
	if n := len(inv.errTail); n > 512 {
		inv.errTail = append(inv.errTail[:0], inv.errTail[n-512:]...)
	}
	inv.logLine(p)
}

func (inv *invocation) logLine(p []byte) {
	room := inv.s.cfg.MaxLogBytes - inv.logged
	if room <= 0 {
		return
	}
	if len(p) > room {
		p = p[:room]
	}
	inv.logged += len(p)
	inv.s.log.Info("function log", zap.String("db", inv.f.db), zap.String("function", inv.f.name), zap.ByteString("line", p))
}

// Invoke calls function name of database db with the request body: its
// SQL in one transaction (a read unit when readOnly), committed when it
// answers a success (2xx) and rolled back otherwise. An answer of the
// function's own error (4xx, 5xx) is an answer, not an error.
func (s *Service) Invoke(ctx context.Context, db, name string, body []byte, readOnly bool) (forge.FunctionAnswer, error) {
	start := time.Now()
	ans, err := s.call(ctx, db, name, body, readOnly, false)
	if s.obs != nil {
		s.obs(db, name, codeOf(ans, err), time.Since(start))
	}
	return ans, err
}

// codeOf is a call's outcome for the observer: "" for a success.
func codeOf(ans forge.FunctionAnswer, err error) string {
	if err != nil {
		var fe *forge.FunctionError
		if errors.As(err, &fe) {
			return fe.Code
		}
		return "ERROR"
	}
	if ans.Status >= 400 {
		return "FUNCTION_ERROR"
	}
	return ""
}

// errRollback ends a call's unit of work without committing.
var errRollback = errors.New("function: roll back")

// call runs a call; scalar: an SQL function's, inside a statement, with
// no unit of work of its own (its module cannot run SQL).
func (s *Service) call(ctx context.Context, db, name string, body []byte, readOnly, scalar bool) (forge.FunctionAnswer, error) {
	if err := forge.ValidateName(db); err != nil {
		return forge.FunctionAnswer{}, err
	}
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	f, err := s.lookup(ctx, db, name)
	if err != nil {
		return forge.FunctionAnswer{}, err
	}
	inv := &invocation{s: s, f: f, request: body, readOnly: readOnly}
	inv.ctx = context.WithValue(ctx, invKey{}, inv)
	// A call of a function not yet seen writing runs first in a read
	// unit (a snapshot on a reader: calls run side by side); the first
	// statement that would write ends that attempt, and the call runs
	// again from the start in a write unit, as every later call of the
	// function does. A read-only key's call only ever reads.
	write := f.usesSQL && !readOnly && f.writes.Load()
	inv.optimistic = f.usesSQL && !readOnly && !write
	var (
		in      *instance
		status  int
		callErr error
		unitErr error
	)
	for {
		var err error
		if in, err = f.get(ctx); err != nil {
			return forge.FunctionAnswer{}, err
		}
		in.out.inv = inv
		call := func() {
			var res []uint64
			res, callErr = in.handle.Call(inv.ctx)
			if callErr == nil {
				status = int(int32(res[0]))
			}
		}
		if !f.usesSQL || scalar {
			call()
			break
		}
		// The whole call is the unit's callback: its statements run on
		// this goroutine, in the engine's unit, with its fault
		// containment and its commit's truth.
		unit := s.eng.Read
		if write {
			unit = s.eng.Write
		}
		unitErr = unit(ctx, db, func(tx forge.Tx) error {
			inv.reset()
			inv.tx = tx
			defer func() { inv.tx = nil }()
			call()
			if p := inv.enginePanic; p != nil {
				in.out.inv = nil
				f.done(nil)
				in = nil
				panic(p) // the engine's: it discards its instance
			}
			if callErr != nil || !committing(status) {
				return errRollback
			}
			return nil
		})
		if in == nil { // the engine faulted; its error says so
			return forge.FunctionAnswer{}, unitErr
		}
		if !inv.needWrite {
			break
		}
		// The read attempt met a write: again, in a write unit, on a
		// fresh instance (this one was unwound mid-call).
		in.out.inv = nil
		f.done(nil)
		f.writes.Store(true)
		write, inv.optimistic, inv.needWrite, callErr, inv.errTail = true, false, false, nil, nil
	}
	defer func() { in.out.inv = nil }()
	if callErr != nil {
		f.done(nil) // a trap may leave the module's state broken: never reuse it
		return forge.FunctionAnswer{}, classify(ctx, callErr, inv, in.mem, s.rt.limit)
	}
	f.done(in)
	if unitErr != nil && !errors.Is(unitErr, errRollback) {
		return forge.FunctionAnswer{}, unitErr // the unit could not begin, or its COMMIT failed: nothing written
	}
	if !committing(status) && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return forge.FunctionAnswer{}, timeoutError() // its statements met the deadline
	}
	switch {
	case status == 0:
		status = 200
	case status < 200 || (status > 299 && status < 400) || status > 599:
		return forge.FunctionAnswer{}, fnError(500, forge.CodeFunctionTrapped,
			"The function returned status %d; a function answers 2xx (committed) or 4xx-5xx (rolled back).", status)
	}
	ct := inv.contentType
	switch {
	case ct != "":
	case len(inv.out) > 0:
		ct = "application/json"
	default:
		ct = "application/octet-stream"
	}
	return forge.FunctionAnswer{Status: status, ContentType: ct, Body: inv.out}, nil
}

// committing: the statuses whose call commits (0 is 200).
func committing(status int) bool { return status == 0 || (status >= 200 && status <= 299) }

// run runs one statement in the call's unit of work. A panic of the
// engine (a trap of SQLite's instance) is kept to be raised again in the
// unit, past the module (wazero would turn it into the call's error).
func (inv *invocation) run(q forge.Statement, w forge.RowWriter) (forge.Result, error) {
	if inv.tx == nil {
		return forge.Result{}, forge.ErrTxDone
	}
	res, err := inv.runTx(q, w)
	if err != nil && inv.optimistic && errors.Is(err, forge.ErrReadOnly) {
		inv.needWrite = true
		inv.fault = errNeedWrite
		panic(errNeedWrite)
	}
	return res, err
}

func (inv *invocation) runTx(q forge.Statement, w forge.RowWriter) (res forge.Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			inv.enginePanic = p
			inv.fault = fnError(500, forge.CodeFunctionTrapped, "The statement crashed its SQLite instance: %v", p)
			panic(inv.fault)
		}
	}()
	return inv.tx.Run(inv.ctx, q, w)
}

// errNeedWrite unwinds a read attempt that met a write.
var errNeedWrite = errors.New("function: the call writes; again in a write unit")
