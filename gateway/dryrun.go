package gateway

import (
	"context"
	"errors"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/forge"
)

// Dry runs (issue 11): "dry_run": true on /query and /batch runs the
// statements in a unit of work that always rolls back, and answers their
// results with the rows they changed ("changes", at most "max_changes").
// The logic is package batch's: a dry run of /query is a batch of one
// statement, answered as /query answers.

const (
	// defaultMaxChanges is "max_changes" when the body does not say.
	defaultMaxChanges = 100
	// maxMaxChanges bounds "max_changes": each row listed is read twice
	// while the database's writer is held.
	maxMaxChanges = 10000
)

// decodeDryRunField decodes "dry_run" (a boolean) or "max_changes" (an
// integer from 0 to maxMaxChanges; 0: no list of changes) of a query or
// batch body.
func decodeDryRunField(m jmember, dryRun *bool, maxChanges *int) error {
	if m.key == "dry_run" {
		if m.val.kind != jBool {
			return invalidShape("Field \"dry_run\" must be a boolean, not %s.", m.val.kind)
		}
		*dryRun = m.val.b
		return nil
	}
	if m.val.kind != jNumber {
		return invalidShape("Field \"max_changes\" must be an integer, not %s.", m.val.kind)
	}
	n, err := strconv.Atoi(m.val.s)
	if err != nil || n < 0 || n > maxMaxChanges {
		return invalidValue("Field \"max_changes\" must be an integer from 0 to %d, not %s.", maxMaxChanges, m.val.s)
	}
	*maxChanges = n
	return nil
}

// queryDryRun answers a /query body with "dry_run": true: the answer /query
// gives (with its result options), then "changes", then "dry_run": true —
// in NDJSON, inside the last line. In transaction id (not ""), the dry
// run is a savepoint of it, rolled back, and lists no changes. A dry run's
// answer is buffered, never streamed.
func (s *Server) queryDryRun(ctx context.Context, rc *fasthttp.RequestCtx, req queryRequest, id string) error {
	out := dryRunOutput{enc: getEncoder()}
	defer putEncoder(out.enc)
	lim := s.opts.MaxResponseBytes
	out.enc.opt, out.enc.meta = req.opt.result, true
	out.enc.setLimits(lim)
	if req.opt.result.streams() {
		out.enc.limit = lim // buffered all the same
	}
	b := forge.Batch{Statements: []forge.Statement{req.stmt}, ReadOnly: req.stmt.ReadOnly,
		DryRun: true, MaxChanges: req.opt.maxChanges}
	var err error
	switch {
	case id == "":
		err = s.engine.Batch(ctx, req.db, b, &out)
	case s.opts.Transactions == nil:
		err = errNoTransactions
	default:
		err = s.opts.Transactions.Batch(ctx, req.db, state(rc).keyID, id, b, &out)
	}
	if err != nil {
		var se *forge.StatementError
		if errors.As(err, &se) {
			err = se.Err // the request's one statement: no index to tell
		}
		return err
	}
	body := out.enc.finishMeta(out.res, func(b []byte) []byte {
		if out.changes != nil {
			b = appendChanges(b, out.changes)
		}
		return append(b, `,"dry_run":true`...)
	})
	if lim > 0 && len(body) > lim {
		return &responseTooLargeError{limit: lim}
	}
	out.enc.writeAnswer(rc, out.res, body)
	return nil
}

// dryRunOutput is the forge.BatchOutput of a /query dry run's one
// statement.
type dryRunOutput struct {
	enc     *rowsEncoder
	res     forge.Result
	changes *forge.Changes
}

func (o *dryRunOutput) Reset() { o.changes = nil }

func (o *dryRunOutput) Rows(int) forge.RowWriter {
	o.enc.restart()
	return o.enc
}

func (o *dryRunOutput) Done(_ int, res forge.Result, err error) error {
	o.res = res
	return err
}

func (o *dryRunOutput) Changes(_ int, c forge.Changes) { o.changes = &c }

// appendChanges appends the fields of a list of changes to an object
// being written (b ends inside it, after a value):
//
//	,"changes":[{"table":"t","op":"update","key":{"id":1},
//	             "before":{"id":1,"v":"a"},"after":{"id":1,"v":"b"}}],
//	 "changes_truncated":false,"changes_complete":true
func appendChanges(b []byte, c *forge.Changes) []byte {
	b = append(b, `,"changes":[`...)
	for i, ch := range c.List {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"table":`...)
		b = appendString(b, ch.Table)
		b = append(b, `,"op":`...)
		b = appendString(b, ch.Op)
		b = append(b, `,"key":`...)
		b = appendRecord(b, forge.Record{ch.Key})
		b = append(b, `,"before":`...)
		b = appendRecord(b, ch.Before)
		b = append(b, `,"after":`...)
		b = appendRecord(b, ch.After)
		b = append(b, '}')
	}
	b = append(b, `],"changes_truncated":`...)
	b = strconv.AppendBool(b, c.Truncated)
	b = append(b, `,"changes_complete":`...)
	return strconv.AppendBool(b, !c.Incomplete)
}

// appendRecord writes r as a JSON object in column order, values as the
// rows encoder writes them; nil is null.
func appendRecord(b []byte, r forge.Record) []byte {
	if r == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	for i, f := range r {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, f.Column)
		b = append(b, ':')
		b = appendValue(b, f.Value)
	}
	return append(b, '}')
}

func appendValue(b []byte, v forge.Value) []byte {
	switch v.Kind {
	case forge.Integer:
		return strconv.AppendInt(b, v.Int, 10)
	case forge.Float:
		return appendFloat(b, v.Float)
	case forge.Text:
		return appendString(b, v.Str)
	case forge.Blob:
		return appendBlob(b, v.Bytes)
	}
	return append(b, "null"...)
}
