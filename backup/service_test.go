package backup_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/praetorian/db-forge/backup"
)

// fileSource is a Source over plain files (the engine's copy is the
// wiring's; here a database is a file whose content is its data).
type fileSource struct {
	dir      string
	mu       sync.Mutex
	copies   map[string]int
	inFlight atomic.Int32
	most     atomic.Int32
	fail     string // CopyTo of this name fails
	vanish   string // CopyTo of this name finds it deleted
}

func newFileSource(t *testing.T) *fileSource {
	return &fileSource{dir: t.TempDir(), copies: map[string]int{}}
}

func (s *fileSource) write(t *testing.T, name, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.dir, name), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (s *fileSource) Databases() ([]string, error) {
	es, err := os.ReadDir(s.dir)
	var names []string
	for _, e := range es {
		if !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	return names, err
}

func (s *fileSource) Fingerprint(name string) (string, error) {
	fi, err := os.Stat(filepath.Join(s.dir, name))
	if err != nil {
		return "", err
	}
	data, _ := os.ReadFile(filepath.Join(s.dir, name))
	return fmt.Sprintf("%d:%d:%s", fi.Size(), fi.ModTime().UnixNano(), data), nil
}

func (s *fileSource) CopyTo(ctx context.Context, name, dest string) error {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for m := s.most.Load(); n > m && !s.most.CompareAndSwap(m, n); m = s.most.Load() {
	}
	time.Sleep(5 * time.Millisecond) // let copies overlap if the bound allows
	if name == s.fail {
		return errors.New("copy refused")
	}
	if name == s.vanish {
		_ = os.Remove(filepath.Join(s.dir, name))
	}
	data, err := os.ReadFile(filepath.Join(s.dir, name))
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.copies[name]++
	s.mu.Unlock()
	return os.WriteFile(dest, data, 0o600)
}

func (s *fileSource) Sidecars(name string) (map[string][]byte, error) {
	if name == backup.KeyStore {
		return nil, nil
	}
	return map[string][]byte{"instance": []byte(`{"name":"` + name + `"}`)}, nil
}

// clock is a Now that moves one second per call.
type clock struct{ t atomic.Int64 }

func (c *clock) now() time.Time {
	return time.Unix(0, c.t.Add(int64(time.Second))).UTC()
}

func TestServiceAgainstTargets(t *testing.T) {
	for name, open := range targets(t) {
		t.Run(name, func(t *testing.T) { testService(t, open(t)) })
	}
}

func testService(t *testing.T, tg backup.Target) {
	ctx := context.Background()
	src := newFileSource(t)
	src.write(t, ".keys", "keys-1")
	for i := range 5 {
		src.write(t, fmt.Sprintf("db%d", i), fmt.Sprintf("data-%d-v1", i))
	}
	clk := &clock{}
	clk.t.Store(time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC).UnixNano())
	cfg := backup.Config{Interval: time.Hour, Keep: 2, Concurrency: 2, Scratch: t.TempDir(), Now: clk.now}
	svc := backup.New(tg, src, cfg, zaptest.NewLogger(t))
	if err := svc.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if st := svc.Stats(); st.Done != 6 || st.Failed != 0 || st.LastSuccess.IsZero() || st.Bytes == 0 {
		t.Fatalf("first pass: %+v", st)
	}
	if most := src.most.Load(); most > 2 {
		t.Fatalf("%d copies at once, the bound is 2", most)
	}
	mid := clk.now() // after the first pass, before the second
	// Nothing changed: nothing copied.
	if err := svc.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if st := svc.Stats(); st.Done != 6 || st.Skipped != 6 {
		t.Fatalf("unchanged pass: %+v", st)
	}
	// One database changes, three times: three backups, two kept.
	for v := 2; v <= 4; v++ {
		src.write(t, "db3", fmt.Sprintf("data-3-v%d", v))
		if err := svc.Pass(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if src.copies["db3"] != 4 || src.copies["db1"] != 1 {
		t.Fatalf("copies: %v", src.copies)
	}
	cat, err := backup.Catalog(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	if len(cat) != 6 || len(cat["db3"]) != 2 || len(cat["db1"]) != 1 || len(cat[backup.KeyStore]) != 1 {
		t.Fatalf("catalog: %v", cat)
	}
	keys, _ := tg.List(ctx, "db3/")
	if len(keys) != 6 { // two backups of data.db, instance.json, manifest.json
		t.Fatalf("db3 keeps %v", keys)
	}

	// A restarted service reads the manifests and copies nothing again.
	again := backup.New(tg, src, cfg, zaptest.NewLogger(t))
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { again.Run(runCtx); close(ran) }()
	waitFor(t, func() bool { return again.Stats().Skipped == 6 })
	stop()
	<-ran
	if st := again.Stats(); st.Done != 0 {
		t.Fatalf("restarted service copied again: %+v", st)
	}

	// Restore: the newest of each, or as of a time.
	got := map[string]string{}
	install := func(_ context.Context, m backup.Manifest, dir string) error {
		data, err := os.ReadFile(filepath.Join(dir, backup.DataFile))
		if err != nil {
			return err
		}
		if m.Database != backup.KeyStore {
			if _, err := os.Stat(filepath.Join(dir, "instance.json")); err != nil {
				return err
			}
		}
		got[m.Database] = string(data)
		return nil
	}
	ms, err := backup.Restore(ctx, tg, backup.RestoreOptions{Scratch: t.TempDir()}, install)
	if err != nil || len(ms) != 6 {
		t.Fatalf("restore: %d, %v", len(ms), err)
	}
	if got["db3"] != "data-3-v4" || got["db0"] != "data-0-v1" || got[backup.KeyStore] != "keys-1" {
		t.Fatalf("restored %v", got)
	}
	clear(got)
	// db3's v1 backup was pruned (keep 2): as of mid, db3 has none.
	if _, err := backup.Restore(ctx, tg, backup.RestoreOptions{DB: "db3", At: mid, Scratch: t.TempDir()}, install); !errors.Is(err, backup.ErrNoBackup) {
		t.Fatalf("db3 as of %v: %v, want ErrNoBackup", mid, err)
	}
	if _, err := backup.Restore(ctx, tg, backup.RestoreOptions{DB: "db1", At: mid, Scratch: t.TempDir()}, install); err != nil || got["db1"] != "data-1-v1" {
		t.Fatalf("db1 as of mid: %v, %v", got, err)
	}
	third := cat["db3"][0].TakenAt // v3's backup
	if _, err := backup.Restore(ctx, tg, backup.RestoreOptions{DB: "db3", At: third.Add(time.Millisecond), Scratch: t.TempDir()}, install); err != nil || got["db3"] != "data-3-v3" {
		t.Fatalf("db3 at its v3 backup: %v, %v", got, err)
	}
	if _, err := backup.Restore(ctx, tg, backup.RestoreOptions{DB: "../x", Scratch: t.TempDir()}, install); err == nil {
		t.Fatal("a bad name was restored")
	}

	// A file altered in the target fails its checksum; nothing is installed.
	e := cat["db0"][0]
	if err := tg.Put(ctx, "db0/"+e.Stamp+"/data.db", strings.NewReader("data-0-XX"), 9); err != nil {
		t.Fatal(err)
	}
	clear(got)
	if _, err := backup.Restore(ctx, tg, backup.RestoreOptions{DB: "db0", Scratch: t.TempDir()}, install); err == nil || !strings.Contains(err.Error(), "SHA-256") || len(got) != 0 {
		t.Fatalf("altered backup: %v, installed %v", err, got)
	}

	// A failing copy is counted and logged; the others go on.
	src.fail = "db2"
	src.write(t, "db2", "data-2-v2")
	src.write(t, "db4", "data-4-v2")
	if err := svc.Pass(ctx); err == nil || !strings.Contains(err.Error(), "db2") {
		t.Fatalf("pass with a failing copy: %v", err)
	}
	if st := svc.Stats(); st.Failed != 1 || src.copies["db4"] != 2 {
		t.Fatalf("after a failure: %+v, copies %v", st, src.copies)
	}
	// A deleted database is no failure, nor one deleted while it is copied.
	if err := os.Remove(filepath.Join(src.dir, "db4")); err != nil {
		t.Fatal(err)
	}
	src.fail, src.vanish = "", "db1"
	src.write(t, "db1", "data-1-v2")
	if err := svc.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if st := svc.Stats(); st.Failed != 1 {
		t.Fatalf("a database deleted during its copy counted as a failure: %+v", st)
	}
	if len(src.copies) != 6 {
		t.Fatalf("copied %v", src.copies)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
