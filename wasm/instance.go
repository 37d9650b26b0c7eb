package wasm

import (
	"context"
	"reflect"
	"unsafe"

	"github.com/ncruces/go-sqlite3"
	"github.com/tetratelabs/wazero/api"
)

// ncruces/go-sqlite3 (v0.32) keeps each connection's wazero module in an
// unexported field and offers no way to read the size of its linear memory,
// which never shrinks once grown, nor to close the module of an instance
// that trapped (sqlite3_close traps again in it, and the module, with the
// database's open files and their locks, would stay behind). Both matter to
// the sandbox, so the engine reaches the module through the library's
// layout: Conn embeds *sqlite first, whose "mod" field is the api.Module.
//
// The layout is checked with reflect, once, against the types it must have:
// if a new version of the library moves the field, instanceAccess stays
// unavailable, memory recycling is off and a trapped instance is left to the
// garbage collector, and TestInstanceAccess fails so that nobody upgrades
// without noticing. Nothing is ever read through an unchecked offset.
var instanceAccess = func() (a struct {
	ok        bool
	sqliteOff uintptr // offset of the embedded *sqlite in Conn
	modOff    uintptr // offset of mod in sqlite
	funcsOK   bool
	funcsOff  uintptr // offset of funcs in sqlite
}) {
	ct := reflect.TypeFor[sqlite3.Conn]()
	if ct.Kind() != reflect.Struct || ct.NumField() == 0 {
		return a
	}
	emb := ct.Field(0)
	if !emb.Anonymous || emb.Type.Kind() != reflect.Pointer || emb.Type.Elem().Kind() != reflect.Struct {
		return a
	}
	mod, ok := emb.Type.Elem().FieldByName("mod")
	if !ok || len(mod.Index) != 1 || mod.Type != reflect.TypeFor[api.Module]() {
		return a
	}
	a.ok, a.sqliteOff, a.modOff = true, emb.Offset, mod.Offset
	if f, ok := emb.Type.Elem().FieldByName("funcs"); ok && len(f.Index) == 1 && sameLayout(f.Type, reflect.TypeFor[funcCache]()) {
		a.funcsOK, a.funcsOff = true, f.Offset
	}
	return a
}()

// funcCache mirrors the library's per-instance cache of exported functions
// (sqlite.funcs in v0.32): the 32 most recently used, each holding a wazero
// call engine with its own stack (10 KiB to start, more once grown).
type funcCache struct {
	fn   [32]api.Function
	id   [32]*byte
	mask uint32
}

// sameLayout reports whether two struct types have the same fields, of the
// same types, at the same offsets.
func sameLayout(a, b reflect.Type) bool {
	if a.Kind() != reflect.Struct || b.Kind() != reflect.Struct || a.NumField() != b.NumField() || a.Size() != b.Size() {
		return false
	}
	for i := range a.NumField() {
		fa, fb := a.Field(i), b.Field(i)
		if fa.Name != fb.Name || fa.Type != fb.Type || fa.Offset != fb.Offset {
			return false
		}
	}
	return true
}

// dropFunctionCache empties the library's function cache of a connection
// that is not running anything. Opening and sandboxing a connection calls
// some twenty functions once (limits, configuration, the authorizer...);
// cached, their call engines and stacks stay with the connection for good,
// about 200 KiB of Go heap each, which is most of what an open database
// costs. Emptied, the cache refills with the dozen functions requests use.
func dropFunctionCache(db *sqlite3.Conn) {
	if !instanceAccess.ok || !instanceAccess.funcsOK || db == nil {
		return
	}
	sp := *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(db), instanceAccess.sqliteOff))
	if sp == nil {
		return
	}
	*(*funcCache)(unsafe.Add(sp, instanceAccess.funcsOff)) = funcCache{}
}

// module returns the wazero module of a connection's wasm instance.
func module(db *sqlite3.Conn) (api.Module, bool) {
	if !instanceAccess.ok || db == nil {
		return nil, false
	}
	sp := *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(db), instanceAccess.sqliteOff))
	if sp == nil {
		return nil, false
	}
	m := *(*api.Module)(unsafe.Add(sp, instanceAccess.modOff))
	return m, m != nil
}

// memorySize is the size of the instance's linear memory in bytes: the most
// it ever needed, since wasm memory only grows. 0 if unknown.
func memorySize(db *sqlite3.Conn) int64 {
	m, ok := module(db)
	if !ok || m.IsClosed() {
		return 0
	}
	mem := m.Memory()
	if mem == nil {
		return 0
	}
	return int64(mem.Size())
}

// closeModule closes the instance's module, which closes every file the
// instance had open (releasing their locks) and frees its memory. Used on
// an instance whose own sqlite3_close failed.
func closeModule(db *sqlite3.Conn) {
	if m, ok := module(db); ok && !m.IsClosed() {
		_ = m.Close(context.Background())
	}
}
