package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/praetorian/db-forge/config"
	"github.com/praetorian/db-forge/volumes"
	"github.com/praetorian/db-forge/wasm"
)

// The key database's last good copy: <data>/.forge/meta.good.db, written
// through SQLite's backup API after key changes (at most once a second) and at every start
// whose key database checks out. A damaged key database stops the start
// (checkKeyStore) with the steps that put this copy in its place.

// metaGoodFile is the last good copy of metaFile, beside it.
const metaGoodFile = "meta.good.db"

// goodCopyMode: the copy holds what meta.db holds (key digests), for the
// gateway's user alone like meta.db itself.
const goodCopyMode = 0o600

// goodCopy keeps the last good copy of the key database. A copy is
// taken off the request path: it costs 2-17 ms on a VM's disk (the
// fsync, with outliers past 100 ms while other work writes), 3-10 times
// the key change itself (TestDamagedKeyStore logs it), so key changes
// only ask for one, and a goroutine takes it, one for any number of
// changes asked meanwhile. close takes the last one at shutdown: after a
// clean stop the copy has every change.
type goodCopy struct {
	e    *wasm.Engine
	path string
	log  *zap.Logger

	on   atomic.Bool   // refresh asks for copies (after the start's check)
	kick chan struct{} // a copy is asked for; capacity 1
	stop chan struct{} // closed by close
	done chan struct{} // closed when the goroutine has ended
}

func newGoodCopy(e *wasm.Engine, path string, log *zap.Logger) *goodCopy {
	return &goodCopy{e: e, path: path, log: log,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// enable takes a copy now (the start found the store sound) and starts
// the goroutine that takes one after key changes (at most one a second).
func (g *goodCopy) enable(ctx context.Context) {
	g.copy(ctx)
	g.on.Store(true)
	go g.run()
}

// refresh asks for a copy: the key database changed.
func (g *goodCopy) refresh() {
	if !g.on.Load() {
		return
	}
	select {
	case g.kick <- struct{}{}:
	default: // one is asked for already, and will see this change
	}
}

func (g *goodCopy) run() {
	defer close(g.done)
	final := func() {
		select {
		case <-g.kick:
			g.copyNow()
		default:
		}
	}
	for {
		select {
		case <-g.kick:
		case <-g.stop:
			final()
			return
		}
		g.copyNow()
		// At most one copy per copyInterval: a burst of key changes (a
		// loop of spawns, each minting a key) costs one copy, not one
		// each, and leaves the CPU and the disk to the requests. The copy
		// lags the store by that much at most; close takes the last one.
		t := time.NewTimer(copyInterval)
		select {
		case <-t.C:
		case <-g.stop:
			t.Stop()
			final()
			return
		}
	}
}

// copyInterval is the least time between two copies.
const copyInterval = time.Second

func (g *goodCopy) copyNow() {
	ctx, cancel := context.WithTimeout(context.Background(), copyTimeout)
	defer cancel()
	g.copy(ctx)
}

// copyTimeout bounds one copy of the key database.
const copyTimeout = 30 * time.Second

// close takes the copy still asked for and stops the goroutine; it must
// run before the engine closes. Without enable it does nothing.
func (g *goodCopy) close(ctx context.Context) error {
	if !g.on.Swap(false) {
		return nil
	}
	close(g.stop)
	select {
	case <-g.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("key database copy: %w", ctx.Err())
	}
}

// copy copies the key database over the last good copy if it is sound.
// A failed copy does not undo the change, which is stored; it is logged,
// and the previous copy stays.
func (g *goodCopy) copy(ctx context.Context) {
	start := time.Now()
	if err := g.take(ctx); err != nil {
		g.log.Error("key database: the last good copy was not refreshed; the previous one stays",
			zap.String("copy", g.path), zap.Error(err))
		return
	}
	g.log.Debug("key database copied", zap.String("copy", g.path), zap.Duration("took", time.Since(start)))
}

func (g *goodCopy) take(ctx context.Context) error {
	// Never overwrite a good copy with a damaged store: the backup API
	// copies pages as they are.
	problems, err := g.e.IntegrityCheck(ctx, metaDB)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("the key database is damaged (%s): stop the gateway and restore "+
			"the last good copy (docs/OPERATIONS.md, Recovering from damage)", strings.Join(problems, "; "))
	}
	// The engine's copy is made with the gateway's umask (group-readable);
	// it gets meta.db's mode before it takes the copy's name.
	stage := g.path + ".new"
	if err := g.e.Snapshot(ctx, metaDB, stage); err != nil {
		return err
	}
	if err := os.Chmod(stage, goodCopyMode); err != nil {
		return err
	}
	return os.Rename(stage, g.path)
}

// shownStateDir is the gateway's state directory (<data>/.forge) as the
// operator sees it: on the host when the gateway runs in a container.
func shownStateDir(cfg config.Config, vol *volumes.Layout) string {
	if cfg.HostDataDir != "" {
		return filepath.Join(cfg.HostDataDir, ".forge")
	}
	return vol.SystemPath()
}

// checkKeyStore runs integrity_check on the key database before anything
// reads it. A damaged one is an error that names the file, says what
// SQLite found, and gives the exact steps of recovery, from the last good
// copy when there is one. dir is the state directory as the operator
// sees it.
func checkKeyStore(ctx context.Context, eng *wasm.Engine, good *goodCopy, dir string) error {
	problems, err := eng.IntegrityCheck(ctx, metaDB)
	if err != nil {
		return fmt.Errorf("key database %s: %w", filepath.Join(dir, metaFile), err)
	}
	if len(problems) == 0 {
		return nil
	}
	var copied time.Time
	if fi, err := os.Stat(good.path); err == nil && fi.Mode().IsRegular() {
		copied = fi.ModTime().UTC()
	} else if !errors.Is(err, fs.ErrNotExist) && err != nil {
		return fmt.Errorf("key database %s is damaged (%s), and its last good copy cannot be read: %w",
			filepath.Join(dir, metaFile), strings.Join(problems, "; "), err)
	}
	return &damagedKeyStoreError{dir: dir, problems: problems, copied: copied}
}

// damagedKeyStoreError is why the gateway does not start: its key
// database is damaged. Its text is the recovery procedure.
type damagedKeyStoreError struct {
	dir      string
	problems []string
	copied   time.Time // the last good copy's time; zero: there is none
}

func (e *damagedKeyStoreError) Error() string {
	meta := filepath.Join(e.dir, metaFile)
	good := filepath.Join(e.dir, metaGoodFile)
	problems := e.problems
	if len(problems) > 3 {
		problems = append(problems[:3:3], fmt.Sprintf("and %d more", len(e.problems)-3))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the key database %s is damaged (SQLite: %s). It holds every database's API keys, "+
		"so the gateway does not start without it. The databases themselves are not affected.\n", meta, strings.Join(problems, "; "))
	b.WriteString("To recover, with the gateway stopped (it is), as the gateway's user:\n")
	fmt.Fprintf(&b, "  mv %s %s.damaged\n", meta, meta)
	fmt.Fprintf(&b, "  rm -f %s-wal %s-shm\n", meta, meta)
	if !e.copied.IsZero() {
		fmt.Fprintf(&b, "  cp -p %s %s\n", good, meta)
		fmt.Fprintf(&b, "then start the gateway. %s is the last good copy the gateway kept, of %s "+
			"(it is refreshed after key changes, at most once a second, and at shutdown; the log says so when that fails): "+
			"keys created after that time are gone, and keys revoked after it are valid again; revoke those again.",
			good, e.copied.Format(time.RFC3339))
		return b.String()
	}
	fmt.Fprintf(&b, "then start the gateway, which makes an empty key database: there is no last good copy (%s) "+
		"to restore. Every database key is gone, the data is not; the admin key still works (it is FORGE_ADMIN_KEY "+
		"or %s, not in the key database): mint each database's keys again with "+
		"POST /admin/databases/{db_name}/keys and hand them out.", good, filepath.Join(e.dir, adminKeyFile))
	return b.String()
}
