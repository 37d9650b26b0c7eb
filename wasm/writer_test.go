package wasm

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// The writer queue's states (writer.go), driven through its own methods on
// stand-in connections: no SQLite involved.

// queueStep is one acquire running in the background.
type queueStep struct {
	l       *lease
	granted bool
	err     error
	g       *groupStmt
}

func startAcquire(q *writerQueue, ctx context.Context, group bool) (*queueStep, <-chan struct{}) {
	s := &queueStep{}
	if group {
		s.g = &groupStmt{ctx: ctx}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.l = new(lease)
		s.granted, s.err = q.acquire(ctx, s.g, s.l)
	}()
	return s, done
}

func waitSnapshot(t *testing.T, q *writerQueue, state writerState, waiting int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, n := q.snapshot()
		if s == state && n == waiting {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue %s with %d waiting, want %s with %d", s, n, state, waiting)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWriterQueueStates(t *testing.T) {
	t.Parallel()
	w := &conn{writer: true}
	q := newWriterQueue()
	q.putIdle(w)
	ctx := context.Background()
	waitSnapshot(t, q, writerIdle, 0)

	// idle → leased: the connection comes with the role.
	first := new(lease)
	if _, err := q.acquire(ctx, nil, first); err != nil || first.conn != w {
		t.Fatalf("acquire: %v, %+v", err, first)
	}
	waitSnapshot(t, q, writerLeased, 0)

	// Waiters queue in arrival order, each in its own state to come.
	lease2, done2 := startAcquire(q, ctx, false)
	waitSnapshot(t, q, writerLeased, 1)
	group3, done3 := startAcquire(q, ctx, true)
	waitSnapshot(t, q, writerLeased, 2)
	group4, done4 := startAcquire(q, ctx, true)
	waitSnapshot(t, q, writerLeased, 3)

	// release hands the role and the connection to the first waiter.
	first.release(w)
	waitFor(t, done2, 10*time.Second, "the second lease")
	if lease2.err != nil || lease2.l.conn != w {
		t.Fatalf("second lease: %+v", lease2)
	}
	waitSnapshot(t, q, writerLeased, 2)

	// A group statement first in line leads: the queue is in group
	// commit, and the leader takes the group statements behind it.
	lease2.l.release(w)
	waitFor(t, done3, 10*time.Second, "the group's leader")
	if group3.err != nil || !group3.granted || group3.l.conn != w {
		t.Fatalf("leader: %+v", group3)
	}
	waitSnapshot(t, q, writerGroup, 1)
	followers := q.takeGroup(10)
	if len(followers) != 1 || followers[0].g != group4.g {
		t.Fatalf("group took %d followers", len(followers))
	}
	waitSnapshot(t, q, writerGroup, 0)
	notYet(t, done4, 50*time.Millisecond, "a follower answered before its leader")
	answered(followers[0]) // its leader answers it
	waitFor(t, done4, 10*time.Second, "the follower")
	if group4.err != nil || group4.granted {
		t.Fatalf("follower: %+v, want answered without the role", group4)
	}

	// Nobody waits: idle, the connection in the slot.
	group3.l.release(w)
	waitSnapshot(t, q, writerIdle, 0)
	if c, ok := q.borrow(); !ok || c != w {
		t.Fatalf("slot holds %v, %v", c, ok)
	}
	q.putIdle(w)
}

// TestWriterQueueGroupSkipsLeases: a leader takes the group statements
// queued behind it, not the leases between them, which keep their place.
func TestWriterQueueGroupSkipsLeases(t *testing.T) {
	t.Parallel()
	q := newWriterQueue()
	q.putIdle(nil)
	ctx := context.Background()
	holder := new(lease)
	if _, err := q.acquire(ctx, nil, holder); err != nil {
		t.Fatal(err)
	}
	g1, done1 := startAcquire(q, ctx, true)
	waitSnapshot(t, q, writerLeased, 1)
	l2, done2 := startAcquire(q, ctx, false)
	waitSnapshot(t, q, writerLeased, 2)
	g3, _ := startAcquire(q, ctx, true)
	waitSnapshot(t, q, writerLeased, 3)
	holder.release(nil)
	waitSnapshot(t, q, writerGroup, 2)
	got := q.takeGroup(5)
	if len(got) != 1 || got[0].g != g3.g {
		t.Fatalf("took %d", len(got))
	}
	answered(got[0])
	waitSnapshot(t, q, writerGroup, 1)
	waitFor(t, done1, 10*time.Second, "the group's leader")
	g1.l.release(nil)
	waitFor(t, done2, 10*time.Second, "the lease after the group")
	waitSnapshot(t, q, writerLeased, 0)
	l2.l.release(nil)
	waitSnapshot(t, q, writerIdle, 0)
}

// TestWriterQueueWaiterDeadline: a waiter whose deadline passes leaves the
// queue with its own timeout; the holder and the others are untouched.
func TestWriterQueueWaiterDeadline(t *testing.T) {
	t.Parallel()
	for _, group := range []bool{false, true} {
		q := newWriterQueue()
		q.putIdle(nil)
		holder := new(lease)
		if _, err := q.acquire(context.Background(), nil, holder); err != nil {
			t.Fatal(err)
		}
		long, doneLong := startAcquire(q, context.Background(), group)
		waitSnapshot(t, q, writerLeased, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		short, doneShort := startAcquire(q, ctx, group)
		waitFor(t, doneShort, 10*time.Second, "the short waiter's deadline")
		cancel()
		if !errors.Is(short.err, forge.ErrTimeout) || short.granted {
			t.Fatalf("group %v: short waiter %+v (%v), want ErrTimeout", group, short, short.err)
		}
		waitSnapshot(t, q, writerLeased, 1)
		holder.release(nil)
		waitFor(t, doneLong, 10*time.Second, "the long waiter")
		if long.err != nil || !long.granted {
			t.Fatalf("group %v: long waiter %+v", group, long)
		}
		long.l.release(nil)
		waitSnapshot(t, q, writerIdle, 0)
	}
}

// TestWriterQueueTakeOver: a holder that finds the idle writer lent to a
// read does not wait for the read: the read keeps the connection, demoted,
// and the holder opens another.
func TestWriterQueueTakeOver(t *testing.T) {
	t.Parallel()
	w := &conn{writer: true}
	q := newWriterQueue()
	q.putIdle(w)
	c, ok := q.borrow()
	if !ok || c != w {
		t.Fatal("borrow")
	}
	q.lend(c)
	l := new(lease)
	if _, err := q.acquire(context.Background(), nil, l); err != nil {
		t.Fatal(err)
	}
	if l.conn != nil || !l.tookOver {
		t.Fatalf("lease %+v: want a takeover", l)
	}
	if !q.giveBack(w) {
		t.Error("the lent writer came back not demoted")
	}
	fresh := &conn{writer: true}
	l.release(fresh)
	waitSnapshot(t, q, writerIdle, 0)
	if c, _ := q.borrow(); c != fresh {
		t.Error("the slot does not hold the new writer")
	}
}
