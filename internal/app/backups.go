package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/praetorian/db-forge/backup"
	"github.com/praetorian/db-forge/config"
	"github.com/praetorian/db-forge/metrics"
	"github.com/praetorian/db-forge/snapshot"
	"github.com/praetorian/db-forge/volumes"
	"github.com/praetorian/db-forge/wasm"
)

// Backups (package backup): the engine's consistent copy and the data
// directory's files are its Source; restore puts each verified backup
// back in the data directory, with the gateway stopped.

// backupSource is backup.Source over the engine and the volumes. The key
// store (backup.KeyStore) is the engine's metaDB.
type backupSource struct {
	eng *wasm.Engine
	vol *volumes.Layout
}

var _ backup.Source = backupSource{}

func (s backupSource) Databases() ([]string, error) { return s.vol.List() }

// file is name's SQLite file, and its name in the engine.
func (s backupSource) file(name string) (path, engineName string, err error) {
	if name == backup.KeyStore {
		return s.vol.SystemPath(metaFile), metaDB, nil
	}
	p, err := s.vol.Path(name)
	return p, name, err
}

// Fingerprint is the size and modification time of the file and of its
// write-ahead log: every commit appends to the log (or, after a
// checkpoint reset it, rewrites it), so one of them moves. Reads change
// neither. A checkpoint alone also changes them: one copy too many, never
// one too few.
func (s backupSource) Fingerprint(name string) (string, error) {
	p, _, err := s.file(name)
	if err != nil {
		return "", err
	}
	return fingerprint(p)
}

// fingerprint is Fingerprint of the SQLite file at p.
func fingerprint(p string) (string, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	fp := fmt.Sprintf("%d.%d", fi.Size(), fi.ModTime().UnixNano())
	if wal, err := os.Stat(p + "-wal"); err == nil {
		fp += fmt.Sprintf("/%d.%d", wal.Size(), wal.ModTime().UnixNano())
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	return fp, nil
}

// CopyTo is the engine's copy: writers go on; the bookkeeping tables stay
// (a restore is the same database).
func (s backupSource) CopyTo(ctx context.Context, name, dest string) error {
	_, engineName, err := s.file(name)
	if err != nil {
		return err
	}
	return s.eng.CopyTo(ctx, engineName, dest, wasm.CopyOptions{})
}

// Sidecars are the records beside a database's file (<key>.json).
func (s backupSource) Sidecars(name string) (map[string][]byte, error) {
	if name == backup.KeyStore {
		return nil, nil
	}
	dir, err := s.vol.Dir(name)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, e := range entries {
		key, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		data, err := s.vol.ReadSidecar(name, key)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[key] = data
	}
	return out, nil
}

// startBackups starts the backup service when FORGE_BACKUP_TARGET is set,
// and registers its metrics; stop ends it (waiting for the copy under
// way to be cancelled) and may be called more than once.
func startBackups(ctx context.Context, cfg config.Config, environ []string, vol *volumes.Layout, eng *wasm.Engine,
	pacer backup.Pacer, reg *metrics.Registry, log *zap.Logger) (stop func(), err error) {
	if cfg.BackupTarget == "" {
		return func() {}, nil
	}
	target, err := backup.Open(cfg.BackupTarget, environ)
	if err != nil {
		return nil, fmt.Errorf("FORGE_BACKUP_TARGET: %w", err)
	}
	scratch, err := vol.ScratchDir()
	if err != nil {
		return nil, err
	}
	svc := backup.New(target, backupSource{eng, vol}, backup.Config{
		Interval: cfg.BackupInterval, Keep: cfg.BackupKeep, Scratch: scratch, Pacer: pacer,
	}, log)
	registerBackupMetrics(reg, svc)
	bctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(bctx) }()
	log.Info("backups on", zap.String("target", target.String()), zap.Duration("interval", cfg.BackupInterval),
		zap.Int("keep", cfg.BackupKeep))
	var once sync.Once
	return func() { once.Do(func() { cancel(); <-done }) }, nil
}

func registerBackupMetrics(reg *metrics.Registry, svc *backup.Service) {
	reg.Counter("forge_backups_total", "Backups of a database (or of the key store) stored in FORGE_BACKUP_TARGET.",
		func() float64 { return float64(svc.Stats().Done) })
	reg.Counter("forge_backup_failures_total", "Backups that failed (the log says why); the next pass tries again.",
		func() float64 { return float64(svc.Stats().Failed) })
	reg.Counter("forge_backup_bytes_total", "Bytes stored in FORGE_BACKUP_TARGET by backups.",
		func() float64 { return float64(svc.Stats().Bytes) })
	reg.Gauge("forge_backup_last_success_timestamp_seconds", "Unix time of the last backup stored (0: none since start).",
		func() float64 {
			if t := svc.Stats().LastSuccess; !t.IsZero() {
				return float64(t.UnixNano()) / 1e9
			}
			return 0
		})
}

// Restore is `forge-gateway restore --from <target> [--db name] [--at
// time]`: it rebuilds the data directory FORGE_DATA_DIR names from the
// backups in target (every database and the key store, or database name
// alone; --db .keys is the key store), as of the newest backup of each
// taken at or before --at. The gateway must be stopped. It writes what it
// restored to out.
func Restore(ctx context.Context, args, environ []string, out io.Writer) error {
	fl := flag.NewFlagSet("forge-gateway restore", flag.ContinueOnError)
	fl.SetOutput(out)
	from := fl.String("from", "", "backup target: a directory or s3://bucket/prefix (default FORGE_BACKUP_TARGET)")
	db := fl.String("db", "", "restore this database only (.keys: the key store only); default every database and the key store")
	at := fl.String("at", "", "restore the newest backup taken at or before this time (RFC 3339, e.g. 2026-11-30T12:00:00Z); default the newest")
	fl.Usage = func() {
		fmt.Fprintln(out, "usage: forge-gateway restore --from <target> [--db name] [--at time]\n\n"+
			"Rebuilds the data directory that FORGE_DATA_DIR names (or one database in it) from backups. Stop the gateway first.")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return config.ErrHelp
		}
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("restore: unexpected argument %q", fl.Arg(0))
	}
	cfg, err := config.Load(nil, environ, out)
	if err != nil {
		return err
	}
	if *from == "" {
		*from = cfg.BackupTarget
	}
	if *from == "" {
		return errors.New("restore: --from is required (or FORGE_BACKUP_TARGET)")
	}
	var when time.Time
	if *at != "" {
		if when, err = time.Parse(time.RFC3339Nano, *at); err != nil {
			return fmt.Errorf("restore: --at %q: want a time like 2026-11-30T12:00:00Z", *at)
		}
	}
	target, err := backup.Open(*from, environ)
	if err != nil {
		return err
	}
	syscall.Umask(0o007) // as the gateway: files for itself and its workers' group
	unlock, err := volumes.Lock(cfg.DataDir)
	if errors.Is(err, volumes.ErrLocked) {
		return fmt.Errorf("restore: %w: stop the gateway first", err)
	}
	if err != nil {
		return err
	}
	defer unlock()
	vol, err := volumes.Open(cfg.DataDir)
	if err != nil {
		return err
	}
	scratch, err := vol.ScratchDir()
	if err != nil {
		return err
	}
	done, err := backup.Restore(ctx, target, backup.RestoreOptions{DB: *db, At: when, Scratch: scratch},
		installer(vol, mib(cfg.MaxDBSizeMB)))
	for _, m := range done {
		var size int64
		for _, f := range m.Files {
			size += f.Size
		}
		what := "database " + m.Database
		if m.Database == backup.KeyStore {
			what = "key store"
		}
		fmt.Fprintf(out, "restored %s: backup of %s, %d bytes\n", what, m.TakenAt.Format(time.RFC3339Nano), size)
	}
	if err != nil {
		return err
	}
	if *db == "" && !hasKeyStore(done) {
		fmt.Fprintln(out, "warning: the target holds no backup of the key store: database keys are not restored "+
			"(mint them again with POST /admin/databases/{db_name}/keys)")
	}
	fmt.Fprintf(out, "data directory %s restored; start the gateway\n", vol.Root())
	return nil
}

func hasKeyStore(ms []backup.Manifest) bool {
	for _, m := range ms {
		if m.Database == backup.KeyStore {
			return true
		}
	}
	return false
}

// installer puts a backup in the data directory: the file is checked
// (a SQLite header, whole pages, the size quota) and renamed over the
// database's (its old log and shared memory removed first), the sidecar
// records written beside it.
func installer(vol *volumes.Layout, maxBytes int64) backup.Installer {
	return func(_ context.Context, m backup.Manifest, dir string) error {
		src := filepath.Join(dir, backup.DataFile)
		if err := checkFile(src, maxBytes); err != nil {
			return err
		}
		var dest string
		mode := os.FileMode(0o660)
		if m.Database == backup.KeyStore {
			dest, mode = vol.SystemPath(metaFile), 0o600
		} else {
			d, err := vol.Dir(m.Database)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(d, 0o770); err != nil {
				return err
			}
			if dest, err = vol.Path(m.Database); err != nil {
				return err
			}
		}
		for _, suffix := range []string{"-wal", "-shm", "-journal"} {
			if err := os.Remove(dest + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		if err := os.Chmod(src, mode); err != nil {
			return err
		}
		if err := os.Rename(src, dest); err != nil {
			return err
		}
		for _, f := range m.Files {
			key, ok := backup.Sidecar(f.Name)
			if !ok || m.Database == backup.KeyStore {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, f.Name))
			if err != nil {
				return err
			}
			if err := vol.WriteSidecar(m.Database, key, data); err != nil {
				return err
			}
		}
		return syncPath(filepath.Dir(dest))
	}
}

// checkFile runs the import's header checks on a restored file.
func checkFile(path string, maxBytes int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	head := make([]byte, 100)
	n, _ := io.ReadFull(f, head)
	if _, err := snapshot.ValidateFile(head[:n], fi.Size(), maxBytes); err != nil {
		return fmt.Errorf("backup file: %w", err)
	}
	return nil
}

func syncPath(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}
