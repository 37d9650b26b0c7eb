package backup_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/praetorian/db-forge/backup"
)

// targets are the implementations the contract suite runs against: a
// directory, and a bucket on a real S3 protocol server on loopback.
func targets(t *testing.T) map[string]func(t *testing.T) backup.Target {
	return map[string]func(t *testing.T) backup.Target{
		"dir": func(t *testing.T) backup.Target {
			d, err := backup.Open(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
		"s3": func(t *testing.T) backup.Target {
			tg, err := backup.Open("s3://forge-backups/some/prefix", S3Server(t))
			if err != nil {
				t.Fatal(err)
			}
			return tg
		},
	}
}

// S3Server starts an S3 protocol server (gofakes3, in memory) on
// 127.0.0.1 with bucket forge-backups, and returns the environment that
// points a client at it.
func S3Server(t *testing.T) []string {
	t.Helper()
	mem := s3mem.New()
	if err := mem.CreateBucket("forge-backups"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(mem).Server())
	t.Cleanup(srv.Close)
	return []string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test-secret", "AWS_REGION=us-east-1",
		"AWS_ENDPOINT_URL=" + srv.URL}
}

func TestTargetContract(t *testing.T) {
	for name, open := range targets(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			tg := open(t)
			get := func(key string) (string, error) {
				rc, err := tg.Get(ctx, key)
				if err != nil {
					return "", err
				}
				defer rc.Close()
				b, err := io.ReadAll(rc)
				return string(b), err
			}
			put := func(key, v string) {
				t.Helper()
				if err := tg.Put(ctx, key, strings.NewReader(v), int64(len(v))); err != nil {
					t.Fatalf("put %s: %v", key, err)
				}
			}
			if keys, err := tg.List(ctx, ""); err != nil || len(keys) != 0 {
				t.Fatalf("empty target lists %v, %v", keys, err)
			}
			if _, err := get("a/none"); !errors.Is(err, backup.ErrNotFound) {
				t.Fatalf("missing key: %v, want ErrNotFound", err)
			}
			put("db1/20260101T000000.000000000Z/data.db", "first")
			put("db1/20260101T000000.000000000Z/manifest.json", "{}")
			put("db10/x", "other")
			put(".keys/s/data.db", "keys")
			big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
			if err := tg.Put(ctx, "big/blob", bytes.NewReader(big), int64(len(big))); err != nil {
				t.Fatal(err)
			}
			if got, err := get("db1/20260101T000000.000000000Z/data.db"); err != nil || got != "first" {
				t.Fatalf("get: %q, %v", got, err)
			}
			if got, _ := get("big/blob"); got != string(big) {
				t.Fatalf("big blob: %d bytes back of %d", len(got), len(big))
			}
			put("db1/20260101T000000.000000000Z/data.db", "second") // replaced
			if got, _ := get("db1/20260101T000000.000000000Z/data.db"); got != "second" {
				t.Fatalf("replaced object reads %q", got)
			}
			keys, err := tg.List(ctx, "db1/")
			want := []string{"db1/20260101T000000.000000000Z/data.db", "db1/20260101T000000.000000000Z/manifest.json"}
			if err != nil || !slices.Equal(keys, want) {
				t.Fatalf("list db1/: %v, %v; want %v", keys, err, want)
			}
			all, _ := tg.List(ctx, "")
			if len(all) != 5 || !slices.IsSorted(all) {
				t.Fatalf("list all: %v", all)
			}
			if err := tg.Delete(ctx, "db1/20260101T000000.000000000Z/data.db"); err != nil {
				t.Fatal(err)
			}
			if err := tg.Delete(ctx, "db1/never"); err != nil {
				t.Fatalf("deleting a missing key: %v", err)
			}
			if _, err := get("db1/20260101T000000.000000000Z/data.db"); !errors.Is(err, backup.ErrNotFound) {
				t.Fatalf("deleted key: %v", err)
			}
			for _, bad := range []string{"", "/abs", "../up", "a/../../b", "a//b", "a/./b"} {
				if err := tg.Put(ctx, bad, strings.NewReader("x"), 1); !errors.Is(err, backup.ErrBadKey) {
					t.Errorf("put %q: %v, want ErrBadKey", bad, err)
				}
			}
			// A short body is refused, and nothing is left under the key.
			if err := tg.Put(ctx, "short/one", strings.NewReader("abc"), 10); err == nil {
				t.Error("a body shorter than its size was stored")
			}
			if _, err := get("short/one"); !errors.Is(err, backup.ErrNotFound) {
				t.Errorf("after a failed put: %v", err)
			}
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if err := tg.Put(cctx, "cancelled/one", strings.NewReader("abc"), 3); err == nil {
				t.Error("a put with a cancelled context succeeded")
			}
		})
	}
}

func TestOpenRefuses(t *testing.T) {
	for _, spec := range []string{"", "s3://", "s3://user@bucket/x", "gs://bucket/x", "s3://b/x?y=1"} {
		if _, err := backup.Open(spec, nil); err == nil {
			t.Errorf("Open(%q) accepted", spec)
		}
	}
	if _, err := backup.Open("s3://b/p", []string{"AWS_ENDPOINT_URL=ftp://x"}); err == nil {
		t.Error("an ftp endpoint was accepted")
	}
}
