package wasm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// The fast copy: the database file and its write-ahead log copied by the
// kernel (copy_file_range), the log's committed frames laid over the
// copy. It gives exactly the snapshot a read transaction sees, without
// pushing every page through SQLite:
//
//  1. Take the writer's role (no commit can happen), start a read
//     transaction on a reader (its snapshot S is the last commit), copy
//     the log file, and give the role back: writes wait for one copy of
//     the log (small: it is checkpointed every 1,000 pages).
//  2. With S held, copy the database file. A checkpoint may write pages
//     into it meanwhile, but only from frames within S (a checkpoint never
//     goes past a reader's mark, and none at all while a reader reads the
//     file alone), and each such page's version in S is a frame of the
//     log copy.
//  3. Lay every committed frame of the log copy (salts and checksums
//     verified, up to the last commit frame) over the file copy, latest
//     frame of a page last, and cut the copy to the size the last commit
//     gives. End the read transaction.
//
// Anything unexpected in the log (a header or frame that does not verify
// where a commit was promised) makes CopyTo fall back to the backup API.

// errWALShape: the log is not what the fast copy expects.
var errWALShape = errors.New("write-ahead log not as expected")

// maxWALCopy bounds the committed log the fast copy reads and copies
// while writes wait: a longer one (readers kept it from being
// checkpointed and reset) makes CopyTo use the backup API, which never
// holds writers up.
const maxWALCopy = 16 << 20

// walHeaderSize and walFrameHeaderSize are fixed by SQLite's WAL format.
const (
	walHeaderSize      = 32
	walFrameHeaderSize = 24
)

// fastCopy writes the database of db as of now to dest (see above).
func (db *database) fastCopy(ctx context.Context, dest string) (err error) {
	if cap(db.idle) == 0 {
		// No reader beside the writer (FORGE_READERS_PER_DB=0): the
		// snapshot cannot be held while the writer's role is given back.
		return fmt.Errorf("%w: no readers", errWALShape)
	}
	// The reader first: waiting for one (the pool busy with long reads)
	// must not hold writes up.
	r, err := db.readConn(ctx)
	if err != nil {
		return err
	}
	defer db.put(r)
	var l lease
	if err := db.lease(ctx, &l); err != nil {
		return err
	}
	leased := true
	defer func() {
		if leased {
			db.endLease(&l)
		}
	}()
	walCopy := dest + ".wal-copy"
	defer os.Remove(walCopy)
	return r.do(ctx, func() error {
		if err := r.control("BEGIN"); err != nil {
			return err
		}
		if err := r.db.Exec("SELECT count(*) FROM sqlite_schema"); err != nil {
			return err
		}
		walErr := copyLiveWAL(db.path+"-wal", walCopy)
		db.endLease(&l)
		leased = false
		if walErr != nil && !errors.Is(walErr, os.ErrNotExist) {
			return walErr // errWALShape: CopyTo takes the backup API's way
		}
		if err := copyPlain(db.path, dest); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctxErr(ctx)
		}
		if walErr == nil {
			if err := overlayWAL(walCopy, dest); err != nil {
				return err
			}
		}
		return setRollbackHeader(dest)
	})
}

// copyPlain copies the file src to the new file dst (the kernel copies:
// copy_file_range).
func copyPlain(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o660)
	if err != nil {
		return err
	}
	_, cerr := io.Copy(out, in)
	return errors.Join(cerr, out.Close())
}

// walChecksum continues SQLite's WAL checksum (s0, s1) over b, a multiple
// of 8 bytes, read in the byte order bo.
func walChecksum(bo binary.ByteOrder, s0, s1 uint32, b []byte) (uint32, uint32) {
	for i := 0; i+8 <= len(b); i += 8 {
		s0 += bo.Uint32(b[i:]) + s1
		s1 += bo.Uint32(b[i+4:]) + s0
	}
	return s0, s1
}

// walFrames reads the log r: its header, then each frame whose salts and
// cumulative checksum verify, handing each to frame (its page number,
// the database's size in pages if it is a commit frame, and the offset of
// its page data), until the first that does not. It returns the page size
// and the end of the last commit frame (0: nothing committed). A log past
// limit bytes is errWALShape.
func walFrames(r io.ReaderAt, limit int64, frame func(pgno, commit uint32, data int64)) (pageSize, end int64, err error) {
	hdr := make([]byte, walHeaderSize)
	if n, _ := r.ReadAt(hdr, 0); n < walHeaderSize {
		return 0, 0, nil // an empty log: nothing committed in it
	}
	var bo binary.ByteOrder
	switch binary.BigEndian.Uint32(hdr) {
	case 0x377f0682:
		bo = binary.LittleEndian
	case 0x377f0683:
		bo = binary.BigEndian
	default:
		return 0, 0, fmt.Errorf("%w: magic %x", errWALShape, hdr[:4])
	}
	pageSize = int64(binary.BigEndian.Uint32(hdr[8:]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if pageSize < 512 || pageSize > 65536 || pageSize&(pageSize-1) != 0 {
		return 0, 0, fmt.Errorf("%w: page size %d", errWALShape, pageSize)
	}
	s0, s1 := walChecksum(bo, 0, 0, hdr[:24])
	if s0 != binary.BigEndian.Uint32(hdr[24:]) || s1 != binary.BigEndian.Uint32(hdr[28:]) {
		return pageSize, 0, nil // a log being reset: nothing in it is valid (SQLite reads it so too)
	}
	salt1, salt2 := binary.BigEndian.Uint32(hdr[16:]), binary.BigEndian.Uint32(hdr[20:])
	buf := make([]byte, walFrameHeaderSize+pageSize)
	for off := int64(walHeaderSize); ; off += int64(len(buf)) {
		if off+int64(len(buf)) > limit {
			return 0, 0, fmt.Errorf("%w: a log of more than %d bytes", errWALShape, limit)
		}
		if _, err := r.ReadAt(buf, off); err != nil {
			return pageSize, end, nil // the end (or a torn last frame: not committed)
		}
		if binary.BigEndian.Uint32(buf[8:]) != salt1 || binary.BigEndian.Uint32(buf[12:]) != salt2 {
			return pageSize, end, nil
		}
		s0, s1 = walChecksum(bo, s0, s1, buf[:8])
		s0, s1 = walChecksum(bo, s0, s1, buf[walFrameHeaderSize:])
		if s0 != binary.BigEndian.Uint32(buf[16:]) || s1 != binary.BigEndian.Uint32(buf[20:]) {
			return pageSize, end, nil
		}
		pgno, commit := binary.BigEndian.Uint32(buf), binary.BigEndian.Uint32(buf[4:])
		if pgno == 0 {
			return 0, 0, fmt.Errorf("%w: a frame of page 0", errWALShape)
		}
		if frame != nil {
			frame(pgno, commit, off+walFrameHeaderSize)
		}
		if commit > 0 {
			end = off + int64(len(buf))
		}
	}
}

// copyLiveWAL copies the committed part of the log at src to dst (the
// frames up to the last commit frame): what a snapshot taken now needs.
// A log with nothing committed makes no dst (os.ErrNotExist).
func copyLiveWAL(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	_, end, err := walFrames(in, maxWALCopy, nil)
	if err != nil {
		return err
	}
	if end == 0 {
		return os.ErrNotExist
	}
	out, err := os.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o660)
	if err != nil {
		return err
	}
	_, cerr := io.Copy(out, io.NewSectionReader(in, 0, end))
	return errors.Join(cerr, out.Close())
}

// overlayWAL lays the committed frames of the log copy wal over the file
// copy dest and cuts dest to the size of the last commit. A log without
// a committed frame changes nothing.
func overlayWAL(wal, dest string) error {
	w, err := os.Open(wal)
	if err != nil {
		return err
	}
	defer w.Close()
	latest := map[uint32]int64{} // page → offset of its latest committed data in the log
	pending := map[uint32]int64{}
	var commitPages uint32
	pageSize, _, err := walFrames(w, 1<<62, func(pgno, commit uint32, data int64) {
		pending[pgno] = data
		if commit > 0 {
			for p, o := range pending {
				latest[p] = o
			}
			clear(pending)
			commitPages = commit
		}
	})
	if err != nil || commitPages == 0 {
		return err
	}
	d, err := os.OpenFile(dest, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	var ps [2]byte
	if _, err := d.ReadAt(ps[:], 16); err == nil {
		if n := int64(binary.BigEndian.Uint16(ps[:])); n != pageSize && !(n == 1 && pageSize == 65536) {
			_ = d.Close()
			return fmt.Errorf("%w: the log's pages are %d bytes, the file's %d", errWALShape, pageSize, n)
		}
	}
	page := make([]byte, pageSize)
	for p, o := range latest {
		if p > commitPages {
			continue // beyond the database's size at the last commit
		}
		if _, err := w.ReadAt(page, o); err != nil {
			_ = d.Close()
			return err
		}
		if _, err := d.WriteAt(page, int64(p-1)*pageSize); err != nil {
			_ = d.Close()
			return err
		}
	}
	return errors.Join(d.Truncate(int64(commitPages)*pageSize), d.Close())
}

// setRollbackHeader marks the copy a rollback-journal database (file
// format versions 1) whose in-header size is its size: a WAL database's
// file with its log folded in, standing alone.
func setRollbackHeader(dest string) error {
	f, err := os.OpenFile(dest, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	hdr := make([]byte, 100)
	if _, err := f.ReadAt(hdr, 0); err != nil {
		_ = f.Close()
		if errors.Is(err, io.EOF) {
			return nil // an empty database: nothing to mark
		}
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return err
	}
	pageSize := int64(binary.BigEndian.Uint16(hdr[16:]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if pageSize < 512 || fi.Size()%pageSize != 0 {
		_ = f.Close()
		return fmt.Errorf("%w: page size %d, file of %d bytes", errWALShape, pageSize, fi.Size())
	}
	hdr[18], hdr[19] = 1, 1
	binary.BigEndian.PutUint32(hdr[28:], uint32(fi.Size()/pageSize))
	copy(hdr[92:96], hdr[24:28]) // version-valid-for = change counter: the size above is valid
	_, werr := f.WriteAt(hdr[16:96], 16)
	return errors.Join(werr, f.Close())
}
