package gateway

import (
	"github.com/praetorian/db-forge/forge"
)

// Meta on answers shaped by result options (docs/API.md, "Result options",
// Meta): every format carries what SQLite counted of the statement, each
// where it has room for it.
//
//   - JSON, objects or arrays: "meta" is the answer object's last field, as
//     on the default answer.
//   - NDJSON: inside the last line, {"$end": {"rows_affected": N, …,
//     "meta": {…}}}, streamed or not.
//   - CSV and Markdown have no place for it in the body: the header
//     X-Forge-Meta holds meta's JSON object on a buffered answer; a
//     streamed one announces it (Trailer: X-Forge-Meta) and sends it in the
//     chunked body's trailer, after the last row (the headers are gone by
//     then; a client that reads no trailers does without it).
//
// A statement that returns no rows is answered in JSON, with meta, in every
// format.

// headerMeta carries meta's object for CSV and Markdown answers.
const headerMeta = "X-Forge-Meta"

// metaInBody tells whether format f carries meta in its body.
func metaInBody(f format) bool { return f == formatJSON || f == formatNDJSON }

// appendInTail adds fields to the object that closes an answer of format
// f, in place: the JSON answer's own object, or NDJSON's "$end" object.
// fn appends each field as `,"name":value`. Other formats are left as
// they are.
func appendInTail(b []byte, f format, fn func([]byte) []byte) []byte {
	n := len(b)
	switch {
	case f == formatJSON && n > 0 && b[n-1] == '}':
		return append(fn(b[:n-1]), '}')
	case f == formatNDJSON && n >= 3 && string(b[n-3:]) == "}}\n":
		return append(fn(b[:n-3]), "}}\n"...)
	}
	return b
}

// appendMetaField writes `,"meta":{…}`.
func appendMetaField(b []byte, m forge.Meta) []byte {
	return appendMetaObject(append(b, `,"meta":`...), m)
}

// finishMeta closes the answer for res as finish does, with meta where the
// format carries it in the body, then extra's fields (a dry run's, nil for
// none) after it. A capped answer (max_bytes) keeps room for meta by
// giving up its last rows, which makes it truncated: meta's length is
// known only once the statement ran, and the cap bounds the whole body
// (extra's fields excepted: a dry run's list of changes has its own
// bound, max_changes).
func (e *rowsEncoder) finishMeta(res forge.Result, extra func([]byte) []byte) []byte {
	f := e.opt.format
	if !res.ReturnsRows || e.opt == (resultOptions{}) {
		f = formatJSON
		e.buf = appendMeta(e.finish(res), res.Meta)
	} else if !metaInBody(f) {
		return e.finish(res)
	} else {
		rows := res.RowsAffected
		for {
			mark := len(e.buf)
			b := e.appendTail(e.buf, rows, e.truncated)
			b = appendInTail(b, f, func(b []byte) []byte { return appendMetaField(b, res.Meta) })
			if e.opt.maxBytes == 0 || e.sent+len(b) <= e.opt.maxBytes || len(e.marks) == 0 {
				e.buf = b
				break
			}
			last := e.marks[len(e.marks)-1]
			e.marks = e.marks[:len(e.marks)-1]
			e.buf = b[:min(last, mark)]
			e.rows--
			rows--
			e.truncated = true
		}
	}
	if extra != nil {
		e.buf = appendInTail(e.buf, f, extra)
	}
	return e.buf
}
