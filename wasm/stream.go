package wasm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/praetorian/db-forge/forge"
)

// The streamed export: the database file as of a read snapshot, sent to
// the client straight from the live file and the log's committed frames,
// without a scratch copy (walcopy.go's fast copy without its writes). The
// snapshot is taken as the fast copy takes it (the writer's role held
// while the read transaction starts and the committed log is read, into
// memory here) and is held until the stream is closed. Every page of the
// snapshot is then either its latest committed frame of that log (served
// from memory) or the page of the database file, which nothing changes
// while the snapshot is held: a checkpoint writes into the file only
// pages of frames within the snapshot (never past a reader's mark, and
// not at all while a reader reads the file alone), all of them pages the
// in-memory log serves.

// maxWALStream bounds the committed log a stream reads into memory while
// writes wait (about 50 ms for the most). It is above the fast copy's
// maxWALCopy: one transaction of tens of MB leaves a log that long until
// the next write resets it, and the other way, a scratch copy of the whole
// database, costs more than reading it.
const maxWALStream = 64 << 20

// ErrNotStreamable: the database cannot be streamed as it is (it holds
// bookkeeping tables an export leaves out, has no reader beside its
// writer, or its log is not as expected); copy it with CopyTo instead.
var ErrNotStreamable = errors.New("the database cannot be streamed from its snapshot")

// FileStream is a database's file as of one snapshot, read once from the
// start (io.Reader, or io.WriterTo, which lets the file's runs of pages
// go to a socket by sendfile). Close ends the snapshot; it must be called.
type FileStream struct {
	e        *Engine
	db       *database
	r        *conn
	f        *os.File
	pageSize int64
	pages    int64
	wal      []byte          // the committed log, from its start
	frames   map[int64]int64 // page → offset of its latest committed data in wal
	pos      int64           // next byte to read
	page     []byte          // Read's current page
	closed   bool
}

// StreamFile takes a snapshot of database name and returns its file as a
// FileStream of Size bytes: a rollback-journal database (as CopyTo makes)
// with everything in it. A database with bookkeeping tables
// (forge.ReservedPrefix), which an export must leave out, is
// ErrNotStreamable, as is anything the stream cannot vouch for.
func (e *Engine) StreamFile(ctx context.Context, name string) (_ *FileStream, err error) {
	ctx = e.deadline(ctx)
	db, err := e.acquire(ctx, name)
	if err != nil {
		return nil, e.noteFault(name, "", translate(ctx, err))
	}
	s := &FileStream{e: e, db: db}
	defer func() {
		if err != nil {
			_ = s.Close()
			if !errors.Is(err, ErrNotStreamable) {
				err = e.noteFault(name, db.path, translate(ctx, err))
			}
		}
	}()
	if cap(db.idle) == 0 {
		return nil, ErrNotStreamable // the snapshot could not be held with the writer's role given back
	}
	// The reader first: waiting for one must not hold writes up.
	if s.r, err = db.readConn(ctx); err != nil {
		return nil, err
	}
	var l lease
	if err := db.lease(ctx, &l); err != nil {
		return nil, err
	}
	err = s.r.hold(ctx, func() error {
		if err := s.r.control("BEGIN"); err != nil {
			return err
		}
		// The first read takes the snapshot: the schema's tables.
		st, _, err := s.r.db.Prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
		if err != nil {
			return err
		}
		reserved := false
		for st.Step() {
			reserved = reserved || forge.IsReserved(st.ColumnText(0))
		}
		if err := errors.Join(st.Err(), st.Close()); err != nil {
			return err
		}
		if reserved {
			return ErrNotStreamable
		}
		return s.readLog(db.path + "-wal")
	})
	db.endLease(&l)
	if err != nil {
		return nil, err
	}
	if s.f, err = os.Open(db.path); err != nil {
		return nil, err
	}
	return s, s.measure()
}

// readLog reads the committed part of the log at path into memory and
// indexes its latest committed frame of each page; the writer's role is
// held, so its committed end is the snapshot's.
func (s *FileStream) readLog(path string) error {
	in, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer in.Close()
	latest, pending := map[int64]int64{}, map[int64]int64{}
	var commitPages uint32
	pageSize, end, err := walFrames(in, maxWALStream, func(pgno, commit uint32, data int64) {
		pending[int64(pgno)] = data
		if commit > 0 {
			for p, o := range pending {
				latest[p] = o
			}
			clear(pending)
			commitPages = commit
		}
	})
	if errors.Is(err, errWALShape) {
		return fmt.Errorf("%w: %w", ErrNotStreamable, err)
	}
	if err != nil || end == 0 {
		return err
	}
	s.wal = make([]byte, end)
	if _, err := in.ReadAt(s.wal, 0); err != nil {
		return err
	}
	s.frames, s.pageSize, s.pages = latest, pageSize, int64(commitPages)
	return nil
}

// measure sets the page size and count from the file when the log has
// nothing committed, and checks the file agrees with the log.
func (s *FileStream) measure() error {
	fi, err := s.f.Stat()
	if err != nil {
		return err
	}
	hdr := make([]byte, 100)
	if _, err := s.f.ReadAt(hdr, 0); err != nil {
		if errors.Is(err, io.EOF) && s.frames == nil {
			return nil // an empty database: nothing to send
		}
		if errors.Is(err, io.EOF) {
			return nil // a new database whose first pages are all in the log
		}
		return err
	}
	n := int64(binary.BigEndian.Uint16(hdr[16:]))
	if n == 1 {
		n = 65536
	}
	if s.frames != nil {
		if n != s.pageSize {
			return fmt.Errorf("%w: the log's pages are %d bytes, the file's %d", ErrNotStreamable, s.pageSize, n)
		}
		return nil
	}
	if n < 512 || fi.Size()%n != 0 {
		return fmt.Errorf("%w: page size %d, file of %d bytes", ErrNotStreamable, n, fi.Size())
	}
	s.pageSize, s.pages = n, fi.Size()/n
	return nil
}

// Size is the stream's length in bytes.
func (s *FileStream) Size() int64 { return s.pageSize * s.pages }

// readPage fills buf (one page) with page p (from 1) of the snapshot.
func (s *FileStream) readPage(p int64, buf []byte) error {
	if o, ok := s.frames[p]; ok {
		copy(buf, s.wal[o:o+s.pageSize])
	} else if n, err := s.f.ReadAt(buf, (p-1)*s.pageSize); err != nil {
		if !errors.Is(err, io.EOF) {
			return err
		}
		clear(buf[n:]) // past the file's end: as the fast copy's cut grows it
	}
	if p == 1 {
		// A rollback-journal database whose in-header size is valid
		// (setRollbackHeader).
		buf[18], buf[19] = 1, 1
		binary.BigEndian.PutUint32(buf[28:], uint32(s.pages))
		copy(buf[92:96], buf[24:28])
	}
	return nil
}

// Read reads the stream from where it is, one page at most at a time.
func (s *FileStream) Read(b []byte) (int, error) {
	if s.closed {
		return 0, os.ErrClosed
	}
	if s.pos >= s.Size() {
		return 0, io.EOF
	}
	if s.page == nil {
		s.page = make([]byte, s.pageSize)
	}
	p, off := s.pos/s.pageSize, s.pos%s.pageSize
	if err := s.readPage(p+1, s.page); err != nil {
		return 0, err
	}
	n := copy(b, s.page[off:])
	s.pos += int64(n)
	return n, nil
}

// WriteTo writes the rest of the stream to w: pages from the log and the
// first page as they are, and each run of pages of the file between them
// through w's ReadFrom when it has one (a socket sends the file itself:
// sendfile), else through a buffer.
func (s *FileStream) WriteTo(w io.Writer) (int64, error) {
	var written int64
	if s.Size() == 0 || s.pos >= s.Size() {
		return 0, nil
	}
	if off := s.pos % s.pageSize; off != 0 {
		// Read left a page partly read; s.page holds it.
		n, err := w.Write(s.page[off:])
		written += int64(n)
		s.pos += int64(n)
		if err != nil {
			return written, err
		}
	}
	rf, _ := w.(io.ReaderFrom)
	var buf []byte
	for p := s.pos/s.pageSize + 1; p <= s.pages; {
		if _, inLog := s.frames[p]; inLog || p == 1 {
			if s.page == nil {
				s.page = make([]byte, s.pageSize)
			}
			if err := s.readPage(p, s.page); err != nil {
				return written, err
			}
			n, err := w.Write(s.page)
			written += int64(n)
			s.pos += int64(n)
			if err != nil {
				return written, err
			}
			p++
			continue
		}
		q := p + 1 // the run of file pages p..q-1
		for q <= s.pages {
			if _, inLog := s.frames[q]; inLog {
				break
			}
			q++
		}
		from, size := (p-1)*s.pageSize, (q-p)*s.pageSize
		var n int64
		var err error
		if rf != nil {
			if _, err = s.f.Seek(from, io.SeekStart); err != nil {
				return written, err
			}
			n, err = rf.ReadFrom(&io.LimitedReader{R: s.f, N: size})
		} else {
			if buf == nil {
				buf = make([]byte, 1<<20)
			}
			n, err = io.CopyBuffer(w, io.NewSectionReader(s.f, from, size), buf)
		}
		written += n
		s.pos += n
		if err != nil {
			return written, err
		}
		// The file may end before the run does: pages past its end are
		// zeros, as the fast copy's cut makes them.
		for end := (q - 1) * s.pageSize; s.pos < end; {
			if s.page == nil {
				s.page = make([]byte, s.pageSize)
			}
			if err := s.readPage(s.pos/s.pageSize+1, s.page); err != nil {
				return written, err
			}
			m, err := w.Write(s.page[s.pos%s.pageSize:])
			written += int64(m)
			s.pos += int64(m)
			if err != nil {
				return written, err
			}
		}
		p = q
	}
	return written, nil
}

// Close ends the snapshot and gives its connection back. It may be
// called more than once.
func (s *FileStream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	var err error
	if s.f != nil {
		err = s.f.Close()
	}
	if s.r != nil {
		if !s.r.broken && !s.r.db.GetAutocommit() {
			err = errors.Join(err, s.r.hold(context.Background(), func() error { return s.r.db.Exec("ROLLBACK") }))
		}
		s.db.put(s.r)
	}
	s.e.release(s.db)
	return err
}
