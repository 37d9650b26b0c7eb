package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// Entry is one complete backup in a target.
type Entry struct {
	Database string
	Stamp    string    // its folder
	TakenAt  time.Time // from the stamp; the manifest says the same
}

// ErrNoBackup: the target holds no backup that fits.
var ErrNoBackup = errors.New("no backup")

// Catalog lists the complete backups (those with a manifest) in t by
// database, oldest first.
func Catalog(ctx context.Context, t Target) (map[string][]Entry, error) {
	keys, err := t.List(ctx, "")
	if err != nil {
		return nil, err
	}
	cat := map[string][]Entry{}
	for _, k := range keys {
		parts := strings.Split(k, "/")
		if len(parts) != 3 || parts[2] != manifestName || validSeries(parts[0]) != nil {
			continue
		}
		at, err := time.Parse(stampLayout, parts[1])
		if err != nil {
			continue
		}
		cat[parts[0]] = append(cat[parts[0]], Entry{Database: parts[0], Stamp: parts[1], TakenAt: at})
	}
	for _, es := range cat {
		sort.Slice(es, func(i, j int) bool { return es[i].Stamp < es[j].Stamp })
	}
	return cat, nil
}

// readManifest reads and checks the manifest of e.
func readManifest(ctx context.Context, t Target, e Entry) (Manifest, error) {
	rc, err := t.Get(ctx, e.Database+"/"+e.Stamp+"/"+manifestName)
	if err != nil {
		return Manifest{}, err
	}
	defer func() { _ = rc.Close() }()
	data, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes+1))
	if err != nil {
		return Manifest{}, err
	}
	m, err := DecodeManifest(data)
	if err != nil {
		return Manifest{}, err
	}
	if m.Database != e.Database || stamp(m.TakenAt) != e.Stamp {
		return Manifest{}, fmt.Errorf("manifest of %s/%s names %s at %s", e.Database, e.Stamp, m.Database, stamp(m.TakenAt))
	}
	return m, nil
}

// RestoreOptions choose what to restore.
type RestoreOptions struct {
	// DB restores that database only ("" every database and the key
	// store; KeyStore the key store only).
	DB string
	// At picks, for each database, the newest backup taken at or before
	// it (zero: the newest).
	At time.Time
	// Scratch is a directory on the data directory's file system, where
	// each backup's files are downloaded and checked before Install.
	Scratch string
}

// Installer puts a verified backup in place: dir holds each of m's files
// under its name. It may move them away.
type Installer func(ctx context.Context, m Manifest, dir string) error

// Restore downloads, for each database chosen, the backup RestoreOptions
// pick, checks every file's size and SHA-256 against its manifest, and
// hands it to install. It returns the manifests installed. A database
// whose chosen backup fails its check is an error: nothing older is tried
// in its place without the operator's say (--at).
func Restore(ctx context.Context, t Target, o RestoreOptions, install Installer) ([]Manifest, error) {
	if o.DB != "" {
		if err := validSeries(o.DB); err != nil {
			return nil, err
		}
	}
	cat, err := Catalog(ctx, t)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(cat))
	for name := range cat {
		if o.DB == "" || o.DB == name {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var chosen []Entry
	for _, name := range names {
		es := cat[name]
		i := len(es) - 1
		if !o.At.IsZero() {
			i = sort.Search(len(es), func(i int) bool { return es[i].TakenAt.After(o.At) }) - 1
		}
		if i >= 0 {
			chosen = append(chosen, es[i])
		}
	}
	if len(chosen) == 0 {
		what := "any database"
		if o.DB != "" {
			what = o.DB
		}
		if !o.At.IsZero() {
			return nil, fmt.Errorf("%w of %s at or before %s in %s", ErrNoBackup, what, o.At.UTC().Format(time.RFC3339), t)
		}
		return nil, fmt.Errorf("%w of %s in %s", ErrNoBackup, what, t)
	}
	var done []Manifest
	for _, e := range chosen {
		m, err := restoreOne(ctx, t, e, o.Scratch, install)
		if err != nil {
			return done, fmt.Errorf("restore %s from %s: %w", e.Database, e.Stamp, err)
		}
		done = append(done, m)
	}
	return done, nil
}

func restoreOne(ctx context.Context, t Target, e Entry, scratch string, install Installer) (Manifest, error) {
	m, err := readManifest(ctx, t, e)
	if err != nil {
		return Manifest{}, err
	}
	dir, err := os.MkdirTemp(scratch, "restore-")
	if err != nil {
		return Manifest{}, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	for _, f := range m.Files {
		if err := download(ctx, t, e.Database+"/"+e.Stamp+"/"+f.Name, filepath.Join(dir, f.Name), f); err != nil {
			return Manifest{}, err
		}
	}
	return m, install(ctx, m, dir)
}

// download copies key to path and checks it against f.
func download(ctx context.Context, t Target, key, path string, f File) error {
	rc, err := t.Get(ctx, key)
	if err != nil {
		return err
	}
	defer func() { _ = rc.Close() }()
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(ctxReader{ctx, rc}, f.Size+1))
	if err == nil {
		err = out.Sync()
	}
	if err = errors.Join(err, out.Close()); err != nil {
		return fmt.Errorf("download %s: %w", key, err)
	}
	if n != f.Size {
		return fmt.Errorf("%s: %d bytes, the manifest says %d", key, n, f.Size)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != f.SHA256 {
		return fmt.Errorf("%s: SHA-256 %s, the manifest says %s", key, sum, f.SHA256)
	}
	return nil
}
