package wasm

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// BenchmarkWriterQueueGroup is the writer queue alone (no SQLite) under
// the group commit pattern of 16 concurrent single-row writes: each
// acquires with a deadline, as every engine call has one (bounded); the
// one granted leads, takes the queued statements into its group, answers
// them and releases. What it costs per write is the queue's own cost of a
// queued write: its wait, its deadline and its wake-up.
//
// The requests' context is cancellable, as the gateway's is (its server
// context): a waiter also watches it.
func BenchmarkWriterQueueGroup(b *testing.B) {
	base, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := newWriterQueue()
	q.putIdle(nil)
	b.ReportAllocs()
	b.SetParallelism(8) // 16 goroutines on 2 cores
	b.RunParallel(func(pb *testing.PB) {
		ctx := &bounded{Context: base}
		g := &groupStmt{ctx: ctx}
		for pb.Next() {
			ctx.deadline = time.Now().Add(5 * time.Second)
			var l lease
			granted, err := q.acquire(ctx, g, &l)
			if err != nil {
				b.Error(err)
				return
			}
			if !granted {
				continue // a leader took it and answered it
			}
			runtime.Gosched() // as lead does: let the others queue
			for _, w := range q.takeGroup(63) {
				answered(w)
			}
			l.release(nil)
		}
	})
}
