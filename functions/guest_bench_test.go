package functions

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	ft "github.com/praetorian/db-forge/functions/functest"
)

// BenchmarkGuest times one call of a Go-built example on a fake host
// (the statement's result is a constant, the answer dropped): the
// module's own share of a call, in Go compiled to WebAssembly, apart from
// the host's and the engine's (docs/PERFORMANCE.md, Functions).
func BenchmarkGuest(b *testing.B) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	req := []byte(`{"id":42}`)
	result := []byte(`{"columns":["id","name","score"],"rows":[[42,"name-42",21.0]],"rows_affected":0,"last_insert_id":0}`)
	row := []byte(`{"id":42,"name":"name-42","score":21.0}`)
	cur := result
	hb := rt.NewHostModuleBuilder(hostModule)
	def := func(name string, params, results int, fn func(m api.Module, stack []uint64)) {
		p, r := make([]api.ValueType, params), make([]api.ValueType, results)
		for i := range p {
			p[i] = i32
		}
		for i := range r {
			r[i] = i32
		}
		hb.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, m api.Module, stack []uint64) { fn(m, stack) }), p, r).Export(name)
	}
	def("request_size", 0, 1, func(_ api.Module, s []uint64) { s[0] = uint64(len(req)) })
	def("request_read", 2, 1, func(m api.Module, s []uint64) { m.Memory().Write(uint32(s[0]), req); s[0] = uint64(len(req)) })
	def("respond", 2, 1, func(_ api.Module, s []uint64) { s[0] = 0 })
	def("content_type", 2, 1, func(_ api.Module, s []uint64) { s[0] = 0 })
	def("query", 4, 1, func(_ api.Module, s []uint64) { cur = result; s[0] = uint64(len(cur)) })
	def("query_row", 4, 1, func(_ api.Module, s []uint64) { cur = row; s[0] = uint64(len(cur)) })
	def("result_read", 2, 1, func(m api.Module, s []uint64) { m.Memory().Write(uint32(s[0]), cur); s[0] = uint64(len(cur)) })
	def("log", 2, 0, func(api.Module, []uint64) {})
	if _, err := hb.Instantiate(ctx); err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"echo", "lookup"} {
		mod, err := rt.InstantiateWithConfig(ctx, ft.Example(b, name), wazero.NewModuleConfig().WithName(name).WithStartFunctions("_initialize"))
		if err != nil {
			b.Fatal(err)
		}
		handle := mod.ExportedFunction(entryPoint)
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if res, err := handle.Call(ctx); err != nil || res[0] != 200 {
					b.Fatalf("%v %v", res, err)
				}
			}
		})
	}
}
