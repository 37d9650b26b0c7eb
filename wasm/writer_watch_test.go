package wasm

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// The queue watches its waiters' deadlines (one timer, expire) and their
// contexts (one watcher per Done channel, cancelled) for them.

// TestWriterQueueDeadlineWithoutDone: the engine's contexts (bounded) carry
// a deadline their Done channel never closes for; the queue's own timer
// still takes such a waiter out at its deadline, and the other waiters,
// with later deadlines, stay.
func TestWriterQueueDeadlineWithoutDone(t *testing.T) {
	t.Parallel()
	for _, group := range []bool{false, true} {
		q := newWriterQueue()
		q.putIdle(nil)
		holder := new(lease)
		if _, err := q.acquire(context.Background(), nil, holder); err != nil {
			t.Fatal(err)
		}
		// The long waiter first, then the short one, whose deadline comes
		// first: the queue's one timer must move to it. (Queued the other
		// way round, a busy machine could let the short deadline pass
		// before the long waiter was seen queued.)
		long, doneLong := startAcquire(q, &bounded{Context: context.Background(), deadline: time.Now().Add(time.Minute)}, group)
		waitSnapshot(t, q, writerLeased, 1)
		short, doneShort := startAcquire(q, &bounded{Context: context.Background(), deadline: time.Now().Add(50 * time.Millisecond)}, group)
		waitFor(t, doneShort, 10*time.Second, "the short waiter's deadline")
		if !errors.Is(short.err, forge.ErrTimeout) || short.granted {
			t.Fatalf("group %v: short waiter %+v (%v), want ErrTimeout", group, short, short.err)
		}
		waitSnapshot(t, q, writerLeased, 1)
		notYet(t, doneLong, 20*time.Millisecond, "the long waiter left before its deadline")
		holder.release(nil)
		waitFor(t, doneLong, 10*time.Second, "the long waiter")
		if long.err != nil || !long.granted {
			t.Fatalf("group %v: long waiter %+v", group, long)
		}
		long.l.release(nil)
		waitSnapshot(t, q, writerIdle, 0)
	}
}

// TestWriterQueueCancelledWaiters: a waiter whose context is cancelled
// leaves with ErrCanceled; the others, on another context or on the same
// parent's sibling, stay; and once nobody waits, the queue watches no
// context any more (a context outliving its requests is not pinned).
func TestWriterQueueCancelledWaiters(t *testing.T) {
	t.Parallel()
	q := newWriterQueue()
	q.putIdle(nil)
	holder := new(lease)
	if _, err := q.acquire(context.Background(), nil, holder); err != nil {
		t.Fatal(err)
	}
	server, stopServer := context.WithCancel(context.Background())
	defer stopServer()
	req, cancelReq := context.WithCancel(server)
	a, doneA := startAcquire(q, req, true) // two waiters of one context
	waitSnapshot(t, q, writerLeased, 1)
	b, doneB := startAcquire(q, req, false)
	waitSnapshot(t, q, writerLeased, 2)
	c, doneC := startAcquire(q, server, true) // the server's context, as a request without its own
	waitSnapshot(t, q, writerLeased, 3)
	if n := q.watching(); n != 2 {
		t.Fatalf("%d watchers, want 2 (one per Done channel)", n)
	}
	cancelReq()
	for _, w := range []struct {
		s    *queueStep
		done <-chan struct{}
	}{{a, doneA}, {b, doneB}} {
		waitFor(t, w.done, 10*time.Second, "a cancelled waiter")
		if !errors.Is(w.s.err, forge.ErrCanceled) || w.s.granted {
			t.Fatalf("cancelled waiter %+v (%v), want ErrCanceled", w.s, w.s.err)
		}
	}
	waitSnapshot(t, q, writerLeased, 1)
	if n := q.watching(); n != 1 {
		t.Fatalf("%d watchers after the cancel, want 1", n)
	}
	holder.release(nil)
	waitFor(t, doneC, 10*time.Second, "the server context's waiter")
	if c.err != nil || !c.granted {
		t.Fatalf("waiter %+v", c)
	}
	if n := q.watching(); n != 0 {
		t.Fatalf("%d watchers with nobody waiting, want 0", n)
	}
	c.l.release(nil)
	waitSnapshot(t, q, writerIdle, 0)

	// A context that has ended already: the waiter leaves at once.
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.acquire(context.Background(), nil, holder); err != nil {
		t.Fatal(err)
	}
	late, doneLate := startAcquire(q, ended, true)
	waitFor(t, doneLate, 10*time.Second, "a waiter whose context had ended")
	if !errors.Is(late.err, forge.ErrCanceled) {
		t.Fatalf("late waiter: %v, want ErrCanceled", late.err)
	}
	holder.release(nil)
	waitSnapshot(t, q, writerIdle, 0)
	if n := q.watching(); n != 0 {
		t.Fatalf("%d watchers, want 0", n)
	}
}

// TestWriterQueueGroupLeavesNoWatchers: after concurrent group commits the
// queue holds no watcher and no armed waiter (every waiter's leaving was
// counted), whichever way each left.
func TestWriterQueueGroupLeavesNoWatchers(t *testing.T) {
	t.Parallel()
	q := newWriterQueue()
	q.putIdle(nil)
	base, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	for i := range 16 {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := range 300 {
				ctx := context.Context(&bounded{Context: base, deadline: time.Now().Add(time.Minute)})
				var stop context.CancelFunc = func() {}
				if (i+j)%5 == 0 { // some with a context of their own, cancelled early
					ctx, stop = context.WithTimeout(base, time.Duration(j%3)*time.Millisecond)
				}
				var l lease
				granted, err := q.acquire(ctx, &groupStmt{ctx: ctx}, &l)
				stop()
				if err != nil && !errors.Is(err, forge.ErrTimeout) && !errors.Is(err, forge.ErrCanceled) {
					t.Error(err)
					return
				}
				if granted {
					for _, w := range q.takeGroup(63) {
						answered(w)
					}
					l.release(nil)
				}
			}
		}()
	}
	for range 16 {
		waitFor(t, done, 60*time.Second, "the writers")
	}
	waitSnapshot(t, q, writerIdle, 0)
	if n := q.watching(); n != 0 {
		t.Fatalf("%d watchers left, want 0", n)
	}
}
