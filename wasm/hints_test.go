package wasm

import (
	"strings"
	"testing"
	"unsafe"
)

// TestWriteHintsCopy: a hint keeps its own copy of the text, not the
// string it was given, which may be a piece of a whole request body.
func TestWriteHintsCopy(t *testing.T) {
	body := strings.Repeat("x", 1<<16) + "INSERT INTO t VALUES (1)"
	sql := body[1<<16:]
	var h writeHints
	h.add(sql)
	if !h.has(sql) {
		t.Fatal("hint not kept")
	}
	for k := range h.m {
		if unsafe.StringData(k) == unsafe.StringData(sql) {
			t.Fatal("the hint shares the body's memory")
		}
	}
}
