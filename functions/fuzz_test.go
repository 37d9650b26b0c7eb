package functions_test

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/functions"
	ft "github.com/praetorian/db-forge/functions/functest"
)

// FuzzDecodeParams: a module's parameters never crash the decoder, and
// what it accepts is one shape or the other.
func FuzzDecodeParams(f *testing.F) {
	for _, s := range []string{``, `[]`, `{}`, `[1, 2.5, "x", null, true, {"base64": "AAE="}]`, `{"a": 1, "b": "x"}`,
		`{"a": 1, "a": 2}`, `[[1]]`, `[1e400]`, `{"base64": 1}`, `[{"base64": "!!"}]`, `[1] x`, `"str"`, `[9223372036854775808]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := functions.DecodeParams(b)
		if err != nil {
			return
		}
		if p.IsNamed && len(p.Positional) > 0 {
			t.Fatalf("both named and positional: %+v", p)
		}
	})
}

// boundaryModule calls each host function with arguments it reads from
// its request: 13 i32s (little-endian) after request_read(0, 64).
func boundaryModule() []byte {
	imports := []ft.Import{
		{Module: "forge", Name: "request_read", Params: 2, Results: 1}, // 0
		{Module: "forge", Name: "query", Params: 4, Results: 1},        // 1
		{Module: "forge", Name: "respond", Params: 2, Results: 1},      // 2
		{Module: "forge", Name: "result_read", Params: 2, Results: 1},  // 3
		{Module: "forge", Name: "log", Params: 2, Results: 0},          // 4
		{Module: "forge", Name: "content_type", Params: 2, Results: 1}, // 5
	}
	load := func(i int) []byte { return ft.Cat(ft.I32(int32(4*i)), []byte{0x28, 0x02, 0x00}) } // i32.load
	body := ft.Cat(
		ft.I32(0), ft.I32(64), ft.Call(0), []byte{ft.OpDrop},
		load(0), load(1), load(2), load(3), ft.Call(1), []byte{ft.OpDrop},
		load(4), load(5), ft.Call(3), []byte{ft.OpDrop},
		load(6), load(7), ft.Call(4),
		load(8), load(9), ft.Call(5), []byte{ft.OpDrop},
		load(10), load(11), ft.Call(2), []byte{ft.OpDrop},
		load(12), ft.Call(0), []byte{ft.OpDrop}, // request_read(args[12], ...)
	)
	// request_read takes two arguments: the last call reads len = 8.
	body = append(body[:len(body)-len(ft.Call(0))-1], ft.Cat(ft.I32(8), ft.Call(0), []byte{ft.OpDrop}, ft.I32(200))...)
	m := ft.Handle(imports, 0, body)
	m.Data = []ft.Data{{Offset: 100, Bytes: []byte("SELECT 1")}, {Offset: 120, Bytes: []byte(`[1]`)}}
	return m.Bytes()
}

func args(v ...uint32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], x)
	}
	return b
}

// FuzzHostBoundary: whatever pointers and lengths a module passes to the
// host, a call answers a success or a *forge.FunctionError, commits
// nothing on an error, and the service goes on.
func FuzzHostBoundary(f *testing.F) {
	f.Add(args(100, 8, 120, 3, 200, 50, 100, 8, 300, 16, 100, 8, 400))
	f.Add(args(100, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
	f.Add(args(0xfffffff0, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
	f.Add(args(100, 8, 120, 3, 65535, 50, 65530, 100, 0, 0, 0, 0, 0))
	f.Add(args(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x7fffffff, 65535))
	f.Add([]byte{1, 2, 3})
	s, eng := newService(f, functions.Config{MaxOutputBytes: 4096})
	ctx := context.Background()
	if _, _, err := s.Deploy(ctx, "db1", "boundary", boundaryModule(), nil); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, req []byte) {
		before := len(eng.committed)
		ans, err := s.Invoke(ctx, "db1", "boundary", req, false)
		var fe *forge.FunctionError
		switch {
		case err == nil:
			if ans.Status != 200 {
				t.Fatalf("status %d", ans.Status)
			}
		case errors.As(err, &fe):
			if len(eng.committed) != before {
				t.Fatalf("an error (%v) committed %v", err, eng.committed[before:])
			}
		default:
			t.Fatalf("not a function error: %v", err)
		}
	})
}
