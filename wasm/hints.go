package wasm

import (
	"strings"
	"sync"
)

// writeHints remembers SQL texts that turned out to write, so that their
// next run goes straight to the writer instead of being prepared on a
// reader first only to be sent on (a statement's read-only flag depends on
// its text, not on which database runs it). It is a hint: a forgotten entry
// costs one detour, never a wrong answer. Bounded by entries and by text
// size, and simply emptied when full.
type writeHints struct {
	mu sync.Mutex
	m  map[string]struct{}
}

const (
	maxWriteHints   = 1024
	maxWriteHintLen = 4 << 10
)

func (h *writeHints) has(sql string) bool {
	h.mu.Lock()
	_, ok := h.m[sql]
	h.mu.Unlock()
	return ok
}

func (h *writeHints) add(sql string) {
	if len(sql) > maxWriteHintLen {
		return
	}
	h.mu.Lock()
	if h.m == nil || len(h.m) >= maxWriteHints {
		h.m = make(map[string]struct{}, 64)
	}
	// Its own copy: sql may be a piece of a request's body (the batch
	// decoder's strings are), which the map would otherwise keep alive
	// whole, up to maxWriteHints bodies.
	h.m[strings.Clone(sql)] = struct{}{}
	h.mu.Unlock()
}
