package app

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The export pacer: busy while a request is in flight or was admitted
// within busyWindow; a wait ends with its context.
func TestExportPacer(t *testing.T) {
	t.Parallel()
	var inFlight int
	var admitted uint64
	p := &exportPacer{share: 25, load: func() (int, uint64) { return inFlight, admitted }}

	inFlight, admitted = 0, 7
	if !p.busy() {
		t.Error("a request admitted since the last look: not busy")
	}
	p.changed.Store(time.Now().Add(-2 * busyWindow).UnixNano())
	if p.busy() {
		t.Error("nothing in flight and nothing admitted within the window: busy")
	}
	inFlight = 1
	if !p.busy() {
		t.Error("a request in flight: not busy")
	}

	// Busy: the wait (capped by maxYield) ends with the context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Yield(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Yield with its context ended: %v", err)
	}
	if err := p.Yield(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Yield: %v", err)
	}

	// Not busy, or pacing off: no wait, whatever the chunk took.
	inFlight = 0
	p.changed.Store(time.Now().Add(-2 * busyWindow).UnixNano())
	if err := p.Yield(context.Background(), time.Hour); err != nil {
		t.Errorf("Yield alone: %v", err)
	}
	// Pacing off (share 100, or an unset share), or no gateway yet: no
	// wait, and no division by a zero share.
	inFlight = 1
	for _, q := range []*exportPacer{{share: 100, load: p.load}, {share: 0, load: p.load}, {share: 25}} {
		if err := q.Yield(context.Background(), time.Hour); err != nil {
			t.Errorf("share %d, load set %v: %v", q.share, q.load != nil, err)
		}
	}
}
