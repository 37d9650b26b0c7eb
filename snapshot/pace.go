package snapshot

import (
	"context"
	"io"
	"os"
	"time"
)

// Pacer lets a bulk copy (an export's bytes) give way to the requests the
// gateway serves meanwhile, as backup tools let background work yield to
// foreground work. Start begins the pacing of one copy: the function it
// returns is called after each chunk of about paceChunk bytes the copy
// wrote, with the time the chunk took, and returns when the copy may go
// on (at once while nothing else is served), or with ctx's error.
type Pacer interface {
	Start() (yield func(ctx context.Context, took time.Duration) error)
}

// paceChunk is the bytes a paced copy writes between two Yields: large
// enough that a run of file pages still goes by sendfile in few calls,
// small enough that a wait follows a few milliseconds of copying.
const paceChunk = 1 << 20

// pacedWriter writes to w and yields to its pacer after every paceChunk
// bytes. It keeps w's ReadFrom (a socket's sendfile) when the source is a
// file, or a LimitedReader of one, by handing w one chunk of it at a time.
type pacedWriter struct {
	ctx     context.Context
	w       io.Writer
	yield   func(ctx context.Context, took time.Duration) error
	since   time.Time // when the current chunk began
	pending int64     // bytes of the current chunk
}

func newPacedWriter(ctx context.Context, w io.Writer, p Pacer) *pacedWriter {
	return &pacedWriter{ctx: ctx, w: w, yield: p.Start(), since: time.Now()}
}

// wrote counts n bytes written and yields once a chunk is complete.
func (pw *pacedWriter) wrote(n int64) error {
	pw.pending += n
	if pw.pending < paceChunk {
		return nil
	}
	err := pw.yield(pw.ctx, time.Since(pw.since))
	pw.pending, pw.since = 0, time.Now()
	return err
}

func (pw *pacedWriter) Write(b []byte) (int, error) {
	written := 0
	for len(b) > 0 {
		k := min(len(b), paceChunk)
		n, err := pw.w.Write(b[:k])
		written += n
		if err != nil {
			return written, err
		}
		if err := pw.wrote(int64(n)); err != nil {
			return written, err
		}
		b = b[k:]
	}
	return written, nil
}

// writerOnly hides a writer's ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }

// ReadFrom copies r to w one chunk at a time.
func (pw *pacedWriter) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := pw.w.(io.ReaderFrom)
	if !ok {
		return io.Copy(writerOnly{pw}, r)
	}
	src, limit := r, int64(-1) // -1: to the source's end
	lr, isLimited := r.(*io.LimitedReader)
	if isLimited {
		src, limit = lr.R, lr.N
	}
	var total int64
	for limit != 0 {
		k := int64(paceChunk)
		if limit > 0 {
			k = min(k, limit)
		}
		// One level of LimitedReader around the file: what sendfile sees through.
		n, err := rf.ReadFrom(&io.LimitedReader{R: src, N: k})
		total += n
		if isLimited {
			limit -= n
			lr.N -= n
		}
		if err != nil || n < k {
			return total, err // the source ended (or failed)
		}
		if err := pw.wrote(n); err != nil {
			return total, err
		}
	}
	return total, nil
}

// pacedReader is an export's reader whose WriteTo (what the HTTP server
// uses to send it) goes through a pacedWriter, its pacing started then;
// Read is not paced.
type pacedReader struct {
	io.ReadCloser
	ctx context.Context
	p   Pacer
}

func (r *pacedReader) WriteTo(w io.Writer) (int64, error) {
	pw := newPacedWriter(r.ctx, w, r.p)
	switch src := r.ReadCloser.(type) {
	case *os.File: // the scratch copy: w's ReadFrom, sendfile for a socket
		return pw.ReadFrom(src)
	case io.WriterTo: // the streamed snapshot
		return src.WriteTo(pw)
	}
	return io.Copy(writerOnly{pw}, r.ReadCloser)
}

// paced is r paced by the service's pacer, if it has one.
func (s *Service) paced(ctx context.Context, r io.ReadCloser) io.ReadCloser {
	if s.cfg.Pacer == nil {
		return r
	}
	return &pacedReader{ReadCloser: r, ctx: ctx, p: s.cfg.Pacer}
}
