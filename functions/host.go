package functions

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/praetorian/db-forge/forge"
)

// The host module "forge" (docs/FUNCTIONS.md). Pointers and lengths are
// the module's i32s; a range outside its memory is a fault of the call
// (FUNCTION_TRAPPED naming the function and the argument), never a read
// of anything else.
//
//	request_size() -> i32                     the request body's length
//	request_read(ptr, len) -> i32             copies up to len bytes of it; the count
//	respond(ptr, len) -> i32                  appends to the answer; 0
//	content_type(ptr, len) -> i32             the answer's media type; 0, or -1 if refused
//	query(sql, sql_len, params, params_len) -> i32
//	                                          runs a statement in the call's transaction:
//	                                          n >= 0, its result (JSON) is n bytes; n < 0, its
//	                                          error (JSON) is -n bytes; either read by result_read
//	query_row(sql, sql_len, params, params_len) -> i32
//	                                          as query, but the result is the first row as a JSON
//	                                          object (columns in order), or null for none
//	result_read(ptr, len) -> i32              copies up to len bytes of the last result; the count
//	log(ptr, len)                             a log line (within the call's log bytes)

var (
	i32 = api.ValueTypeI32
)

func instantiateHost(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(hostModule)
	def := func(name string, params, results []api.ValueType, fn func(ctx context.Context, inv *invocation, m api.Module, stack []uint64)) {
		b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, stack []uint64) {
			inv := invocationOf(ctx)
			if inv == nil { // called during _initialize: no call yet
				fault(nil, fmt.Errorf("forge.%s called outside a call of %s (during initialisation)", name, entryPoint))
			}
			fn(ctx, inv, m, stack)
		}), params, results).Export(name)
	}
	def("request_size", nil, []api.ValueType{i32}, func(_ context.Context, inv *invocation, _ api.Module, stack []uint64) {
		stack[0] = uint64(uint32(len(inv.request)))
	})
	def("request_read", []api.ValueType{i32, i32}, []api.ValueType{i32}, func(_ context.Context, inv *invocation, m api.Module, stack []uint64) {
		ptr, n := uint32(stack[0]), uint32(stack[1])
		n = min(n, uint32(len(inv.request)))
		if !m.Memory().Write(ptr, inv.request[:n]) {
			fault(inv, fmt.Errorf("forge.request_read: the buffer [%d, %d) lies outside the module's memory", ptr, uint64(ptr)+uint64(n)))
		}
		stack[0] = uint64(n)
	})
	def("respond", []api.ValueType{i32, i32}, []api.ValueType{i32}, func(_ context.Context, inv *invocation, m api.Module, stack []uint64) {
		b := read(inv, m, "respond", stack[0], stack[1])
		if len(inv.out)+len(b) > inv.s.cfg.MaxOutputBytes {
			inv.fault = fnError(413, forge.CodeFunctionOutputLimit,
				"The function's answer passed %d bytes (FORGE_FUNCTION_MAX_OUTPUT_BYTES); nothing of it was committed.", inv.s.cfg.MaxOutputBytes)
			panic(inv.fault)
		}
		inv.out = append(inv.out, b...)
		stack[0] = 0
	})
	def("content_type", []api.ValueType{i32, i32}, []api.ValueType{i32}, func(_ context.Context, inv *invocation, m api.Module, stack []uint64) {
		b := read(inv, m, "content_type", stack[0], stack[1])
		if !validMediaType(b) {
			stack[0] = uint64(0xffffffff) // -1
			return
		}
		inv.contentType = string(b)
		stack[0] = 0
	})
	def("query", []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}, func(_ context.Context, inv *invocation, m api.Module, stack []uint64) {
		sql := read(inv, m, "query (sql)", stack[0], stack[1])
		params := read(inv, m, "query (params)", stack[2], stack[3])
		n := inv.query(sql, params, false)
		stack[0] = uint64(uint32(int32(n)))
	})
	def("query_row", []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}, func(_ context.Context, inv *invocation, m api.Module, stack []uint64) {
		sql := read(inv, m, "query_row (sql)", stack[0], stack[1])
		params := read(inv, m, "query_row (params)", stack[2], stack[3])
		n := inv.query(sql, params, true)
		stack[0] = uint64(uint32(int32(n)))
	})
	def("result_read", []api.ValueType{i32, i32}, []api.ValueType{i32}, func(_ context.Context, inv *invocation, m api.Module, stack []uint64) {
		ptr, n := uint32(stack[0]), uint32(stack[1])
		n = min(n, uint32(len(inv.pending)))
		if !m.Memory().Write(ptr, inv.pending[:n]) {
			fault(inv, fmt.Errorf("forge.result_read: the buffer [%d, %d) lies outside the module's memory", ptr, uint64(ptr)+uint64(n)))
		}
		stack[0] = uint64(n)
	})
	def("log", []api.ValueType{i32, i32}, nil, func(_ context.Context, inv *invocation, m api.Module, stack []uint64) {
		inv.logLine(read(inv, m, "log", stack[0], stack[1]))
	})
	_, err := b.Instantiate(ctx)
	return err
}

// read is the module's bytes [ptr, ptr+n), copied (the module's memory
// may move when it grows); a fault of the call if they are not all in
// its memory.
func read(inv *invocation, m api.Module, what string, ptr, n uint64) []byte {
	p, l := uint32(ptr), uint32(n)
	b, ok := m.Memory().Read(p, l)
	if !ok {
		fault(inv, fmt.Errorf("forge.%s: the bytes [%d, %d) lie outside the module's memory", what, p, uint64(p)+uint64(l)))
	}
	return append([]byte(nil), b...)
}

// fault ends the call: the error is kept as the call's answer, and the
// panic unwinds the module (wazero turns it into the call's error).
func fault(inv *invocation, err error) {
	fe := fnError(500, forge.CodeFunctionTrapped, "The function trapped; nothing of it was committed: %s", err.Error())
	if inv != nil {
		inv.fault = fe
	}
	panic(fe)
}

// validMediaType: printable ASCII without CR/LF, at most 127 bytes.
func validMediaType(b []byte) bool {
	if len(b) == 0 || len(b) > 127 {
		return false
	}
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// query runs one statement for the module and keeps its result (or
// error) as JSON for result_read: its length, negative for an error.
// row: the result is the statement's first row as an object (query_row).
func (inv *invocation) query(sql, params []byte, row bool) int {
	inv.calls++
	if inv.calls > inv.s.cfg.MaxSQLCalls {
		return inv.failWith(forge.CodeFunctionLimit,
			fmt.Sprintf("The function ran %d statements, as many as one call may (FORGE_FUNCTION_MAX_SQL_CALLS).", inv.s.cfg.MaxSQLCalls))
	}
	p, err := DecodeParams(params)
	if err != nil {
		return inv.failWith("INVALID_PARAMS", err.Error())
	}
	q := forge.Statement{SQL: string(sql), Params: p, ReadOnly: inv.readOnly, Meta: true}
	if row {
		w := &rowWriter{b: inv.pending[:0], max: inv.s.cfg.MaxResultBytes}
		if _, err := inv.run(q, w); err != nil {
			code, msg := errorCode(err)
			return inv.failWith(code, msg)
		}
		inv.pending = w.finish()
		return len(inv.pending)
	}
	w := newResultWriter(inv.pending[:0], inv.s.cfg.MaxResultBytes)
	res, err := inv.run(q, w)
	if err != nil {
		code, msg := errorCode(err)
		return inv.failWith(code, msg)
	}
	inv.pending = w.finish(res)
	return len(inv.pending)
}

func (inv *invocation) failWith(code, msg string) int {
	inv.pending = encodeError(inv.pending[:0], code, msg)
	return -len(inv.pending)
}
