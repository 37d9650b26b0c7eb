package snapshot

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// countPacer counts its Yields and fails from the n-th on when fail is set.
type countPacer struct {
	yields int
	fail   error
	after  int
}

func (p *countPacer) Start() func(context.Context, time.Duration) error { return p.yield }

func (p *countPacer) yield(ctx context.Context, took time.Duration) error {
	p.yields++
	if took < 0 {
		return errors.New("negative time")
	}
	if p.fail != nil && p.yields >= p.after {
		return p.fail
	}
	return ctx.Err()
}

// fromRecorder is a writer with ReadFrom that records what it was handed.
type fromRecorder struct {
	bytes.Buffer
	files, others int
}

func (r *fromRecorder) ReadFrom(src io.Reader) (int64, error) {
	if lr, ok := src.(*io.LimitedReader); ok {
		if _, ok := lr.R.(*os.File); ok {
			r.files++
		} else {
			r.others++
		}
	} else {
		r.others++
	}
	return r.Buffer.ReadFrom(src)
}

func testData(t *testing.T, n int) (string, []byte) {
	t.Helper()
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i * 7)
	}
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, data
}

// A paced copy sends every byte, yields once a chunk, and hands a file to
// the writer's ReadFrom as one LimitedReader of the file (what sendfile
// sees through), a chunk at a time.
func TestPacedCopy(t *testing.T) {
	t.Parallel()
	const n = 3*paceChunk + 12345
	path, data := testData(t, n)
	cases := []struct {
		name string
		open func() io.ReadCloser
	}{
		{"file", func() io.ReadCloser {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}},
		{"writerTo", func() io.ReadCloser {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			return struct {
				io.WriterTo
				io.ReadCloser
			}{writerToOf{f}, f}
		}},
		{"reader", func() io.ReadCloser { return io.NopCloser(bytes.NewReader(data)) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := &countPacer{}
			s := &Service{cfg: Config{Pacer: p}}
			r := s.paced(context.Background(), c.open())
			defer r.Close()
			var w fromRecorder
			got, err := r.(io.WriterTo).WriteTo(&w)
			if err != nil || got != n || !bytes.Equal(w.Bytes(), data) {
				t.Fatalf("copied %d, %v; same bytes: %v", got, err, bytes.Equal(w.Bytes(), data))
			}
			if p.yields != 3 {
				t.Errorf("%d yields, want 3 (one per whole chunk)", p.yields)
			}
			if c.name != "reader" && (w.files < 4 || w.others != 0) {
				t.Errorf("ReadFrom saw the file %d times and other readers %d times; want the file, by chunks", w.files, w.others)
			}
		})
	}
}

// writerToOf is a file's copy through the writer's ReadFrom (as the
// streamed snapshot sends its runs of file pages).
type writerToOf struct{ f *os.File }

func (w writerToOf) WriteTo(dst io.Writer) (int64, error) {
	return dst.(io.ReaderFrom).ReadFrom(&io.LimitedReader{R: w.f, N: 1 << 40})
}

// A pacer's error (the client gone, the export's context ended) stops the
// copy at once.
func TestPacedCopyStopsOnYieldError(t *testing.T) {
	t.Parallel()
	path, _ := testData(t, 4*paceChunk)
	stop := errors.New("stop")
	for _, viaWrite := range []bool{false, true} {
		p := &countPacer{fail: stop, after: 2}
		pw := newPacedWriter(context.Background(), &fromRecorder{}, p)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		if viaWrite {
			n, err = io.Copy(writerOnly{pw}, f)
		} else {
			n, err = pw.ReadFrom(f)
		}
		f.Close()
		if !errors.Is(err, stop) || n != 2*paceChunk {
			t.Errorf("write %v: copied %d, %v; want %d, stop", viaWrite, n, err, 2*paceChunk)
		}
	}
}

// The SQL dump's writes are paced too (ExportSQL wraps its writer); a
// plain writer without ReadFrom gets every byte.
func TestPacedWrite(t *testing.T) {
	t.Parallel()
	p := &countPacer{}
	var out bytes.Buffer
	pw := newPacedWriter(context.Background(), writerOnly{&out}, p)
	data := bytes.Repeat([]byte("INSERT INTO t VALUES(1);\n"), 200_000) // 5 MB
	for b := data; len(b) > 0; {
		k := min(len(b), 64<<10)
		if _, err := pw.Write(b[:k]); err != nil {
			t.Fatal(err)
		}
		b = b[k:]
	}
	if !bytes.Equal(out.Bytes(), data) || p.yields != len(data)/paceChunk {
		t.Errorf("same bytes %v, %d yields, want %d", bytes.Equal(out.Bytes(), data), p.yields, len(data)/paceChunk)
	}
}
