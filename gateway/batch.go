package gateway

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/forge"
)

// The batch route (POST /api/db/{db_name}/batch) and what every query
// answer tells of its run ("meta"). The batch's logic is package batch's,
// behind the Engine port; here are its body, its answer and its handler.

// batchRequest: POST /api/db/{db_name}/batch.
type batchRequest struct {
	db    string
	batch forge.Batch
	bufs  *batchBufs // the fast path's, released after the batch ran
}

func bindBatch(rc *fasthttp.RequestCtx) (batchRequest, error) {
	db, err := dbName(rc)
	if err != nil {
		return batchRequest{}, err
	}
	bufs := batchBufPool.Get().(*batchBufs)
	b, ok := fastBatch(rc.PostBody(), bufs)
	if !ok {
		bufs.release()
		bufs = nil
		b, err = decodeBatchStrict(rc.PostBody())
	}
	b.ReadOnly = readOnly(rc)
	for i := range b.Statements {
		b.Statements[i].Meta = true // every result carries what SQLite counted
	}
	return batchRequest{db: db, batch: b, bufs: bufs}, err
}

// decodeBatch decodes {"statements": [{"sql": "...", "params": [...] |
// {...}}, ...], "transaction": true|false, "dry_run": true|false}:
// "statements" is required and not empty; "transaction" defaults to true,
// "dry_run" to false.
func decodeBatch(body []byte) (forge.Batch, error) {
	if b, ok := fastBatch(body, nil); ok {
		return b, nil
	}
	return decodeBatchStrict(body)
}

// decodeBatchStrict decodes a batch body through the strict reader's
// tree: every body fastBatch does not take, and every error.
func decodeBatchStrict(body []byte) (forge.Batch, error) {
	b := forge.Batch{MaxChanges: defaultMaxChanges}
	v, err := parseBody(body)
	if err != nil {
		return b, err
	}
	have := false
	for _, m := range v.obj {
		switch m.key {
		case "statements":
			if m.val.kind != jArray {
				return b, invalidShape("Field \"statements\" must be an array of objects, not %s.", m.val.kind)
			}
			have = true
			b.Statements = make([]forge.Statement, len(m.val.arr))
			for i, el := range m.val.arr {
				if b.Statements[i], err = decodeBatchStatement(el, i); err != nil {
					return b, err
				}
			}
		case "transaction":
			if m.val.kind != jBool {
				return b, invalidShape("Field \"transaction\" must be a boolean, not %s.", m.val.kind)
			}
			b.Separate = !m.val.b
		case "dry_run", "max_changes":
			if err := decodeDryRunField(m, &b.DryRun, &b.MaxChanges); err != nil {
				return b, err
			}
		default:
			return b, unknownField("the batch body", m.key)
		}
	}
	if !have {
		return b, invalidShape("Field \"statements\" is required.")
	}
	if len(b.Statements) == 0 {
		return b, invalidShape("Field \"statements\" must hold at least one statement.")
	}
	return b, nil
}

// decodeBatchStatement decodes statements[i]: a query body's "sql" and
// "params".
func decodeBatchStatement(v jvalue, i int) (forge.Statement, error) {
	var q forge.Statement
	if v.kind != jObject {
		return q, invalidShape("statements[%d] must be an object, not %s.", i, v.kind)
	}
	haveSQL := false
	var err error
	for _, m := range v.obj {
		switch m.key {
		case "sql":
			if m.val.kind != jString {
				return q, invalidShape("statements[%d].sql must be a string, not %s.", i, m.val.kind)
			}
			q.SQL, haveSQL = m.val.s, true
		case "params":
			if q.Params, err = decodeParams(m.val); err != nil {
				return q, err
			}
		default:
			return q, unknownField("statements["+strconv.Itoa(i)+"]", m.key)
		}
	}
	if !haveSQL {
		return q, invalidShape("statements[%d].sql is required.", i)
	}
	if strings.TrimSpace(q.SQL) == "" {
		return q, invalidShape("statements[%d].sql must not be empty.", i)
	}
	return q, nil
}

// batch runs a batch: 200 {"results": [...]} with one result per
// statement, each the object /query would answer for it (or, for a
// separate statement that failed, {"error": {...}}).
func (s *Server) batch(ctx context.Context, rc *fasthttp.RequestCtx, req batchRequest) error {
	defer req.bufs.release()
	if id := transactionID(rc); id != "" {
		return s.batchIn(ctx, rc, req, id)
	}
	out := batchOutput{limit: s.opts.MaxResponseBytes}
	out.enc = getEncoder()
	defer putEncoder(out.enc)
	pb := answerBufs.Get().(*[]byte)
	out.buf = (*pb)[:0]
	defer func() {
		if cap(out.buf) <= 1<<20 { // let a one-off huge answer go
			*pb = out.buf
			answerBufs.Put(pb)
		}
	}()
	if err := s.engine.Batch(ctx, req.db, req.batch, &out); err != nil {
		return err
	}
	body := out.finish(req.batch.DryRun)
	if out.limit > 0 && len(body) > out.limit {
		return &responseTooLargeError{limit: out.limit}
	}
	writeJSON(rc, fasthttp.StatusOK, body)
	return nil
}

// answerBufs holds the buffers answers are built in (writeJSON copies the
// answer out).
var answerBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// batchOutput builds the batch's answer as its statements finish: each
// statement's rows go to one rowsEncoder, bounded by what is left of the
// response cap, and its finished object is appended to buf.
type batchOutput struct {
	buf   []byte
	enc   *rowsEncoder
	n     int // results in buf
	limit int // the response cap (0 = none)
	// changes: a dry run's, of the whole batch (one transaction).
	changes *forge.Changes
}

var _ forge.BatchOutput = (*batchOutput)(nil)

func (o *batchOutput) Reset() {
	o.buf = append(o.buf[:0], `{"results":[`...)
	o.n = 0
	o.changes = nil
}

func (o *batchOutput) Rows(int) forge.RowWriter {
	o.enc.buf = o.enc.buf[:0]
	o.enc.rows = 0
	o.enc.limit = 0
	if o.limit > 0 {
		o.enc.limit = max(o.limit-len(o.buf), 1)
	}
	return o.enc
}

func (o *batchOutput) Done(_ int, res forge.Result, err error) error {
	if o.n > 0 {
		o.buf = append(o.buf, ',')
	}
	o.n++
	if err != nil {
		o.buf = append(o.buf, `{"error":`...)
		o.buf = appendErrorObject(o.buf, toAPIError(err))
		o.buf = append(o.buf, '}')
		return nil
	}
	o.buf = appendMeta(append(o.buf, o.enc.finish(res)...), res.Meta)
	if o.limit > 0 && len(o.buf) > o.limit {
		return &responseTooLargeError{limit: o.limit}
	}
	return nil
}

// Changes puts a dry run's changes in statement i's result, or, for the
// whole batch (i < 0), beside "results" (finish).
func (o *batchOutput) Changes(i int, c forge.Changes) {
	if i < 0 {
		o.changes = &c
		return
	}
	if n := len(o.buf); n > 0 && o.buf[n-1] == '}' {
		o.buf = append(appendChanges(o.buf[:n-1], &c), '}')
	}
}

func (o *batchOutput) finish(dryRun bool) []byte {
	o.buf = append(o.buf, ']')
	if o.changes != nil {
		o.buf = appendChanges(o.buf, o.changes)
	}
	if dryRun {
		o.buf = append(o.buf, `,"dry_run":true`...)
	}
	return append(o.buf, '}')
}

// appendMeta adds "meta" as the last field of the JSON object that ends
// b, in place:
//
//	"meta": {"duration_ms": 0.012, "changes": 1, "last_insert_id": 7,
//	         "rows_written": 1, "vm_steps": 9, "full_scan_steps": 0}
func appendMeta(b []byte, m forge.Meta) []byte {
	if len(b) == 0 || b[len(b)-1] != '}' {
		return b
	}
	b = append(b[:len(b)-1], ',')
	b = append(b, `"meta":{"duration_ms":`...)
	b = appendMillis(b, m.Duration.Microseconds())
	b = append(b, `,"changes":`...)
	b = strconv.AppendInt(b, m.Changes, 10)
	b = append(b, `,"last_insert_id":`...)
	b = strconv.AppendInt(b, m.LastInsertID, 10)
	b = append(b, `,"rows_written":`...)
	b = strconv.AppendInt(b, m.RowsWritten, 10)
	b = append(b, `,"vm_steps":`...)
	b = strconv.AppendInt(b, m.VMSteps, 10)
	b = append(b, `,"full_scan_steps":`...)
	b = strconv.AppendInt(b, m.FullScanSteps, 10)
	return append(b, "}}"...)
}

// appendMillis appends us microseconds as milliseconds, as
// strconv.AppendFloat(float64(us)/1000, 'f', -1, 64) does (the shortest
// decimal: "0.042", "1.5", "12"), without its float formatting, which cost
// more than the rest of meta's encoding.
func appendMillis(b []byte, us int64) []byte {
	if us < 0 {
		b = append(b, '-')
		us = -us
	}
	b = strconv.AppendInt(b, us/1000, 10)
	frac := us % 1000
	if frac == 0 {
		return b
	}
	digits := [3]byte{byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
	n := 3
	for digits[n-1] == '0' {
		n--
	}
	return append(append(b, '.'), digits[:n]...)
}
