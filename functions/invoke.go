package functions

import (
	"context"
	"errors"
	"fmt"
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

	status      int
	contentType string
	out         []byte
	logged      int
	errTail     []byte // the end of what the module wrote to stderr
	calls       int
	pending     []byte // the last statement's result, for result_read
	fault       error  // a fault the host found (bad pointer, output cap)

	unit *unit // the call's transaction, once a statement ran
}

type invKey struct{}

func invocationOf(ctx context.Context) *invocation {
	inv, _ := ctx.Value(invKey{}).(*invocation)
	return inv
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
// function's own error (4xx) is an answer, not an error.
func (s *Service) Invoke(ctx context.Context, db, name string, body []byte, readOnly bool) (forge.FunctionAnswer, error) {
	start := time.Now()
	ans, err := s.invoke(ctx, db, name, body, readOnly)
	if s.obs != nil {
		code := ""
		if err != nil {
			code = "ERROR"
			var fe *forge.FunctionError
			if errors.As(err, &fe) {
				code = fe.Code
			}
		} else if ans.Status >= 400 {
			code = "FUNCTION_ERROR"
		}
		s.obs(db, name, code, time.Since(start))
	}
	return ans, err
}

func (s *Service) invoke(ctx context.Context, db, name string, body []byte, readOnly bool) (forge.FunctionAnswer, error) {
	if err := forge.ValidateName(db); err != nil {
		return forge.FunctionAnswer{}, err
	}
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	f, err := s.lookup(ctx, db, name)
	if err != nil {
		return forge.FunctionAnswer{}, err
	}
	in, err := f.get(ctx)
	if err != nil {
		return forge.FunctionAnswer{}, err
	}
	inv := &invocation{s: s, f: f, request: body, readOnly: readOnly}
	inv.ctx = context.WithValue(ctx, invKey{}, inv)
	in.out.inv = inv
	res, callErr := in.handle.Call(inv.ctx)
	in.out.inv = nil
	if callErr != nil {
		err := classify(ctx, callErr, inv, in.mem, s.rt.limit)
		f.done(nil) // a trap may leave the module's state broken: never reuse it
		if uerr := inv.end(false); uerr != nil && inv.fault == nil {
			var fe *forge.FunctionError
			if !errors.As(err, &fe) || fe.Code == forge.CodeFunctionTrapped {
				err = errors.Join(err, uerr)
			}
		}
		return forge.FunctionAnswer{}, err
	}
	f.done(in)
	status := int(int32(res[0]))
	switch {
	case status == 0:
		status = 200
	case status < 200 || (status > 299 && status < 400) || status > 599:
		_ = inv.end(false)
		return forge.FunctionAnswer{}, fnError(500, forge.CodeFunctionTrapped,
			"The function returned status %d; a function answers 2xx (committed) or 4xx-5xx (rolled back).", status)
	}
	if err := inv.end(status < 300); err != nil {
		return forge.FunctionAnswer{}, err
	}
	if ctx.Err() != nil { // the deadline passed as it returned: nothing was committed unless end said so
		if status >= 300 || inv.unit == nil {
			return forge.FunctionAnswer{}, timeoutError()
		}
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

// unit is a call's transaction: a goroutine running the engine's unit of
// work, to which the call hands its statements one at a time. The
// engine's goroutine runs every statement, so its fault containment and
// its commit's truth are the same as for any unit.
type unit struct {
	reqs chan unitReq
	done chan error // the unit's outcome; buffered
	err  error      // the outcome, once received
	over bool
}

type unitReq struct {
	end    bool // commit (ok) or roll back
	ok     bool
	q      forge.Statement
	w      forge.RowWriter
	result chan unitResult
}

type unitResult struct {
	res forge.Result
	err error
}

var errRollback = errors.New("function: roll back")

// begin opens the call's unit (at its first statement).
func (inv *invocation) begin() *unit {
	u := &unit{reqs: make(chan unitReq), done: make(chan error, 1)}
	ctx := inv.ctx
	fn := func(tx forge.Tx) error {
		for {
			select {
			case r := <-u.reqs:
				if r.end {
					if r.ok {
						return nil
					}
					return errRollback
				}
				res, err := tx.Run(ctx, r.q, r.w)
				r.result <- unitResult{res, err}
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	db := inv.f.db
	eng := inv.s.eng
	readOnly := inv.readOnly
	go func() {
		defer func() {
			if p := recover(); p != nil {
				u.done <- fmt.Errorf("function unit: %v: %w", p, forge.ErrEngineFault)
			}
		}()
		if readOnly {
			u.done <- eng.Read(ctx, db, fn)
		} else {
			u.done <- eng.Write(ctx, db, fn)
		}
	}()
	return u
}

// run runs one statement in the call's unit.
func (inv *invocation) run(q forge.Statement, w forge.RowWriter) (forge.Result, error) {
	if inv.unit == nil {
		inv.unit = inv.begin()
	}
	u := inv.unit
	if u.over {
		return forge.Result{}, u.failed()
	}
	result := make(chan unitResult, 1)
	select {
	case u.reqs <- unitReq{q: q, w: w, result: result}:
	case err := <-u.done:
		u.over, u.err = true, err
		return forge.Result{}, u.failed()
	}
	select {
	case r := <-result:
		return r.res, r.err
	case err := <-u.done:
		u.over, u.err = true, err
		return forge.Result{}, u.failed()
	}
}

func (u *unit) failed() error {
	if u.err == nil || errors.Is(u.err, errRollback) {
		return forge.ErrTxDone
	}
	return u.err
}

// end commits (ok) or rolls back the call's unit, if it has one, and
// waits for it: nil means committed (or nothing to commit).
func (inv *invocation) end(ok bool) error {
	u := inv.unit
	if u == nil {
		return nil
	}
	if !u.over {
		select {
		case u.reqs <- unitReq{end: true, ok: ok}:
			u.err = <-u.done
		case err := <-u.done:
			u.err = err
		}
		u.over = true
	}
	if !ok || errors.Is(u.err, errRollback) {
		return nil
	}
	return u.err
}
