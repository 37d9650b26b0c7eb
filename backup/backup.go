// Package backup takes consistent copies of every database that changed,
// and of the key store, to a Target (a directory or an S3-compatible
// bucket) on a timer, keeps the last N of each, and restores them. It knows
// no engine and no data directory: it is handed a Source (the wiring's
// adapter over the engine's CopyTo and the volumes), and restore hands each
// verified backup to an Installer.
//
// In the target a backup is <database>/<stamp>/ holding data.db, the
// database's sidecar records, and manifest.json, written last (see
// DESIGN.md).
package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Source is what the service backs up: the databases and the key store
// (KeyStore), each copied by the engine while writers go on.
type Source interface {
	// Databases lists the databases there are now (not KeyStore).
	Databases() ([]string, error)
	// Fingerprint is a cheap sign of change of name (say, the sizes and
	// modification times of its file and write-ahead log): two equal
	// fingerprints mean no commit in between. An error wrapping
	// fs.ErrNotExist: the database is gone.
	Fingerprint(name string) (string, error)
	// CopyTo writes a transactionally consistent copy of name to dest.
	CopyTo(ctx context.Context, name, dest string) error
	// Sidecars are name's small records to keep with it (key → content).
	Sidecars(name string) (map[string][]byte, error)
}

// Config says how often, how many, and where copies are made.
type Config struct {
	Interval time.Duration // between passes; the first runs at once
	Keep     int           // backups kept per database (the newest)
	// Concurrency bounds the databases copied and uploaded at once
	// (default 2): a pass never takes more of the disk and the CPU.
	Concurrency int
	Scratch     string           // directory of the copies being uploaded
	Now         func() time.Time // default time.Now
	// Pacer, when set, paces the upload of each copy so that it gives
	// way to the requests the gateway serves meanwhile.
	Pacer Pacer
}

// Pacer lets an upload give way to other work: Start begins the pacing of
// one copy; the function it returns is called after each MiB read, with
// the time that MiB took (reading, hashing, storing), and returns when the
// upload may go on, or with ctx's error.
type Pacer interface {
	Start() (yield func(ctx context.Context, took time.Duration) error)
}

// pacedReader reads r and yields after every MiB.
type pacedReader struct {
	ctx     context.Context
	r       io.Reader
	yield   func(ctx context.Context, took time.Duration) error
	since   time.Time
	pending int
}

func (p *pacedReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if p.pending += n; p.pending >= 1<<20 && err == nil {
		err = p.yield(p.ctx, time.Since(p.since))
		p.pending, p.since = 0, time.Now()
	}
	return n, err
}

// paced is r paced by the service's pacer, if it has one.
func (s *Service) paced(ctx context.Context, r io.Reader) io.Reader {
	if s.cfg.Pacer == nil {
		return r
	}
	return &pacedReader{ctx: ctx, r: r, yield: s.cfg.Pacer.Start(), since: time.Now()}
}

// Stats are the service's counters since start.
type Stats struct {
	Done, Failed, Skipped int64
	Bytes                 int64     // stored in the target
	LastSuccess           time.Time // zero: none yet
}

// Service takes backups.
type Service struct {
	t   Target
	src Source
	cfg Config
	log *zap.Logger

	mu   sync.Mutex
	last map[string]string // fingerprint of each database's last backup

	done, failed, skipped, bytes, lastOK atomic.Int64
}

// New returns a service; Run starts it.
func New(t Target, src Source, cfg Config, log *zap.Logger) *Service {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 2
	}
	if cfg.Keep <= 0 {
		cfg.Keep = 1
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{t: t, src: src, cfg: cfg, log: log, last: map[string]string{}}
}

// Stats returns the counters.
func (s *Service) Stats() Stats {
	st := Stats{Done: s.done.Load(), Failed: s.failed.Load(), Skipped: s.skipped.Load(), Bytes: s.bytes.Load()}
	if ns := s.lastOK.Load(); ns != 0 {
		st.LastSuccess = time.Unix(0, ns)
	}
	return st
}

// Run takes a pass at once and then every Interval, until ctx ends. It
// first reads the newest manifest of each database in the target, so a
// restarted gateway does not copy again what did not change.
func (s *Service) Run(ctx context.Context) {
	if err := s.seed(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("backup: the target's manifests could not be read; every database is copied", zap.Error(err))
	}
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		if err := s.Pass(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("backup pass: some databases were not backed up; the next pass tries again", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) seed(ctx context.Context) error {
	cat, err := Catalog(ctx, s.t)
	if err != nil {
		return err
	}
	for series, entries := range cat {
		m, err := readManifest(ctx, s.t, entries[len(entries)-1])
		if err != nil {
			s.log.Warn("backup: unreadable manifest; the database is copied again", zap.String("db", series), zap.Error(err))
			continue
		}
		s.mu.Lock()
		s.last[series] = m.Fingerprint
		s.mu.Unlock()
	}
	return nil
}

// Pass backs up every database changed since its last backup, and the key
// store, at most Concurrency at once.
func (s *Service) Pass(ctx context.Context) error {
	names, err := s.src.Databases()
	if err != nil {
		return err
	}
	names = append([]string{KeyStore}, names...)
	sem := make(chan struct{}, s.cfg.Concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, name := range names {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := s.one(ctx, name); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// one backs up database name if it changed.
func (s *Service) one(ctx context.Context, name string) error {
	fp, err := s.src.Fingerprint(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // deleted since the list
	}
	if err != nil {
		return s.fail(name, err)
	}
	s.mu.Lock()
	same := s.last[name] == fp
	s.mu.Unlock()
	if same {
		s.skipped.Add(1)
		return nil
	}
	start := s.cfg.Now()
	m, err := s.take(ctx, name, fp, start)
	if err != nil {
		if _, ferr := s.src.Fingerprint(name); errors.Is(ferr, fs.ErrNotExist) {
			return nil // deleted while it was copied
		}
		return s.fail(name, err)
	}
	var size int64
	for _, f := range m.Files {
		size += f.Size
	}
	s.mu.Lock()
	s.last[name] = fp
	s.mu.Unlock()
	s.done.Add(1)
	s.bytes.Add(size)
	s.lastOK.Store(s.cfg.Now().UnixNano())
	s.log.Info("backup taken", zap.String("db", name), zap.String("at", stamp(m.TakenAt)),
		zap.Int64("bytes", size), zap.Duration("took", time.Since(start)))
	if err := s.prune(ctx, name); err != nil {
		s.log.Warn("backup: old backups not removed", zap.String("db", name), zap.Error(err))
	}
	return nil
}

func (s *Service) fail(name string, err error) error {
	s.failed.Add(1)
	s.log.Error("backup failed", zap.String("db", name), zap.String("target", s.t.String()), zap.Error(err))
	return fmt.Errorf("backup %s: %w", name, err)
}

// take copies name to the scratch directory, uploads the copy and the
// sidecars, then the manifest.
func (s *Service) take(ctx context.Context, name, fp string, at time.Time) (Manifest, error) {
	m := Manifest{Version: manifestVersion, Database: name, TakenAt: at.UTC(), Fingerprint: fp}
	dir := name + "/" + stamp(at) + "/"
	copyPath := filepath.Join(s.cfg.Scratch, "backup-"+name+"-"+stamp(at)+".db") // ".keys" keeps its dot: no database is named so
	defer func() { _ = os.Remove(copyPath) }()
	if err := s.src.CopyTo(ctx, name, copyPath); err != nil {
		return m, err
	}
	f, err := os.Open(copyPath)
	if err != nil {
		return m, err
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return m, err
	}
	file, err := put(ctx, s.t, dir, DataFile, s.paced(ctx, f), fi.Size())
	if err != nil {
		return m, err
	}
	m.Files = append(m.Files, file)
	sidecars, err := s.src.Sidecars(name)
	if err != nil {
		return m, err
	}
	keys := make([]string, 0, len(sidecars))
	for k := range sidecars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		file, err := put(ctx, s.t, dir, k+".json", strings.NewReader(string(sidecars[k])), int64(len(sidecars[k])))
		if err != nil {
			return m, err
		}
		m.Files = append(m.Files, file)
	}
	m.FinishedAt = s.cfg.Now().UTC()
	if err := m.validate(); err != nil {
		return m, err
	}
	data := m.Encode()
	if err := s.t.Put(ctx, dir+manifestName, strings.NewReader(string(data)), int64(len(data))); err != nil {
		return m, err
	}
	return m, nil
}

// put stores r under dir+name, hashing it on the way.
func put(ctx context.Context, t Target, dir, name string, r io.Reader, size int64) (File, error) {
	h := sha256.New()
	if err := t.Put(ctx, dir+name, io.TeeReader(r, h), size); err != nil {
		return File{}, err
	}
	return File{Name: name, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// prune keeps the newest Keep complete backups of name; it also removes
// the files of incomplete ones (a failed upload) older than the newest
// complete one. A manifest goes first, so a backup half removed is
// incomplete, never a complete one missing a file.
func (s *Service) prune(ctx context.Context, name string) error {
	keys, err := s.t.List(ctx, name+"/")
	if err != nil {
		return err
	}
	files := map[string][]string{}
	var complete []string
	for _, k := range keys {
		st, file, ok := splitKey(name, k)
		if !ok {
			continue
		}
		files[st] = append(files[st], k)
		if file == manifestName {
			complete = append(complete, st)
		}
	}
	if len(complete) == 0 {
		return nil
	}
	slices.Sort(complete)
	keep := complete[max(len(complete)-s.cfg.Keep, 0):]
	var errs []error
	for st, ks := range files {
		if slices.Contains(keep, st) || st > keep[len(keep)-1] {
			continue
		}
		slices.SortFunc(ks, func(a, b string) int { // the manifest first
			return boolInt(!strings.HasSuffix(a, "/"+manifestName)) - boolInt(!strings.HasSuffix(b, "/"+manifestName))
		})
		for _, k := range ks {
			if err := s.t.Delete(ctx, k); err != nil {
				errs = append(errs, err)
				break
			}
		}
	}
	return errors.Join(errs...)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// splitKey parses <name>/<stamp>/<file>.
func splitKey(name, key string) (st, file string, ok bool) {
	rest, ok := strings.CutPrefix(key, name+"/")
	if !ok {
		return "", "", false
	}
	st, file, ok = strings.Cut(rest, "/")
	if !ok || strings.Contains(file, "/") {
		return "", "", false
	}
	if _, err := time.Parse(stampLayout, st); err != nil {
		return "", "", false
	}
	return st, file, true
}
