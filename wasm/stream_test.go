package wasm

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// pacedWriter lets the writes and checkpoints of the database go on while
// a stream is sent: it waits a little every 64 KiB.
type pacedWriter struct {
	w io.Writer
	n int
}

func (s *pacedWriter) Write(p []byte) (int, error) {
	s.n += len(p)
	for ; s.n >= 64<<10; s.n -= 64 << 10 {
		time.Sleep(time.Millisecond)
	}
	return s.w.Write(p)
}

// TestStreamIsOneSnapshot: a streamed file is one snapshot while writes
// and checkpoints go on during the stream, sent through Read, through
// WriteTo into a plain writer, and through WriteTo into a file (whose
// ReadFrom takes the runs of the live file as they are: a socket's
// sendfile).
func TestStreamIsOneSnapshot(t *testing.T) {
	e, layout := newTestEngine(t, Config{})
	createDB(t, layout, "s")
	ctx := context.Background()
	stopWrites := writeTwoTables(t, e, "s")
	dir := t.TempDir()
	streamed := 0
	ways := []string{"read", "writeto", "readfrom"}
	for i := 0; i < 12; i++ {
		time.Sleep(40 * time.Millisecond)
		s, err := e.StreamFile(ctx, "s")
		if errors.Is(err, ErrNotStreamable) {
			t.Logf("stream %d: %v", i, err) // the log grew past maxWALCopy
			continue
		}
		if err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
		streamed++
		var got []byte
		switch way := ways[i%len(ways)]; way {
		case "read":
			var b bytes.Buffer
			_, err = io.Copy(&pacedWriter{w: &b}, struct{ io.Reader }{s})
			got = b.Bytes()
		case "writeto":
			var b bytes.Buffer
			_, err = s.WriteTo(&pacedWriter{w: &b})
			got = b.Bytes()
		case "readfrom":
			dest := filepath.Join(dir, "copy.db")
			f, ferr := os.Create(dest)
			if ferr != nil {
				t.Fatal(ferr)
			}
			time.Sleep(20 * time.Millisecond) // writes go on with the snapshot held
			_, err = s.WriteTo(f)
			_ = f.Close()
			got, _ = os.ReadFile(dest)
		}
		if cerr := s.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
		if int64(len(got)) != s.Size() {
			t.Fatalf("stream %d: %d bytes, Size said %d", i, len(got), s.Size())
		}
		checkOneSnapshot(t, e, layout, i, got)
	}
	stopWrites()
	if streamed < 6 {
		t.Errorf("only %d of 12 exports were streamed", streamed)
	}
}

// TestStreamLeavesReservedToCopy: a database with bookkeeping tables is
// not streamed (an export leaves them out: CopyTo drops them), and the
// stream gives its reader back either way.
func TestStreamLeavesReservedToCopy(t *testing.T) {
	e, layout := newTestEngine(t, Config{})
	createDB(t, layout, "r")
	ctx := context.Background()
	fill(t, e, "r", 100, 100)
	s, err := e.StreamFile(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	err = e.Write(ctx, "r", func(tx forge.Tx) error {
		_, err := tx.Run(ctx, forge.Statement{SQL: "CREATE TABLE " + forge.ReservedPrefix + "x(k)", Bookkeeping: true}, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.StreamFile(ctx, "r"); !errors.Is(err, ErrNotStreamable) {
		t.Fatalf("a database with a reserved table streamed: %v", err)
	}
	// The reader of each attempt is back: writes and reads go on.
	for range 3 {
		if _, err := e.Query(ctx, "r", forge.Statement{SQL: "INSERT INTO t(v) VALUES (1)"}, nil); err != nil {
			t.Fatal(err)
		}
	}
}
