package app

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The export pacer: busy while a request is in flight, or one was
// admitted since the copy began and within busyWindow; a wait ends with
// its context.
func TestExportPacer(t *testing.T) {
	t.Parallel()
	var inFlight int
	var admitted uint64 = 7 // the export's own request among them
	p := &exportPacer{share: 25, load: func() (int, uint64) { return inFlight, admitted }}
	c := &pacedCopy{p: p}
	_, c.seen = p.load()
	now := time.Now()
	if c.busy(now) {
		t.Error("nothing in flight, nothing admitted since the copy began: busy")
	}
	admitted++
	if !c.busy(now) {
		t.Error("a request admitted since the last look: not busy")
	}
	if !c.busy(now.Add(busyWindow / 2)) {
		t.Error("a request admitted within the window: not busy")
	}
	if c.busy(now.Add(2 * busyWindow)) {
		t.Error("nothing in flight and nothing admitted within the window: busy")
	}
	inFlight = 1
	if !c.busy(now.Add(2 * busyWindow)) {
		t.Error("a request in flight: not busy")
	}

	// Busy: the wait (bounded by maxYield) ends with the context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.yield(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("a wait with its context ended: %v", err)
	}
	if err := c.yield(context.Background(), time.Millisecond); err != nil {
		t.Errorf("a wait: %v", err)
	}

	// Pacing off (share 100, or an unset share), or no gateway yet: no
	// wait, and no division by a zero share.
	for _, q := range []*exportPacer{{share: 100, load: p.load}, {share: 0, load: p.load}, {share: 25}} {
		if err := q.Start()(context.Background(), time.Hour); err != nil {
			t.Errorf("share %d, load set %v: %v", q.share, q.load != nil, err)
		}
	}
}
