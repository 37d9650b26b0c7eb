package wasm

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/praetorian/db-forge/forge"
)

// Group commit. A single-row INSERT in autocommit mode costs SQLite a
// whole transaction: the WAL frame write, the commit record and the file
// locks are most of its time (in-process: ~30 µs alone, ~4 µs per row
// when eight share a transaction). So write statements that arrive while
// the database's writer is busy queue up, and whoever takes the writer
// next runs the whole queue in one transaction, each statement inside its
// own savepoint:
//
//   - a statement that fails is rolled back to its savepoint and reports
//     its own error; the others commit;
//   - nobody is answered before the COMMIT: what a client is told is
//     committed is committed, as durably as a lone statement would be;
//   - if the transaction itself is lost — a statement whose failure rolls
//     back everything (INSERT OR ROLLBACK, RAISE(ROLLBACK), an interrupt,
//     SQLITE_FULL), a trapped instance, a failed COMMIT — every statement
//     not yet answered runs again on its own, as it would have without
//     batching, and gets its own answer.
//
// Only statements that SQLite prepared as plain DML without result rows
// are queued (stmt.batchable): no transaction control, no savepoint, no
// PRAGMA, no DDL, no RETURNING. Their text is remembered the first time
// they run on the writer (hints), so a first run takes the usual path.
// Clients see no difference but throughput; ordering between concurrent
// requests was never promised.

// The savepoint around each statement of a batch.
const (
	savepointSQL  = "SAVEPOINT forge_batch"
	releaseSQL    = "RELEASE forge_batch"
	rollbackToSQL = "ROLLBACK TO forge_batch"
)

// control runs a transaction-control statement of the batch from the
// connection's statement cache: parsing it anew each time (c.db.Exec)
// would cost as much as the insert it wraps.
func (c *conn) control(sql string) error {
	st, err := c.prepare(sql)
	if err != nil {
		return err
	}
	return st.s.Exec()
}

// writeReq is one queued write statement.
type writeReq struct {
	ctx context.Context // the request's deadline
	q   forge.Statement
	w   forge.RowWriter // used only when the statement runs alone
	res forge.Result
	err error
	// redo: the batch's transaction was lost before this statement's
	// answer was final; it must run again on its own.
	redo bool
	lead bool          // set when the request is woken to lead the next batch
	done chan struct{} // closed when answered or made leader
}

// queueWrite runs q on db's writer through the queue and returns its
// result once committed (or failed). The caller holds db (acquire).
func (e *Engine) queueWrite(ctx context.Context, db *database, q forge.Statement, w forge.RowWriter) (forge.Result, error) {
	r := &writeReq{ctx: ctx, q: q, w: w, done: make(chan struct{})}
	db.qmu.Lock()
	if db.leading {
		db.queue = append(db.queue, r)
		db.qmu.Unlock()
		if !db.awaitTurn(r) {
			return forge.Result{}, ctxErr(ctx) // left the queue: nothing ran
		}
		if !r.lead {
			return r.res, r.err
		}
	} else {
		db.leading = true
		db.qmu.Unlock()
	}
	e.lead(db, r)
	return r.res, r.err
}

// awaitTurn waits until r is answered or made leader (true), or until its
// own deadline passes while it is still queued (false: it left the queue
// and nothing of it ran). Once a leader has taken r into a batch, r waits
// for the batch's answer: the batch holds the writer, and checks each
// statement's deadline before running it.
func (db *database) awaitTurn(r *writeReq) bool {
	select {
	case <-r.done:
		return true
	default:
	}
	expired, stop := waitTimer(r.ctx)
	defer stop()
	select {
	case <-r.done:
		return true
	case <-r.ctx.Done():
	case <-expired:
	}
	db.qmu.Lock()
	i := slices.Index(db.queue, r)
	if i >= 0 {
		db.queue = slices.Delete(db.queue, i, i+1)
	}
	db.qmu.Unlock()
	if i >= 0 {
		return false
	}
	<-r.done
	return true
}

// lead takes the writer, then runs self and whatever queued behind it
// meanwhile, up to MaxWriteBatch, and hands the lead to the first request
// still queued, or gives it up. A leader whose deadline passes before the
// writer is free answers its own timeout and hands the lead on.
func (e *Engine) lead(db *database, self *writeReq) {
	batch := []*writeReq{self}
	defer func() {
		// Whatever happens here, the queue must not wedge: answer the
		// batch with a fault and hand on.
		if p := recover(); p != nil {
			e.log.Error("write batch panicked", zap.String("db", db.name), zap.Any("panic", p))
			for _, r := range batch {
				r.res, r.err = forge.Result{}, fmt.Errorf("%w: %v", forge.ErrEngineFault, p)
			}
			e.handOff(db, batch)
		}
	}()
	c, err := db.writerConn(self.ctx)
	if err != nil {
		self.err = translate(self.ctx, err)
	} else {
		// Let requests that are on their way join: under load, other
		// goroutines are decoding writes to this database right now. With
		// nothing else runnable this returns at once.
		runtime.Gosched()
		db.qmu.Lock()
		n := min(len(db.queue), e.cfg.MaxWriteBatch-1)
		batch = append(batch, db.queue[:n]...)
		db.queue = append(db.queue[:0], db.queue[n:]...)
		db.qmu.Unlock()
		e.runBatch(db, c, batch)
	}
	e.handOff(db, batch)
}

// handOff answers batch and wakes the next leader, if any.
func (e *Engine) handOff(db *database, batch []*writeReq) {
	db.qmu.Lock()
	var next *writeReq
	if len(db.queue) > 0 {
		next = db.queue[0]
		db.queue = db.queue[1:]
		next.lead = true
	} else {
		db.leading = false
	}
	db.qmu.Unlock()
	for _, r := range batch[1:] {
		close(r.done)
	}
	if next != nil {
		close(next.done)
	}
}

// runBatch answers every request of batch on the writer c, which it puts
// back.
func (e *Engine) runBatch(db *database, c *conn, batch []*writeReq) {
	if len(batch) == 1 {
		r := batch[0]
		err := c.do(r.ctx, func() error {
			var err error
			r.res, err = e.runStatement(c, r.q, r.w)
			return err
		})
		db.put(c)
		r.err = translate(r.ctx, err)
		return
	}
	e.batches.Add(1)
	e.batched.Add(int64(len(batch)))
	err := c.do(context.Background(), func() error { return e.inTransaction(c, batch) })
	db.put(c)
	if err != nil { // nothing committed
		for _, r := range batch {
			r.redo = true
		}
	}
	for _, r := range batch {
		if r.redo {
			e.redone.Add(1)
			r.res, r.err = e.runAlone(db, r)
		} else {
			r.err = translate(r.ctx, r.err)
		}
	}
}

// inTransaction runs batch in one transaction on the writer c, a
// savepoint per statement. An error means the transaction is gone and
// nothing of it was committed; a statement is marked redo when its answer
// is not final.
func (e *Engine) inTransaction(c *conn, batch []*writeReq) error {
	if err := c.control("BEGIN"); err != nil {
		return err
	}
	for i, r := range batch {
		if r.ctx.Err() != nil {
			r.err = ctxErr(r.ctx) // never ran: nothing to undo
			continue
		}
		if err := c.control(savepointSQL); err != nil {
			return err
		}
		c.denied = ""
		c.db.SetInterrupt(r.ctx)
		r.res, r.err = e.runStatement(c, r.q, nil)
		if r.err != nil && c.denied != "" {
			r.err = &forge.NotAuthorizedError{Reason: c.denied}
		}
		c.db.SetInterrupt(context.Background())
		if c.db.GetAutocommit() {
			// The statement's failure rolled the whole transaction back:
			// its own answer stands, the others run again.
			for _, o := range batch[:i] {
				o.redo = o.err == nil // rolled back; a failure stands
			}
			for _, o := range batch[i+1:] {
				o.redo = true
			}
			if r.err == nil { // cannot happen; be safe
				r.redo = true
			}
			return nil
		}
		if errors.Is(r.err, errNotBatchable) {
			// Not plain DML after all (a RETURNING, say, sent here by its
			// first word): it did not run; it runs alone after the batch.
			r.redo = true
		}
		if r.err != nil {
			if err := c.control(rollbackToSQL); err != nil {
				return err
			}
		}
		if err := c.control(releaseSQL); err != nil {
			return err
		}
	}
	return c.control("COMMIT")
}

// errNotBatchable: a queued statement that did not prepare as batchable.
var errNotBatchable = errors.New("statement cannot run in a batch")

// runStatement prepares and runs q on c, streaming any rows to w. Inside
// a batch's transaction only batchable statements run; alone, any.
func (e *Engine) runStatement(c *conn, q forge.Statement, w forge.RowWriter) (forge.Result, error) {
	st, err := c.prepare(q.SQL)
	if err != nil || st == nil {
		return forge.Result{}, err
	}
	if !st.batchable && !st.readOnly {
		// Sent to the queue by its first word but not plain DML
		// (RETURNING, say): remembered as a write, its next run goes
		// straight to the writer. A batchable text needs no hint: it
		// came here by one, or by its first word, and will again.
		e.writes.add(q.SQL)
	}
	if !st.batchable && !c.db.GetAutocommit() {
		return forge.Result{}, errNotBatchable
	}
	return e.runMakingRoom(c, st, q.Params, w)
}

// runAlone runs r's statement as the engine runs any write: on the
// writer, in its own implicit transaction.
func (e *Engine) runAlone(db *database, r *writeReq) (forge.Result, error) {
	var res forge.Result
	err := db.run(r.ctx, true, func(c *conn) error {
		var err error
		res, err = e.runStatement(c, r.q, r.w)
		return err
	})
	return res, translate(r.ctx, err)
}

// looksLikeDML tells, from its first keyword (after spaces and comments),
// a statement that is probably a plain INSERT, UPDATE, DELETE or REPLACE,
// so that a text never seen before can go to the write queue at once. It
// only routes: what runs in a batch is what SQLite prepares as batchable
// (RETURNING, say, runs alone), and a text it misses takes the usual path.
func looksLikeDML(sql string) bool {
	i := 0
	for i < len(sql) {
		switch c := sql[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				return false
			}
			i += j + 1
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				return false
			}
			i += j + 4
		default:
			for _, kw := range [...]string{"INSERT", "UPDATE", "DELETE", "REPLACE"} {
				if len(sql)-i > len(kw) && strings.EqualFold(sql[i:i+len(kw)], kw) && !isIdentByte(sql[i+len(kw)]) {
					return true
				}
			}
			return false
		}
	}
	return false
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}
