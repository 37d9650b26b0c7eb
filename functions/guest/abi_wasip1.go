//go:build wasip1

package guest

import "unsafe"

// The host module "forge" (docs/FUNCTIONS.md).

//go:wasmimport forge request_size
func forgeRequestSize() int32

//go:wasmimport forge request_read
func forgeRequestRead(ptr unsafe.Pointer, n uint32) int32

//go:wasmimport forge respond
func forgeRespond(ptr unsafe.Pointer, n uint32) int32

//go:wasmimport forge content_type
func forgeContentType(ptr unsafe.Pointer, n uint32) int32

//go:wasmimport forge query
func forgeQuery(sql unsafe.Pointer, sqlLen uint32, params unsafe.Pointer, paramsLen uint32) int32

//go:wasmimport forge query_row
func forgeQueryRow(sql unsafe.Pointer, sqlLen uint32, params unsafe.Pointer, paramsLen uint32) int32

//go:wasmimport forge result_read
func forgeResultRead(ptr unsafe.Pointer, n uint32) int32

//go:wasmimport forge log
func forgeLog(ptr unsafe.Pointer, n uint32)

// forgeHandle is the entry point the gateway calls for each request.
//
//go:wasmexport forge_handle
func forgeHandle() int32 { return serve() }

func ptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

func hostRequest() []byte {
	b := make([]byte, forgeRequestSize())
	n := forgeRequestRead(ptr(b), uint32(len(b)))
	return b[:n]
}

func hostRespond(b []byte) { forgeRespond(ptr(b), uint32(len(b))) }

func hostContentType(t string) { b := []byte(t); forgeContentType(ptr(b), uint32(len(b))) }

func hostLog(b []byte) { forgeLog(ptr(b), uint32(len(b))) }

// hostQuery runs a statement: its result's (or error's) length, read
// with hostResultRead.
// row: query_row (the first row as a JSON object).
func hostQuery(sql string, params []byte, row bool) (int, bool) {
	// The host only reads the statement: no copy of it.
	var sp unsafe.Pointer
	if len(sql) > 0 {
		sp = unsafe.Pointer(unsafe.StringData(sql))
	}
	var n int32
	if row {
		n = forgeQueryRow(sp, uint32(len(sql)), ptr(params), uint32(len(params)))
	} else {
		n = forgeQuery(sp, uint32(len(sql)), ptr(params), uint32(len(params)))
	}
	if n < 0 {
		return int(-n), false
	}
	return int(n), true
}

func hostResultRead(b []byte) { forgeResultRead(ptr(b), uint32(len(b))) }
