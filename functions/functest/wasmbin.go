package functest

// A module written byte by byte: enough of the binary format for the
// tests' small modules (one memory, functions of i32s, data segments).

// Func is a function of a Module: its type (i32 params and results),
// extra i32 locals, and its body's instructions (without the final end).
type Func struct {
	Params, Results int
	Locals          int
	Body            []byte
	Export          string
}

// Import is an imported function of i32s.
type Import struct {
	Module, Name    string
	Params, Results int
}

// Data is a data segment at Offset.
type Data struct {
	Offset uint32
	Bytes  []byte
}

// Module is a whole module: imports first in the function index space,
// then Funcs; a memory of MinPages exported as "memory" (unless
// NoMemory).
type Module struct {
	Imports  []Import
	Funcs    []Func
	MinPages uint32
	NoMemory bool
	Data     []Data
}

// Opcodes the tests use.
const (
	OpUnreachable = 0x00
	OpLoop        = 0x03
	OpBlock       = 0x02
	OpIf          = 0x04
	OpEnd         = 0x0b
	OpBr          = 0x0c
	OpBrIf        = 0x0d
	OpCall        = 0x10
	OpDrop        = 0x1a
	OpLocalGet    = 0x20
	OpLocalSet    = 0x21
	OpI32Const    = 0x41
	OpI32Eq       = 0x46
	OpI32Add      = 0x6a
	OpMemoryGrow  = 0x40
	OpI32Store8   = 0x3a
	BlockVoid     = 0x40
)

// I32 is i32.const v.
func I32(v int32) []byte { return append([]byte{OpI32Const}, sleb(int64(v))...) }

// Call is call idx.
func Call(idx uint32) []byte { return append([]byte{OpCall}, uleb(uint64(idx))...) }

// Cat concatenates instructions.
func Cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func uleb(v uint64) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			out = append(out, b|0x80)
			continue
		}
		return append(out, b)
	}
}

func sleb(v int64) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && b&0x40 == 0) || (v == -1 && b&0x40 != 0) {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

func name(s string) []byte { return append(uleb(uint64(len(s))), s...) }

func vec(items [][]byte) []byte {
	out := uleb(uint64(len(items)))
	for _, it := range items {
		out = append(out, it...)
	}
	return out
}

func section(id byte, body []byte) []byte {
	return append(append([]byte{id}, uleb(uint64(len(body)))...), body...)
}

func funcType(params, results int) []byte {
	t := []byte{0x60}
	t = append(t, uleb(uint64(params))...)
	for range params {
		t = append(t, 0x7f)
	}
	t = append(t, uleb(uint64(results))...)
	for range results {
		t = append(t, 0x7f)
	}
	return t
}

// Bytes encodes the module.
func (m Module) Bytes() []byte {
	out := []byte("\x00asm\x01\x00\x00\x00")
	var types [][]byte
	typeOf := func(p, r int) uint32 {
		t := funcType(p, r)
		for i, x := range types {
			if string(x) == string(t) {
				return uint32(i)
			}
		}
		types = append(types, t)
		return uint32(len(types) - 1)
	}
	var imports, funcs, exports, codes, datas [][]byte
	for _, im := range m.Imports {
		e := append(name(im.Module), name(im.Name)...)
		e = append(e, 0x00)
		e = append(e, uleb(uint64(typeOf(im.Params, im.Results)))...)
		imports = append(imports, e)
	}
	for i, f := range m.Funcs {
		funcs = append(funcs, uleb(uint64(typeOf(f.Params, f.Results))))
		if f.Export != "" {
			e := append(name(f.Export), 0x00)
			e = append(e, uleb(uint64(len(m.Imports)+i))...)
			exports = append(exports, e)
		}
		body := []byte{}
		if f.Locals > 0 {
			body = append(body, 0x01)
			body = append(body, uleb(uint64(f.Locals))...)
			body = append(body, 0x7f)
		} else {
			body = append(body, 0x00)
		}
		body = append(body, f.Body...)
		body = append(body, OpEnd)
		codes = append(codes, append(uleb(uint64(len(body))), body...))
	}
	if !m.NoMemory {
		exports = append(exports, append(name("memory"), 0x02, 0x00))
	}
	for _, d := range m.Data {
		e := []byte{0x00}
		e = append(e, I32(int32(d.Offset))...)
		e = append(e, OpEnd)
		e = append(e, uleb(uint64(len(d.Bytes)))...)
		e = append(e, d.Bytes...)
		datas = append(datas, e)
	}
	out = append(out, section(1, vec(types))...)
	if len(imports) > 0 {
		out = append(out, section(2, vec(imports))...)
	}
	out = append(out, section(3, vec(funcs))...)
	if !m.NoMemory {
		mem := append([]byte{0x01, 0x00}, uleb(uint64(m.MinPages))...)
		out = append(out, section(5, mem)...)
	}
	out = append(out, section(7, vec(exports))...)
	out = append(out, section(10, vec(codes))...)
	if len(datas) > 0 {
		out = append(out, section(11, vec(datas))...)
	}
	return out
}

// Handle is a module whose forge_handle runs body (which must leave an
// i32 status), with the host imports it names first in the index space.
func Handle(imports []Import, locals int, body []byte) Module {
	return Module{Imports: imports, MinPages: 1,
		Funcs: []Func{{Results: 1, Locals: locals, Body: body, Export: "forge_handle"}}}
}
