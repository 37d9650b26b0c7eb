package wasm

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
	"go.uber.org/zap"

	"github.com/praetorian/db-forge/forge"
)

// Copies of a whole database (exports, checkpoints, branches): SQLite's
// online backup API from a reader, a long read unit for dumps, and the
// writer held still for a file-system clone. What a copy is for is the
// caller's (package snapshot); these are the engine's means.

// backupStep is the pages copied by one sqlite3_backup_step: the context
// is looked at between steps (a step itself cannot be interrupted).
const backupStep = 1024

// longRead bounds a long unit of work whose context has no deadline.
const longRead = time.Hour

// CopyOptions say what a copy is made into.
type CopyOptions struct {
	// DropReserved removes the engine's bookkeeping tables
	// (forge.ReservedPrefix) from the copy, with secure_delete so their
	// pages are zeroed: an export holds the client's data only.
	DropReserved bool
	// Sync makes the copy durable (fsync) before CopyTo returns.
	Sync bool
}

// CopyTo writes a transactionally consistent copy of database name to
// dest (made anew; one there is replaced): the database as of a read
// transaction's start, while writers go on (WAL). It copies the file and
// its write-ahead log in the kernel and lays the log's committed frames
// over the copy (walcopy.go); should the log not be as expected, it runs
// SQLite's online backup from a reader inside one read transaction. The copy is
// a plain rollback-journal file (journal_mode=DELETE) that any SQLite
// opens alone. Only ctx bounds it, not the query timeout: it is looked at
// between steps of backupStep pages. On failure dest is removed.
func (e *Engine) CopyTo(ctx context.Context, name, dest string, o CopyOptions) error {
	ctx = longDeadline(ctx)
	removeCopy(dest)
	db, err := e.acquire(ctx, name)
	if err != nil {
		return e.noteFault(name, "", translate(ctx, err))
	}
	err = db.fastCopy(ctx, dest)
	if errors.Is(err, errWALShape) {
		e.log.Warn("fast copy not possible; copying with the backup API", zap.String("db", name), zap.Error(err))
		removeCopy(dest)
		err = db.run(ctx, false, func(c *conn) error { return c.backupTo(ctx, dest) })
	}
	e.release(db)
	err = e.noteFault(name, db.path, translate(ctx, err))
	if err == nil {
		err = finishCopy(dest, o.DropReserved)
	}
	if err == nil && o.Sync {
		err = syncFile(dest)
	}
	if err != nil {
		removeCopy(dest)
		return fmt.Errorf("copy %s: %w", name, err)
	}
	return nil
}

// removeCopy removes a copy's file and whatever SQLite left beside it.
func removeCopy(dest string) {
	for _, suffix := range []string{"", "-journal", "-wal", "-shm"} {
		_ = os.Remove(dest + suffix)
	}
}

// backupTo copies c's database into the new file dest, step by step inside
// one read transaction on c, so that every step sees the same snapshot
// (without it a write between steps would restart the backup).
func (c *conn) backupTo(ctx context.Context, dest string) error {
	if err := c.control("BEGIN"); err != nil {
		return err
	}
	// The snapshot is taken at the first read.
	if err := c.db.Exec("SELECT count(*) FROM sqlite_schema"); err != nil {
		return err
	}
	// The copy is a new file nobody else sees until CopyTo returns: no
	// journal and no fsync while it is written (CopyOptions.Sync makes it
	// durable once done); that halves the copy's time.
	uri := (&url.URL{Scheme: "file", Path: dest,
		RawQuery: "_pragma=journal_mode(off)&_pragma=synchronous(off)"}).String()
	b, err := c.db.BackupInit("main", uri)
	if err != nil {
		return err
	}
	defer b.Close()
	for {
		done, err := b.Step(backupStep)
		if err != nil {
			return err
		}
		if done {
			return b.Close()
		}
		if ctx.Err() != nil {
			return ctxErr(ctx)
		}
	}
}

// finishCopy makes the copy at dest a rollback-journal file, and drops
// the reserved tables when asked. It opens dest with a connection of its
// own (no sandbox: the engine's own statements on a file nobody else has).
func finishCopy(dest string, dropReserved bool) (err error) {
	db, err := sqlite3.OpenFlags(dest, sqlite3.OPEN_READWRITE|sqlite3.OPEN_NOFOLLOW)
	if err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", forge.ErrEngineFault, r)
		}
		err = errors.Join(err, db.Close())
	}()
	if err := db.Exec("PRAGMA journal_mode=DELETE"); err != nil {
		return err
	}
	if !dropReserved {
		return nil
	}
	var drops []string
	st, _, err := db.Prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
	if err != nil {
		return err
	}
	for st.Step() {
		if n := st.ColumnText(0); forge.IsReserved(n) {
			drops = append(drops, `DROP TABLE "`+strings.ReplaceAll(n, `"`, `""`)+`";`)
		}
	}
	if err := errors.Join(st.Err(), st.Close()); err != nil {
		return err
	}
	if len(drops) == 0 {
		return nil
	}
	return db.Exec("PRAGMA secure_delete=ON;BEGIN;" + strings.Join(drops, "") + "COMMIT;")
}

// longDeadline bounds ctx by longRead when it has no deadline of its own.
func longDeadline(ctx context.Context) context.Context {
	if _, ok := ctx.Deadline(); ok {
		return ctx
	}
	return &bounded{Context: ctx, deadline: time.Now().Add(longRead)}
}

// Scan is Read for a long read (a dump): fn's statements see one snapshot
// of the database, on a reader, bounded by ctx (or an hour) instead of the
// query timeout. Writers go on meanwhile (WAL).
func (e *Engine) Scan(ctx context.Context, name string, fn func(forge.Tx) error) error {
	ctx = longDeadline(ctx)
	return e.readUnit(ctx, name, &tx{e: e, parent: ctx}, fn)
}

// ErrNotSettled: Frozen could not fold the write-ahead log into the file
// at once (a reader still needs frames of it); copy another way.
var ErrNotSettled = errors.New("the write-ahead log could not be folded into the database file now")

// Frozen runs fn(path) while database name's file alone holds the whole
// database and nobody writes it: it takes the writer's role (writes
// queue, reads go on), folds the write-ahead log into the file without
// waiting for readers (a passive checkpoint), and calls fn with the file
// only if every frame made it (else ErrNotSettled). fn must be quick
// (a file-system clone): writes wait for it.
func (e *Engine) Frozen(ctx context.Context, name string, fn func(path string) error) error {
	ctx = e.deadline(ctx)
	db, err := e.acquire(ctx, name)
	if err != nil {
		return e.noteFault(name, "", translate(ctx, err))
	}
	defer e.release(db)
	err = db.run(ctx, true, func(c *conn) error {
		nLog, nCkpt, err := c.db.WALCheckpoint("main", sqlite3.CHECKPOINT_PASSIVE)
		if err != nil {
			return err
		}
		if nLog > 0 && nCkpt != nLog {
			return ErrNotSettled
		}
		return fn(db.path)
	})
	if errors.Is(err, ErrNotSettled) {
		return err
	}
	return e.noteFault(name, db.path, translate(ctx, err))
}

// Settle folds the write-ahead log of the database file at path into the
// file and removes the log, so that the file alone is the database. Call
// it only where no connection can be open on the file (inside Exclusive).
func Settle(path string) (err error) {
	if _, err := os.Stat(path + "-wal"); errors.Is(err, os.ErrNotExist) {
		return nil // closed cleanly: nothing to fold
	}
	db, err := sqlite3.OpenFlags(path, sqlite3.OPEN_READWRITE|sqlite3.OPEN_NOFOLLOW)
	if err != nil {
		return fmt.Errorf("settle %s: %w", path, err)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", forge.ErrEngineFault, r)
		}
		err = errors.Join(err, db.Close())
	}()
	if _, _, err := db.WALCheckpoint("main", sqlite3.CHECKPOINT_TRUNCATE); err != nil {
		return fmt.Errorf("settle %s: %w", path, err)
	}
	return nil
}
