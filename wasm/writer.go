package wasm

import (
	"context"
	"sync"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// The writer queue: who holds a database's writer, who waits for it, and
// where the writer connection is. One writerQueue per open database owns
// all of it; nothing else touches the slot, the lent connection or the
// waiters but through its methods.
//
// The writer's role is held by at most one holder at a time. Its states:
//
//	state   holder                                   the writer connection
//	idle    none                                     in the slot, or lent to a read, or
//	                                                 the slot is empty (nil: reopen it)
//	group   a group-commit leader and the queued     the leader's
//	        statements (and shared units of work,
//	        WriteShared) it took (groupcommit.go)
//	leased  a lease: a Write unit of work, or a      the lease's
//	        lone write statement
//
//	          acquire (no waiter)            release, a lease waits first
//	   idle ─────────────────────► leased ◄──────────────────────────┐
//	    ▲ ▲   join (no waiter)                                        │
//	    │ └───────────────────────► group ────────────────────────────┤
//	    │   release, nobody waits      │ release, a group statement    │
//	    └──────────────────────────────┘ waits first: it leads the next
//
// Invariants:
//
//  1. One holder. A holder exists exactly when state is not idle; the
//     role passes from a holder to the first waiter directly (release),
//     never through the slot, so no read and no other write can come in
//     between.
//  2. Waiters wait only while there is a holder: a waiter is queued only
//     when state is not idle, and release leaves the state idle only when
//     nobody waits. Waiters are served in arrival order, except that a
//     group's leader takes later group statements with it (up to
//     MaxWriteBatch): a lease waits for at most the one group ahead of it.
//  3. Every waiter keeps its own deadline. A waiter whose deadline passes
//     (the queue's one timer, expire) or whose context ends (a watcher per
//     Done channel, cancelled) while it is queued leaves the queue and
//     nothing of it runs; one that was granted the role (or taken into a
//     group) first gets it and goes on, and its own deadline stops its
//     statement.
//  4. The connection goes where the role goes. A holder owns the writer
//     connection (nil when a fault or recycling closed it: the holder
//     reopens it). While idle it sits in the slot, where a read may
//     borrow it (lend): a holder that finds it lent opens a new writer and
//     the lent one becomes a reader when the read ends (takeOver, put). So
//     one connection at a time is the writer: SQLite's lock is the
//     backstop, never the arbiter.
//  5. No lock is held across I/O: mu guards the state, the waiters and
//     the lent connection only; opening a connection and running SQL
//     happen outside it.
//
// A lease is held for the span of one request, except a session's
// (session.go): an interactive transaction holds one across requests,
// with a deadline of its own (renewed by each use) past which its timer
// rolls the transaction back and releases the role to the next waiter,
// so that a client that walks away cannot keep the writer.
type writerQueue struct {
	slot     chan *conn    // capacity 1: the writer connection while idle
	lentNote chan struct{} // capacity 1: a read borrowed the writer (wakes a holder waiting for it)

	mu      sync.Mutex
	state   writerState
	lent    *conn     // the writer, borrowed by a read while idle
	waiters []*waiter // in arrival order
	free    []*waiter // done with, for the next to wait (no allocation per write)
	// A waiter only waits for its ready signal; the queue watches the
	// waiters' deadlines and contexts for them. A timer and a select per
	// queued write (its deadline, its context, its signal) cost more than
	// the rest of the queue: every queued write reset and stopped a
	// runtime timer and parked on the server context's Done channel, one
	// channel shared by all of them.
	//
	// sweep is the queue's one timer for its waiters' deadlines: armed at
	// sweepAt (zero: not armed), no later than the earliest deadline of a
	// waiter; when it fires, expire takes out the waiters whose deadline
	// has passed and arms it for the next. Deadlines mostly come in
	// arrival order, so a waiter seldom touches the timer.
	sweep   *time.Timer
	sweepAt time.Time
	// watched: for each Done channel of the waiters' contexts, how many
	// waiters have it and the context.AfterFunc that calls cancelled when
	// it closes; registered by its first waiter, stopped by its last.
	// Usually one (the server's context), rarely more than a few: a slice.
	watched []watch
}

// watch is the cancellation watcher of the waiters that share one Done
// channel.
type watch struct {
	done <-chan struct{}
	n    int
	stop func() bool
}

// watchIndex is done's index in watched, or -1.
func (q *writerQueue) watchIndex(done <-chan struct{}) int {
	for i := range q.watched {
		if q.watched[i].done == done {
			return i
		}
	}
	return -1
}

// unwatch forgets watched[i] (no order is kept).
func (q *writerQueue) unwatch(i int) {
	last := len(q.watched) - 1
	q.watched[i] = q.watched[last]
	q.watched[last] = watch{}
	q.watched = q.watched[:last]
}

// maxFreeWaiters bounds the waiters kept for reuse.
const maxFreeWaiters = 64

// writerState is what the writer's role is doing.
type writerState uint8

const (
	writerIdle   writerState = iota // no holder
	writerGroup                     // a group commit holds it
	writerLeased                    // a lease holds it
)

func (s writerState) String() string {
	switch s {
	case writerGroup:
		return "group"
	case writerLeased:
		return "leased"
	}
	return "idle"
}

func newWriterQueue() *writerQueue {
	return &writerQueue{slot: make(chan *conn, 1), lentNote: make(chan struct{}, 1)}
}

// waiter is one request for the writer's role: a lease, or a member of
// group commit (g set: a statement or a shared unit of work). Waiters are reused (free): once its acquire has
// returned, nothing refers to a waiter.
type waiter struct {
	ctx context.Context
	g   *groupStmt // a group commit statement; nil for a lease
	// ready (capacity 1) is signalled once: when the role is granted to
	// this waiter (l set), or, for a group statement another's group
	// took, once its leader has answered it.
	ready chan struct{}
	l     lease
	// deadline is ctx's (zero: none) and done its Done channel (nil:
	// none), read when it queued: the queue's sweep takes the waiter out
	// once its deadline has passed, the watcher of done once done closes
	// (gone says which).
	deadline time.Time
	done     <-chan struct{}
	gone     error
}

// lease is the writer's role, held by a Write unit of work, a lone write
// or a group commit's leader: release it exactly once. It is a value its
// holder keeps (no allocation per write).
type lease struct {
	q    *writerQueue
	conn *conn // the writer connection; nil: closed by a fault, the holder opens a new one
	// tookOver: the writer was lent to a read, which keeps it as a reader;
	// conn is nil and the holder opens a new writer.
	tookOver bool
}

// acquire takes the writer's role into l, waiting in turn, within ctx,
// for the holders before it. g is the statement of group commit it is for,
// nil for a lease. Not granted (and no error) means g was taken into
// another's group and has been answered.
func (q *writerQueue) acquire(ctx context.Context, g *groupStmt, l *lease) (granted bool, err error) {
	state := writerLeased
	if g != nil {
		state = writerGroup
	}
	q.mu.Lock()
	if q.state == writerIdle {
		q.state = state
		q.mu.Unlock()
		// Fetched outside the lock: the connection may be on its way
		// back from a read.
		*l = lease{q: q}
		l.conn, l.tookOver = q.idleConn()
		return true, nil
	}
	var w *waiter
	if n := len(q.free); n > 0 {
		w = q.free[n-1]
		q.free[n-1] = nil
		q.free = q.free[:n-1]
	} else {
		w = &waiter{ready: make(chan struct{}, 1)}
	}
	w.ctx, w.g = ctx, g
	if d, ok := ctx.Deadline(); ok {
		w.deadline = d
		q.armLocked(d)
	}
	if done := ctx.Done(); done != nil {
		w.done = done
		q.watchLocked(ctx, done)
	}
	q.waiters = append(q.waiters, w)
	q.mu.Unlock()
	err = q.wait(w)
	if err == nil && w.l.q != nil {
		*l, granted = w.l, true
	}
	*w = waiter{ready: w.ready}
	q.mu.Lock()
	if len(q.free) < maxFreeWaiters {
		q.free = append(q.free, w)
	}
	q.mu.Unlock()
	return granted, err
}

// wait blocks until w is granted the role, answered by a group's leader,
// or taken out of the queue at its deadline (expire) or at the end of its
// context (cancelled): then nothing of it ran.
func (q *writerQueue) wait(w *waiter) error {
	<-w.ready
	return w.gone
}

// watchLocked counts a waiter whose context has the Done channel done,
// and registers the watcher of done if it is the first. The caller holds
// mu.
func (q *writerQueue) watchLocked(ctx context.Context, done <-chan struct{}) {
	if i := q.watchIndex(done); i >= 0 {
		q.watched[i].n++
		return
	}
	// If ctx has ended already, cancelled runs at once (in its own
	// goroutine, once the caller has released mu).
	q.watched = append(q.watched, watch{done: done, n: 1, stop: context.AfterFunc(ctx, func() { q.cancelled(done) })})
}

// leftLocked: w has left the waiters (granted, taken into a group or
// expired). The last waiter of a Done channel stops its watcher. The
// caller holds mu.
func (q *writerQueue) leftLocked(w *waiter) {
	if w.done == nil {
		return
	}
	i := q.watchIndex(w.done)
	if i < 0 {
		return // cannot happen: its watcher goes with its last waiter
	}
	if q.watched[i].n--; q.watched[i].n > 0 {
		return
	}
	q.watched[i].stop()
	q.unwatch(i)
}

// cancelled is the watcher of done, which has closed: the waiters whose
// context it is leave the queue and are woken with their context's error.
func (q *writerQueue) cancelled(done <-chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if i := q.watchIndex(done); i >= 0 {
		q.unwatch(i)
	}
	kept := q.waiters[:0]
	for _, w := range q.waiters {
		if w.done == done {
			w.gone = ctxErr(w.ctx)
			w.ready <- struct{}{} // capacity 1, signalled once: never blocks
			continue
		}
		kept = append(kept, w)
	}
	clear(q.waiters[len(kept):])
	q.waiters = kept
}

// armLocked makes the sweep fire no later than d. The caller holds mu.
func (q *writerQueue) armLocked(d time.Time) {
	if !q.sweepAt.IsZero() && !d.Before(q.sweepAt) {
		return // armed earlier: that sweep arms the next
	}
	q.sweepAt = d
	if q.sweep == nil {
		q.sweep = time.AfterFunc(time.Until(d), q.expire)
	} else {
		q.sweep.Reset(time.Until(d))
	}
}

// expire is the sweep: it takes the waiters whose deadline has passed out
// of the queue and wakes them with their timeout, then arms itself for the
// earliest deadline left. Each waiter is signalled once: by release, by a
// leader that took it (answered), here or by cancelled, whichever removed
// it from the waiters under mu.
func (q *writerQueue) expire() {
	now := time.Now()
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sweepAt = time.Time{}
	var next time.Time
	kept := q.waiters[:0]
	for _, w := range q.waiters {
		if !w.deadline.IsZero() && !now.Before(w.deadline) {
			q.leftLocked(w)
			w.gone = forge.ErrTimeout
			w.ready <- struct{}{} // capacity 1, signalled once: never blocks
			continue
		}
		if !w.deadline.IsZero() && (next.IsZero() || w.deadline.Before(next)) {
			next = w.deadline
		}
		kept = append(kept, w)
	}
	clear(q.waiters[len(kept):])
	q.waiters = kept
	if !next.IsZero() {
		q.armLocked(next)
	}
}

// idleConn fetches the writer connection for a holder that found the
// queue idle: from the slot, or by taking the role over from a read that
// borrowed it. The connection can be between the two for a moment (a read
// took it and is about to record the loan, or is putting it back, which
// closes a broken instance first); no other holder exists, so it arrives.
func (q *writerQueue) idleConn() (c *conn, tookOver bool) {
	select {
	case c := <-q.slot:
		return c, false
	default:
	}
	if q.takeOver() {
		return nil, true
	}
	for {
		select {
		case c := <-q.slot:
			return c, false
		case <-q.lentNote:
			if q.takeOver() {
				return nil, true
			}
		}
	}
}

// takeOver demotes the writer a read borrowed, if any: the read keeps the
// connection, which joins the readers when it comes back (giveBack), and
// the holder opens a new writer.
func (q *writerQueue) takeOver() bool {
	q.mu.Lock()
	old := q.lent
	if old != nil {
		old.demoted = true
		q.lent = nil
	}
	q.mu.Unlock()
	return old != nil
}

// release ends the hold: the role, with c (the writer connection, nil if
// it was closed), goes to the first waiter — a group statement leads the
// next group, a lease holds — or the queue goes idle and c to the slot.
func (l *lease) release(c *conn) {
	q := l.q
	l.q, l.conn = nil, nil
	q.mu.Lock()
	if len(q.waiters) == 0 {
		q.state = writerIdle
		q.mu.Unlock()
		q.slot <- c
		return
	}
	next := q.waiters[0]
	q.waiters = q.waiters[1:]
	q.leftLocked(next)
	next.l = lease{q: q, conn: c}
	if next.g != nil {
		q.state = writerGroup
	} else {
		q.state = writerLeased
	}
	q.mu.Unlock()
	next.ready <- struct{}{}
}

// takeGroup removes up to n group statements from the waiters, in order,
// for the group its caller leads. They stop watching their deadlines: the
// leader checks each before running it, and signals their ready once they
// are answered (answered).
func (q *writerQueue) takeGroup(n int) []*waiter {
	if n <= 0 {
		return nil
	}
	var out []*waiter
	q.mu.Lock()
	kept := q.waiters[:0]
	for _, w := range q.waiters {
		if w.g != nil && len(out) < n {
			q.leftLocked(w)
			out = append(out, w)
			continue
		}
		kept = append(kept, w)
	}
	clear(q.waiters[len(kept):])
	q.waiters = kept
	q.mu.Unlock()
	return out
}

// borrow takes the idle writer from the slot for a read, if it is there:
// a database used by one client at a time then lives on one connection.
// c is nil when the writer was closed (the read opens a new one). The read
// records the loan (lend) before anything else, or, if it cannot open a
// writer, puts nil back (putIdle).
func (q *writerQueue) borrow() (c *conn, ok bool) {
	select {
	case c := <-q.slot:
		return c, true
	default:
		return nil, false
	}
}

// lend records that a read holds c, the writer taken from the slot, so
// that a holder takes the role over instead of waiting for the read.
func (q *writerQueue) lend(c *conn) {
	q.mu.Lock()
	q.lent = c
	q.mu.Unlock()
	select {
	case q.lentNote <- struct{}{}:
	default:
	}
}

// replaceLent: the read that borrowed an empty slot lent hold while it
// opened c. If a holder took the role over meanwhile, c is a reader.
func (q *writerQueue) replaceLent(hold, c *conn) {
	q.mu.Lock()
	if q.lent == hold {
		q.lent = c
	} else {
		c.demoted = true
	}
	q.mu.Unlock()
}

// giveBack ends a read's loan of c. It reports whether a holder took the
// role over meanwhile (c is a reader now); if not, the caller puts c, or
// nil if it closed it, back in the slot (putIdle).
func (q *writerQueue) giveBack(c *conn) (demoted bool) {
	q.mu.Lock()
	if q.lent == c {
		q.lent = nil
	}
	demoted = c.demoted
	q.mu.Unlock()
	return demoted
}

// idleWriter is the slot for a read to wait on beside the idle readers
// (readConn): what it receives is borrowed, and the read records the loan
// (lend) as after borrow.
func (q *writerQueue) idleWriter() <-chan *conn { return q.slot }

// putIdle returns the writer a read borrowed to the slot (nil: closed).
func (q *writerQueue) putIdle(c *conn) { q.slot <- c }

// closeIdle closes the writer of a database nobody holds: the queue is
// idle and the connection in the slot.
func (q *writerQueue) closeIdle() { (<-q.slot).close() }

// answered wakes a group statement its leader took (takeGroup) and
// answered. The leader must not touch w after.
func answered(w *waiter) { w.ready <- struct{}{} }

// watching is a seam for tests: how many Done channels the queue watches
// (none once nobody waits).
func (q *writerQueue) watching() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.watched)
}

// snapshot is the seam for tests: the state and how many wait.
func (q *writerQueue) snapshot() (writerState, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.state, len(q.waiters)
}
