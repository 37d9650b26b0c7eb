package gateway

import (
	"context"
	"encoding/base64"
	"io"
	"strconv"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/forge"
)

// The rows encoder with result options (results.go): every format and
// shape, the caps, and the streaming of uncapped NDJSON, CSV and Markdown.
// The seed's answer (no option) stays on jsonout.go's own path.

// flushSize is the size at which a streamed answer's buffer goes to the
// client: the gateway holds at most about this much (plus one row) of a
// stream, however long it is.
const flushSize = 32 << 10

func appendBase64(b, v []byte) []byte { return base64.StdEncoding.AppendEncode(b, v) }

// mdTruncated ends a truncated Markdown answer, after the table.
const mdTruncated = "\n*Truncated: more rows exist than this answer holds.*\n"

// optColumns writes what comes before the rows (Columns with options).
func (e *rowsEncoder) optColumns(names []string) error {
	e.ncols = len(names)
	b := e.buf
	switch e.opt.format {
	case formatJSON:
		if e.opt.arrays {
			b = append(b, `{"columns":`...)
			b = appendNames(b, names)
			b = append(b, `,"rows":[`...)
		} else {
			e.planKeys(names)
			b = append(b, `{"data":[`...)
		}
	case formatNDJSON:
		if e.opt.arrays {
			b = append(b, `{"columns":`...)
			b = appendNames(b, names)
			b = append(b, "}\n"...)
		} else {
			e.planKeys(names)
		}
	case formatCSV:
		for i, n := range names {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCSVText(b, n)
		}
		b = append(b, '\r', '\n')
	case formatMarkdown:
		b = append(b, '|')
		for _, n := range names {
			b = append(b, ' ')
			b = appendMarkdownText(b, n)
			b = append(b, " |"...)
		}
		b = append(b, "\n|"...)
		for range names {
			b = append(b, " --- |"...)
		}
		b = append(b, '\n')
	}
	e.buf = b
	return nil
}

func appendNames(b []byte, names []string) []byte {
	b = append(b, '[')
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, n)
	}
	return append(b, ']')
}

// optRow writes one row with options: it stops the result (forge.ErrStop)
// at max_rows, one row beyond, and before the row that would carry the
// body past max_bytes.
func (e *rowsEncoder) optRow(r forge.Row) error {
	if e.opt.capRows && e.rows >= e.opt.maxRows {
		e.truncated = true
		return forge.ErrStop
	}
	mark := len(e.buf)
	b := e.buf
	switch e.opt.format {
	case formatJSON:
		if e.rows > 0 {
			b = append(b, ',')
		}
		b = e.appendJSONRow(b, r)
	case formatNDJSON:
		b = e.appendJSONRow(b, r)
		b = append(b, '\n')
	case formatCSV:
		for i := range e.ncols {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCSVField(b, r, i)
		}
		b = append(b, '\r', '\n')
	case formatMarkdown:
		b = append(b, '|')
		for i := range e.ncols {
			b = append(b, ' ')
			b = appendMarkdownCell(b, r, i)
			b = append(b, " |"...)
		}
		b = append(b, '\n')
	}
	if e.opt.maxBytes > 0 && e.sent+len(b)+tailReserve(e.opt.format, e.rows+1) > e.opt.maxBytes {
		e.buf = b[:mark]
		e.truncated = true
		return forge.ErrStop
	}
	if e.limit > 0 && e.sent+len(b) > e.limit {
		e.buf = b[:0]
		return &responseTooLargeError{limit: e.limit}
	}
	e.buf = b
	e.rows++
	if e.opt.maxBytes > 0 && metaInBody(e.opt.format) {
		e.marks = append(e.marks, mark)
	}
	if e.out != nil && len(e.buf) >= flushSize {
		return e.flush()
	}
	return nil
}

// appendJSONRow writes a row as a JSON object (keys as planned) or array.
func (e *rowsEncoder) appendJSONRow(b []byte, r forge.Row) []byte {
	if e.opt.arrays {
		b = append(b, '[')
		for i := range e.ncols {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONValue(b, r, i)
		}
		return append(b, ']')
	}
	b = append(b, '{')
	for i, col := range e.plan {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e.keys[i]...)
		b = appendJSONValue(b, r, col)
	}
	return append(b, '}')
}

// appendTail writes what comes after the rows: rows_affected, and
// truncated when the client set a cap.
func (e *rowsEncoder) appendTail(b []byte, rows int64, truncated bool) []byte {
	return appendTail(b, e.opt, rows, truncated)
}

func appendTail(b []byte, o resultOptions, rows int64, truncated bool) []byte {
	switch o.format {
	case formatJSON, formatNDJSON:
		if o.format == formatNDJSON {
			b = append(b, `{"$end":{"rows_affected":`...)
		} else {
			b = append(b, `],"rows_affected":`...)
		}
		b = strconv.AppendInt(b, rows, 10)
		if o.capped() {
			b = append(b, `,"truncated":`...)
			b = strconv.AppendBool(b, truncated)
		}
		if o.format == formatNDJSON {
			return append(b, "}}\n"...)
		}
		return append(b, '}')
	case formatMarkdown:
		if truncated {
			b = append(b, mdTruncated...)
		}
	}
	return b
}

// tailBase is the longest tail of each format for a one-digit row count:
// with the count's other digits, what max_bytes keeps free so that the
// whole body fits.
var tailBase = func() (r [len(formatNames)]int) {
	for f := range r {
		for _, arrays := range []bool{false, true} {
			for _, truncated := range []bool{false, true} {
				o := resultOptions{format: format(f), arrays: arrays, capRows: true}
				r[f] = max(r[f], len(appendTail(nil, o, 0, truncated)))
			}
		}
	}
	return r
}()

// tailReserve is the room the tail of a body of rows rows needs.
func tailReserve(f format, rows int) int {
	n := tailBase[f]
	for ; rows >= 10; rows /= 10 {
		n++
	}
	return n
}

// flush sends the buffer to the stream.
func (e *rowsEncoder) flush() error {
	if e.onFlush != nil {
		e.onFlush()
		e.onFlush = nil
	}
	n, err := e.out.Write(e.buf)
	e.sent += n
	e.buf = e.buf[:0]
	return err
}

// setLimits applies the server's cap: a buffered answer with max_bytes is
// truncated at the smaller of max_bytes and the cap (never 413); without
// max_bytes, an answer past the cap is 413 as before. A streamed answer
// is not held in memory and has no server cap (its deadline bounds it).
func (e *rowsEncoder) setLimits(serverCap int) {
	switch {
	case e.opt.streams():
	case e.opt.maxBytes > 0:
		if serverCap > 0 && e.opt.maxBytes > serverCap {
			e.opt.maxBytes = serverCap
		}
	default:
		e.limit = serverCap
	}
}

// answer writes the buffered answer for res. A statement that returns no
// rows is answered in JSON whatever the format: it has no table.
func (e *rowsEncoder) answer(rc *fasthttp.RequestCtx, res forge.Result) {
	var body []byte
	if e.meta {
		body = e.finishMeta(res, nil)
	} else {
		body = e.finish(res)
	}
	e.writeAnswer(rc, res, body)
}

// writeAnswer sends body, the buffered answer for res, with its headers.
func (e *rowsEncoder) writeAnswer(rc *fasthttp.RequestCtx, res forge.Result, body []byte) {
	ct := contentTypes[formatJSON]
	if res.ReturnsRows {
		ct = contentTypes[e.opt.format]
		if e.opt.capped() {
			rc.Response.Header.Set(headerTruncated, strconv.FormatBool(e.truncated))
		}
		if e.meta && !metaInBody(e.opt.format) {
			rc.Response.Header.SetBytesV(headerMeta, appendMetaObject(nil, res.Meta))
		}
	}
	rc.SetStatusCode(fasthttp.StatusOK)
	rc.SetContentType(ct)
	rc.SetBody(body)
}

// restart readies the encoder for another statement's rows, with the
// same options (a batch's next statement).
func (e *rowsEncoder) restart() {
	e.buf, e.rows, e.truncated, e.sent, e.marks = e.buf[:0], 0, false, 0, e.marks[:0]
}

// headerTruncated tells, on a capped answer, whether a cap cut it.
const headerTruncated = "X-Truncated"

// rowsFunc runs a statement and streams its rows to w.
type rowsFunc func(ctx context.Context, w forge.RowWriter) (forge.Result, error)

// writeResult answers a result with the client's options: buffered, or
// streamed for an uncapped NDJSON, CSV or Markdown answer that outgrows
// its first chunk. meta: the answer carries the statement's meta (the
// query route's; resultmeta.go says where).
func (s *Server) writeResult(ctx context.Context, rc *fasthttp.RequestCtx, opt resultOptions, meta bool, run rowsFunc) error {
	enc := getEncoder()
	enc.opt = opt
	enc.meta = meta
	enc.setLimits(s.opts.MaxResponseBytes)
	if !opt.streams() {
		defer putEncoder(enc)
		res, err := run(ctx, enc)
		if err != nil {
			return err
		}
		enc.answer(rc, res)
		return nil
	}
	return s.stream(ctx, rc, enc, run)
}

// stream runs the statement on a goroutine of its own. If the result ends
// within the first chunk, the answer is an ordinary one (an error is
// answered as an error). Once the first chunk is full, the status (200)
// and headers go out, and the rest of the result streams as the engine
// produces it, through a pipe that holds one chunk: the engine's unit of
// work lasts as long as the client takes to read, bounded by the
// request's deadline (the engine's) and the server's write timeout. An
// error after that point ends the body as the format says (stream.go's
// endStream; docs/API.md, Streaming).
//
// The request context ends when the handler returns (X-Query-Timeout's
// timer): the stream runs on the server's context with the same deadline.
func (s *Server) stream(ctx context.Context, rc *fasthttp.RequestCtx, enc *rowsEncoder, run rowsFunc) error {
	var sctx context.Context
	var cancel context.CancelFunc
	if dl, ok := ctx.Deadline(); ok {
		sctx, cancel = context.WithDeadline(s.base, dl)
	} else {
		sctx, cancel = context.WithCancel(s.base)
	}
	pr, pw := io.Pipe()
	started, done := make(chan struct{}), make(chan struct{})
	enc.out = pw
	enc.onFlush = func() { close(started) }
	body := &streamBody{pr: pr, cancel: cancel}
	if enc.meta && !metaInBody(enc.opt.format) {
		// Called by endStream only once the answer streams: after the
		// handler announced the trailer (below) and fasthttp, which owns
		// rc from then on, read a first chunk; before the pipe's EOF,
		// after which fasthttp writes the trailer. A body closed by then
		// (the client gone) leaves rc alone.
		enc.trailer = func(meta []byte) {
			body.mu.Lock()
			defer body.mu.Unlock()
			if !body.closed {
				rc.Response.Header.SetBytesV(headerMeta, meta)
			}
		}
	}
	var res forge.Result
	var runErr error
	go func() {
		res, runErr = run(sctx, enc)
		select {
		case <-started: // the handler has answered; end the stream here
			enc.endStream(pw, res, runErr)
			cancel()
			putEncoder(enc)
		default:
			close(done)
		}
	}()
	select {
	case <-done:
		cancel()
		defer putEncoder(enc)
		enc.out = nil
		if runErr != nil {
			return runErr
		}
		enc.answer(rc, res)
		return nil
	case <-started:
		rc.SetStatusCode(fasthttp.StatusOK)
		rc.SetContentType(contentTypes[enc.opt.format])
		if enc.trailer != nil {
			_ = rc.Response.Header.SetTrailer(headerMeta) // a valid name: never fails
		}
		rc.Response.SetBodyStream(body, -1)
		return nil
	}
}

// endStream ends a streamed body after its last row or an error: rows
// already encoded go out; then NDJSON ends with its "$end" line, or a
// "$error" line; Markdown with a note of the error; CSV, which has no
// place for one, is cut: the pipe fails, so the chunked body never gets
// its last chunk and the client's HTTP library reports an incomplete body.
func (e *rowsEncoder) endStream(pw *io.PipeWriter, res forge.Result, err error) {
	if err == nil {
		e.buf = e.appendTail(e.buf, res.RowsAffected, false)
		if e.meta && metaInBody(e.opt.format) {
			e.buf = appendInTail(e.buf, e.opt.format, func(b []byte) []byte { return appendMetaField(b, res.Meta) })
		}
		if _, werr := pw.Write(e.buf); werr != nil {
			_ = pw.CloseWithError(werr)
			return
		}
		if e.trailer != nil {
			e.trailer(appendMetaObject(nil, res.Meta))
		}
		_ = pw.Close()
		return
	}
	ae := toAPIError(err)
	switch e.opt.format {
	case formatNDJSON:
		e.buf = append(e.buf, `{"$error":{"code":`...)
		e.buf = appendString(e.buf, ae.code)
		e.buf = append(e.buf, `,"message":`...)
		e.buf = appendString(e.buf, ae.detail)
		e.buf = append(e.buf, `,"status":`...)
		e.buf = strconv.AppendInt(e.buf, int64(ae.status), 10)
		e.buf = append(e.buf, "}}\n"...)
	case formatMarkdown:
		e.buf = append(e.buf, "\n*Error: "...)
		e.buf = append(e.buf, ae.code...)
		e.buf = append(e.buf, ": "...)
		e.buf = appendMarkdownText(e.buf, ae.detail)
		e.buf = append(e.buf, "*\n"...)
	}
	_, _ = pw.Write(e.buf)
	if e.opt.format == formatCSV {
		_ = pw.CloseWithError(err)
		return
	}
	_ = pw.Close()
}

// streamBody is a streamed answer's body as fasthttp reads it. fasthttp
// closes it when the answer is written or the connection failed (a
// client gone, the write timeout): the statement is then interrupted and
// its writer's next write fails, which ends the unit of work.
type streamBody struct {
	pr     *io.PipeReader
	cancel context.CancelFunc
	mu     sync.Mutex // guards closed, and the trailer's write to the response
	closed bool
}

func (b *streamBody) Read(p []byte) (int, error) { return b.pr.Read(p) }

func (b *streamBody) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	return b.pr.Close()
}
