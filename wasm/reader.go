package wasm

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/ncruces/go-sqlite3"

	"github.com/praetorian/db-forge/forge"
)

// Readers: a read snapshot held open for a caller that steps statements
// itself, row by row (a diff walks two of them side by side in key
// order). A unit of work (Read, Scan) pushes rows to a RowWriter; a
// Reader's Cursor is pulled, so two snapshots can be iterated together by
// one goroutine without holding a table in memory.
//
// OpenReader takes a reader of a live database (or its idle writer, lent
// as for any read) in one read transaction; OpenFileReader opens a
// database file nobody writes (a checkpoint) read-only and immutable,
// under the same sandbox and limits as every connection. Either is bound
// by the context it was opened with (or an hour).

// Reader is a read snapshot. It is not safe for concurrent use, and at
// most one of its Cursors is open at a time.
type Reader struct {
	e    *Engine
	db   *database // nil for a file
	c    *conn
	ctx  context.Context
	name string // the database's name, or the file's path
	path string
	cur  *Cursor
	err  error // the first fault: the Reader is unusable
}

// OpenReader opens a read snapshot of database name: the database as it
// is now, while writers go on (WAL). Close it.
func (e *Engine) OpenReader(ctx context.Context, name string) (*Reader, error) {
	ctx = longDeadline(ctx)
	db, err := e.acquire(ctx, name)
	if err != nil {
		return nil, e.noteFault(name, "", translate(ctx, err))
	}
	c, err := db.readConn(ctx)
	if err != nil {
		e.release(db)
		return nil, e.noteFault(name, db.path, translate(ctx, err))
	}
	r := &Reader{e: e, db: db, c: c, ctx: ctx, name: name, path: db.path}
	if err := r.call(func() error {
		if err := c.control("BEGIN"); err != nil {
			return err
		}
		return c.control(snapshotSQL)
	}); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// OpenFileReader opens the database file at path read-only, as
// immutable (no lock, no log: nobody may write it while it is open; a
// checkpoint's file is only ever replaced or unlinked, never written).
// Its schema runs under the sandbox, as a client's would. Close it.
func (e *Engine) OpenFileReader(ctx context.Context, path string) (*Reader, error) {
	ctx = longDeadline(ctx)
	o := e.connOptions(false)
	o.immutable = true
	c, err := openConn(path, o)
	if err != nil {
		if errors.Is(err, sqlite3.CANTOPEN) {
			return nil, fmt.Errorf("open %s: %w", path, forge.ErrDatabaseNotFound)
		}
		return nil, translate(ctx, err)
	}
	r := &Reader{e: e, c: c, ctx: ctx, name: path, path: path}
	if err := r.call(func() error { return c.control(snapshotSQL) }); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// immutableURI is the URI of a file opened read-only and immutable.
func immutableURI(path string) string {
	return (&url.URL{Scheme: "file", Path: path, RawQuery: "mode=ro&immutable=1"}).String()
}

// call runs fn on the Reader's connection with its context as the
// interrupt, containing a fault of the instance as conn.hold does, and
// turns the error into the forge vocabulary.
func (r *Reader) call(fn func() error) error {
	if r.err != nil {
		return r.err
	}
	err := r.c.hold(r.ctx, fn)
	if err == nil {
		return nil
	}
	err = translate(r.ctx, err)
	if r.db != nil {
		err = r.e.noteFault(r.name, r.path, err)
	}
	if r.c.broken {
		r.err = err
	}
	return err
}

// Query prepares sql (the caller's own statement, which must only read)
// and binds args; the rows are stepped with the Cursor. A Cursor still
// open is closed first.
func (r *Reader) Query(sql string, args ...forge.Value) (*Cursor, error) {
	if r.cur != nil {
		r.cur.Close()
	}
	var st *stmt
	err := r.call(func() error {
		var err error
		if st, err = r.c.prepare(sql); err != nil {
			return err
		}
		if st == nil {
			return &forge.SQLError{Message: "No statement.", Code: "SQLITE_MISUSE"}
		}
		if !st.readOnly {
			return forge.ErrReadOnly
		}
		return st.bind(forge.Params{Positional: args})
	})
	if err != nil {
		if st != nil {
			st.reset()
		}
		return nil, err
	}
	st.refreshColumns()
	r.cur = &Cursor{r: r, st: st}
	return r.cur, nil
}

// Close ends the snapshot and gives the connection back (a file's is
// closed).
func (r *Reader) Close() {
	if r.c == nil {
		return
	}
	if r.cur != nil {
		r.cur.Close()
	}
	c := r.c
	r.c = nil
	if r.db == nil {
		c.close()
		return
	}
	if !c.broken && !c.db.GetAutocommit() {
		_ = c.hold(context.Background(), func() error { return c.db.Exec("ROLLBACK") })
	}
	r.db.put(c)
	r.e.release(r.db)
}

// Cursor steps one statement of a Reader.
type Cursor struct {
	r    *Reader
	st   *stmt
	err  error
	done bool
}

// Columns are the statement's result column names.
func (cur *Cursor) Columns() []string { return cur.st.names }

// Next steps to the next row: false at the end, or on an error (Err).
func (cur *Cursor) Next() bool {
	if cur.done {
		return false
	}
	var more bool
	err := cur.r.call(func() error {
		cur.r.c.stepping = true
		defer func() { cur.r.c.stepping = false }()
		more = cur.st.s.Step()
		if !more {
			return cur.st.s.Err()
		}
		// The row is read here, where a fault of the instance is
		// contained, not at the caller's first look at it.
		cur.st.row.next()
		cur.st.row.load()
		return nil
	})
	if err != nil || !more {
		cur.err = err
		cur.Close()
		return false
	}
	return true
}

// Row is the current row, valid until the next call of Next or Close.
func (cur *Cursor) Row() forge.Row { return &cur.st.row }

// Err is why Next returned false, nil at the end of the rows.
func (cur *Cursor) Err() error { return cur.err }

// Close resets the statement; the Cursor is done.
func (cur *Cursor) Close() {
	if cur.done {
		return
	}
	cur.done = true
	if cur.r.cur == cur {
		cur.r.cur = nil
	}
	if cur.r.c != nil && !cur.r.c.broken {
		_ = cur.r.c.hold(context.Background(), func() error { cur.st.reset(); return nil })
	}
}
