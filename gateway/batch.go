package gateway

import (
	"context"
	"slices"
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
	bufs  *batchBufs           // the fast path's, released after the batch ran
	idem  forge.IdempotencyKey // zero: no Idempotency-Key
	// opts are each statement's result options (batchopts.go); nil:
	// none anywhere, every result in the default shape.
	opts []resultOptions
}

func bindBatch(rc *fasthttp.RequestCtx) (batchRequest, error) {
	db, err := dbName(rc)
	if err != nil {
		return batchRequest{}, err
	}
	bufs := batchBufPool.Get().(*batchBufs)
	var opts []resultOptions
	b, ok := fastBatch(rc.PostBody(), bufs)
	if !ok {
		bufs.release()
		bufs = nil
		b, opts, err = decodeBatchOptions(rc.PostBody())
	}
	b.ReadOnly = readOnlyRun(rc)
	if err == nil {
		err = checkReadOnlyHeader(rc)
	}
	for i := range b.Statements {
		b.Statements[i].Meta = true // every result carries what SQLite counted
	}
	if err != nil {
		return batchRequest{db: db, batch: b, bufs: bufs, opts: opts}, err
	}
	k, err := bindIdempotency(rc)
	return batchRequest{db: db, batch: b, bufs: bufs, opts: opts, idem: k}, err
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
	b, _, err := decodeBatchOptions(body)
	return b, err
}

// decodeBatchOptions is decodeBatchStrict with the result options of each
// statement (nil when the body gives none).
func decodeBatchOptions(body []byte) (forge.Batch, []resultOptions, error) {
	b := forge.Batch{MaxChanges: defaultMaxChanges}
	v, err := parseBody(body)
	if err != nil {
		return b, nil, err
	}
	var bo batchOptions
	if err := bo.decode(v); err != nil {
		return b, nil, err
	}
	have := false
	for _, m := range v.obj {
		switch m.key {
		case "statements":
			if m.val.kind != jArray {
				return b, nil, invalidShape("Field \"statements\" must be an array of objects, not %s.", m.val.kind)
			}
			have = true
			b.Statements = make([]forge.Statement, len(m.val.arr))
			for i, el := range m.val.arr {
				if b.Statements[i], err = decodeBatchStatement(el, i); err != nil {
					return b, nil, err
				}
			}
		case "transaction":
			if m.val.kind != jBool {
				return b, nil, invalidShape("Field \"transaction\" must be a boolean, not %s.", m.val.kind)
			}
			b.Separate = !m.val.b
		case "dry_run", "max_changes":
			if err := decodeDryRunField(m, &b.DryRun, &b.MaxChanges); err != nil {
				return b, nil, err
			}
		default:
			if isResultOption(m.key) {
				continue // bo.decode's
			}
			return b, nil, unknownField("the batch body", m.key)
		}
	}
	if !have {
		return b, nil, invalidShape("Field \"statements\" is required.")
	}
	if len(b.Statements) == 0 {
		return b, nil, invalidShape("Field \"statements\" must hold at least one statement.")
	}
	return b, bo.each(len(b.Statements)), nil
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
			if isResultOption(m.key) {
				continue // batchOptions.decode's
			}
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
		if s.idempotent(req.idem) {
			return invalidValue("A batch in a transaction (X-Transaction-Id) records nothing: leave out the Idempotency-Key.")
		}
		return s.batchIn(ctx, rc, req, id)
	}
	if s.idempotent(req.idem) {
		return s.batchOnce(ctx, rc, req)
	}
	out := batchOutput{limit: s.opts.MaxResponseBytes, opts: req.opts}
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
	opts  []resultOptions // by statement; nil: none
	n     int             // results in buf
	limit int             // the response cap (0 = none)
	// changes: a dry run's, of the whole batch (one transaction).
	changes *forge.Changes
}

var _ forge.BatchOutput = (*batchOutput)(nil)

func (o *batchOutput) Reset() {
	o.buf = append(o.buf[:0], `{"results":[`...)
	o.n = 0
	o.changes = nil
}

func (o *batchOutput) Rows(i int) forge.RowWriter {
	e := o.enc
	e.restart()
	e.limit = 0
	e.opt = resultOptions{}
	if o.opts != nil {
		e.opt = o.opts[i]
	}
	left := 0 // what is left of the response cap
	if o.limit > 0 {
		left = max(o.limit-len(o.buf), 1)
	}
	switch {
	case e.opt.maxBytes == 0:
		e.limit = left
	case left > 0 && e.opt.maxBytes > left:
		e.opt.maxBytes = left // truncated, never 413, as on /query
	}
	return e
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
	if res.ReturnsRows {
		o.buf = append(o.buf, o.enc.finishMeta(res, nil)...)
	} else {
		o.buf = appendMeta(appendExecBody(o.buf, res.RowsAffected), res.Meta) // no copy through enc
	}
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
	b = append(b[:len(b)-1], `,"meta":`...)
	b = appendMetaObject(b, m)
	return append(b, '}')
}

// appendMetaObject writes meta's object, {"duration_ms": …, …}: on every
// result of a batch, so written with one capacity check and small
// numbers without strconv (appendSmall).
func appendMetaObject(b []byte, m forge.Meta) []byte {
	b = slices.Grow(b, maxMetaLen)
	b = append(b, `{"duration_ms":`...)
	b = appendMillis(b, m.Duration.Microseconds())
	b = append(b, `,"changes":`...)
	b = appendSmall(b, m.Changes)
	b = append(b, `,"last_insert_id":`...)
	b = appendSmall(b, m.LastInsertID)
	b = append(b, `,"rows_written":`...)
	b = appendSmall(b, m.RowsWritten)
	b = append(b, `,"vm_steps":`...)
	b = appendSmall(b, m.VMSteps)
	b = append(b, `,"full_scan_steps":`...)
	b = appendSmall(b, m.FullScanSteps)
	return append(b, '}')
}

// maxMetaLen bounds meta's object: its names, and six numbers of at most
// 20 characters each (a duration of 21 with its point).
const maxMetaLen = len(`{"duration_ms":,"changes":,"last_insert_id":,"rows_written":,"vm_steps":,"full_scan_steps":}`) + 6*21

// appendSmall is strconv.AppendInt(b, n, 10), with the commonest values
// (0 to 999) written by hand.
func appendSmall(b []byte, n int64) []byte {
	switch {
	case n >= 0 && n < 10:
		return append(b, byte('0'+n))
	case n >= 10 && n < 100:
		return append(b, byte('0'+n/10), byte('0'+n%10))
	case n >= 100 && n < 1000:
		return append(b, byte('0'+n/100), byte('0'+n/10%10), byte('0'+n%10))
	}
	return strconv.AppendInt(b, n, 10)
}

// appendMillis writes us microseconds as milliseconds, as
// strconv.AppendFloat(b, float64(us)/1000, 'f', -1, 64) would ("0.042",
// "1.5", "2"), without its float formatting on every result.
func appendMillis(b []byte, us int64) []byte {
	if us < 0 {
		return strconv.AppendFloat(b, float64(us)/1000, 'f', -1, 64)
	}
	b = appendSmall(b, us/1000)
	frac := us % 1000
	if frac == 0 {
		return b
	}
	d := [3]byte{byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
	n := 3
	for d[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, d[:n]...)
}
