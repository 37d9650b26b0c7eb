package app_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/praetorian/db-forge/backup"
	"github.com/praetorian/db-forge/config"
	"github.com/praetorian/db-forge/internal/app"
	"github.com/praetorian/db-forge/internal/contracttest"
)

// s3Env starts an S3 protocol server (gofakes3, in memory) on 127.0.0.1
// with bucket forge-backups, and returns the AWS_* environment that points
// the gateway at it.
func s3Env(t *testing.T) []string {
	t.Helper()
	mem := s3mem.New()
	if err := mem.CreateBucket("forge-backups"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(mem).Server())
	t.Cleanup(srv.Close)
	return []string{"AWS_ACCESS_KEY_ID=forge", "AWS_SECRET_ACCESS_KEY=forge-secret", "AWS_REGION=us-east-1",
		"AWS_ENDPOINT_URL=" + srv.URL}
}

// manifestOf reads the manifest of backup e.
func manifestOf(t *testing.T, target backup.Target, e backup.Entry) backup.Manifest {
	t.Helper()
	rc, err := target.Get(context.Background(), e.Database+"/"+e.Stamp+"/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	m, err := backup.DecodeManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBackupRestore is docs/OPERATIONS.md's walk-through, through a
// directory and through S3: databases and keys are backed up while the
// gateway serves, the data directory is lost, restore rebuilds it, and the
// gateway starts with the data and the keys back. Then --at and --db put
// one database back as it was at an earlier time.
func TestBackupRestore(t *testing.T) {
	for _, via := range []string{"dir", "s3"} {
		t.Run(via, func(t *testing.T) {
			spec, awsEnv := t.TempDir()+"/backups", []string(nil)
			if via == "s3" {
				spec, awsEnv = "s3://forge-backups/prod/gw1", s3Env(t)
			}
			testBackupRestore(t, spec, awsEnv)
		})
	}
}

func testBackupRestore(t *testing.T, spec string, awsEnv []string) {
	ctx := context.Background()
	dataDir := t.TempDir()
	env := append([]string{"FORGE_BACKUP_TARGET=" + spec, "FORGE_BACKUP_INTERVAL=1s", "FORGE_BACKUP_KEEP=3"}, awsEnv...)
	target, err := backup.Open(spec, awsEnv)
	if err != nil {
		t.Fatal(err)
	}
	// backedUp waits until the newest backup of each name holds the
	// state its files are in now (the manifest's fingerprint is theirs).
	backedUp := func(names ...string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			cat, err := backup.Catalog(ctx, target)
			if err != nil {
				t.Fatal(err)
			}
			ok := true
			for _, n := range names {
				path := filepath.Join(dataDir, "databases", n, n+".db")
				if n == backup.KeyStore {
					path = filepath.Join(dataDir, ".forge", "meta.db")
				}
				now, err := app.BackupFingerprint(path)
				if err != nil {
					t.Fatal(err)
				}
				es := cat[n]
				ok = ok && len(es) > 0 && manifestOf(t, target, es[len(es)-1]).Fingerprint == now
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no backup of the current state of %v in 60s: %v", names, cat)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	restore := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		renv := append([]string{"FORGE_DATA_DIR=" + dataDir}, awsEnv...)
		if err := app.Restore(ctx, append([]string{"--from", spec}, args...), renv, &out); err != nil {
			t.Fatalf("restore %v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}

	g := start(t, dataDir, env...)
	admin := g.client()
	keyA, keyB := spawnKey(t, admin, "alpha"), spawnKey(t, admin, "beta")
	movesFixture(t, g, "alpha")
	movesFixture(t, g, "beta")
	sqlOK(t, g, "beta", "INSERT INTO kinds(i, t) VALUES (42, 'only in beta')")
	// Under a steady trickle of writes, so that copies run beside them.
	for i := range 20 {
		contracttest.Expect(t, admin.WithKey(keyA).Do(t, "POST", "/api/db/alpha/query",
			`{"sql": "INSERT INTO kinds(i, t) VALUES (?, 'trickle')", "params": [`+string(rune('0'+i%10))+`]}`), 200, "")
		time.Sleep(20 * time.Millisecond)
	}
	wantA, wantB := content(t, g, "alpha"), content(t, g, "beta")
	backedUp(backup.KeyStore, "alpha", "beta")
	if _, _, m := g.do(t, "GET", "/metrics", ""); !strings.Contains(string(m), "forge_backups_total") ||
		!strings.Contains(string(m), "forge_backup_last_success_timestamp_seconds") {
		t.Errorf("no backup metrics:\n%s", m)
	}
	if !strings.Contains(g.logs.String(), "backup taken") {
		t.Errorf("no backup in the log")
	}
	// A restore while the gateway runs is refused, and changes nothing.
	var refused bytes.Buffer
	if err := app.Restore(ctx, []string{"--from", spec}, append([]string{"FORGE_DATA_DIR=" + dataDir}, awsEnv...), &refused); err == nil ||
		!strings.Contains(err.Error(), "stop the gateway first") || strings.Contains(refused.String(), "restored") {
		t.Fatalf("restore under a running gateway: %v\n%s", err, refused.String())
	}
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}

	// The data directory is lost.
	if err := os.RemoveAll(dataDir); err != nil {
		t.Fatal(err)
	}
	out := restore()
	for _, want := range []string{"restored database alpha", "restored database beta", "restored key store"} {
		if !strings.Contains(out, want) {
			t.Errorf("restore said:\n%s\nwant %q", out, want)
		}
	}
	g = start(t, dataDir, env...)
	admin = g.client()
	if got := content(t, g, "alpha"); !maps.Equal(got, wantA) {
		t.Fatalf("alpha after restore:\n%v\nwant\n%v", got, wantA)
	}
	if got := content(t, g, "beta"); !maps.Equal(got, wantB) {
		t.Fatalf("beta after restore:\n%v\nwant\n%v", got, wantB)
	}
	// The keys are back: each opens its own database and not the other.
	contracttest.Expect(t, admin.WithKey(keyA).Do(t, "POST", "/api/db/alpha/query", `{"sql": "SELECT count(*) FROM kinds"}`), 200, "")
	contracttest.Expect(t, admin.WithKey(keyB).Do(t, "POST", "/api/db/beta/query", `{"sql": "INSERT INTO kinds(i) VALUES (1)"}`), 200, "")
	if r := admin.WithKey(keyA).Do(t, "POST", "/api/db/beta/query", `{"sql": "SELECT 1"}`); r.Status != 403 && r.Status != 401 {
		t.Fatalf("alpha's key on beta after restore: %d %s", r.Status, r.Raw)
	}
	contracttest.Expect(t, admin.Do(t, "GET", "/admin/databases/alpha", nil), 200, "")

	// --at: alpha changes after mid; restoring alpha as of mid undoes it
	// (its backups from before the loss hold wantA), and beta, its later
	// write included, is left alone.
	backedUp("beta")
	mid := time.Now()
	sqlOK(t, g, "alpha", "DELETE FROM kinds")
	wantB = content(t, g, "beta")
	backedUp("alpha")
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
	if out := restore("--db", "alpha", "--at", mid.UTC().Format(time.RFC3339Nano)); !strings.Contains(out, "restored database alpha") || strings.Contains(out, "beta") {
		t.Fatalf("restore --db alpha --at said:\n%s", out)
	}
	g = start(t, dataDir)
	if got := content(t, g, "alpha"); !maps.Equal(got, wantA) {
		t.Fatalf("alpha at %v:\n%v\nwant\n%v", mid, got, wantA)
	}
	if got := content(t, g, "beta"); !maps.Equal(got, wantB) {
		t.Fatalf("beta after alpha's restore:\n%v\nwant\n%v", got, wantB)
	}
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
	// Nothing that old; a database never backed up: clear errors.
	var sink bytes.Buffer
	renv := append([]string{"FORGE_DATA_DIR=" + dataDir}, awsEnv...)
	err = app.Restore(ctx, []string{"--from", spec, "--at", "2001-01-01T00:00:00Z"}, renv, &sink)
	if !errors.Is(err, backup.ErrNoBackup) {
		t.Errorf("restore --at 2001: %v", err)
	}
	if err := app.Restore(ctx, []string{"--from", spec, "--db", "gamma"}, renv, &sink); !errors.Is(err, backup.ErrNoBackup) {
		t.Errorf("restore --db gamma: %v", err)
	}
	for _, args := range [][]string{{"--from", spec, "--at", "yesterday"}, {"--from", spec, "--db", "../x"}, {}, {"--from", spec, "extra"}} {
		if err := app.Restore(ctx, args, renv, &sink); err == nil {
			t.Errorf("restore %v succeeded", args)
		}
	}
	if err := app.Restore(ctx, []string{"-h"}, renv, &sink); !errors.Is(err, config.ErrHelp) {
		t.Errorf("restore -h: %v", err)
	}
}

// A target the gateway cannot use stops it at start, naming the setting.
func TestBackupTargetRefused(t *testing.T) {
	err := app.Run(context.Background(), nil, []string{"FORGE_DATA_DIR=" + t.TempDir(), "FORGE_LISTEN=127.0.0.1:0",
		"FORGE_BACKEND=local", "FORGE_WASM_CACHE_DIR=" + sharedCache, "FORGE_BACKUP_TARGET=ftp://x/y"}, &bytes.Buffer{}, nil)
	if err == nil || !strings.Contains(err.Error(), "FORGE_BACKUP_TARGET") {
		t.Fatalf("start with an ftp target: %v", err)
	}
}
