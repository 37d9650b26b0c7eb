package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnsureAdminKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, ".forge", "admin.key")

	key, created, err := EnsureAdminKey("", path)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Fatal("first start: created = false")
	}
	if !tokenPattern.MatchString(key.Reveal()) {
		t.Fatalf("minted admin key %q does not match %s", key.Reveal(), tokenPattern)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Fatalf("mode %04o, want 0600", mode)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != key.Reveal()+"\n" {
		t.Fatalf("file holds %q", b)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".admin-key-*"))
	if len(leftovers) != 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}

	// Later starts read the same key and say it is not new.
	for range 2 {
		again, created, err := EnsureAdminKey("", path)
		if err != nil {
			t.Fatal(err)
		}
		if created || again.Reveal() != key.Reveal() {
			t.Fatalf("later start: created=%v, same key=%v", created, again.Reveal() == key.Reveal())
		}
	}
	// A key the operator wrote in the file, with or without a newline.
	own := strings.Repeat("0123456789abcdef", 4)
	if err := os.WriteFile(path, []byte(own), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, created, err := EnsureAdminKey("", path); err != nil || created || got.Reveal() != own {
		t.Fatalf("operator's key: created=%v err=%v", created, err)
	}
}

func TestEnsureAdminKeyEnv(t *testing.T) {
	t.Parallel()
	const env = "my-own-admin-key-of-at-least-32-characters"
	tests := []struct {
		name     string
		existing string // content of the key file beforehand; "" = none
	}{
		{"no file", ""},
		{"file ignored", "dbf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcd\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "admin.key")
			if tc.existing != "" {
				if err := os.WriteFile(path, []byte(tc.existing), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			key, created, err := EnsureAdminKey(env, path)
			if err != nil {
				t.Fatal(err)
			}
			if created || key.Reveal() != env {
				t.Fatalf("created=%v, key is env=%v", created, key.Reveal() == env)
			}
			b, err := os.ReadFile(path)
			switch {
			case tc.existing == "" && !errors.Is(err, os.ErrNotExist):
				t.Fatalf("FORGE_ADMIN_KEY set, yet a key file was written (%v)", err)
			case tc.existing != "" && string(b) != tc.existing:
				t.Fatalf("FORGE_ADMIN_KEY set, yet the key file changed to %q", b)
			}
		})
	}
}

func TestEnsureAdminKeyRefuses(t *testing.T) {
	t.Parallel()
	const good = "dbf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcd\n"
	tests := []struct {
		name    string
		env     string
		content string
		mode    os.FileMode
		dir     bool // a directory where the file should be
		want    error
	}{
		{name: "weak env", env: "changeme", want: ErrWeakAdminKey},
		{name: "env with space", env: strings.Repeat("k", 20) + " " + strings.Repeat("k", 20), want: ErrWeakAdminKey},
		{name: "group readable file", content: good, mode: 0o640},
		{name: "world readable file", content: good, mode: 0o604},
		{name: "empty file", content: "", mode: 0o600, want: ErrWeakAdminKey},
		{name: "short key in file", content: "changeme\n", mode: 0o600, want: ErrWeakAdminKey},
		{name: "two lines", content: "abc\ndef" + strings.Repeat("x", 40), mode: 0o600, want: ErrWeakAdminKey},
		{name: "a directory", dir: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "admin.key")
			switch {
			case tc.dir:
				if err := os.Mkdir(path, 0o700); err != nil {
					t.Fatal(err)
				}
			case tc.mode != 0:
				if err := os.WriteFile(path, []byte(tc.content), tc.mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tc.mode); err != nil { // past the umask
					t.Fatal(err)
				}
			}
			key, created, err := EnsureAdminKey(tc.env, path)
			if err == nil {
				t.Fatalf("accepted: created=%v", created)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !key.IsZero() || created {
				t.Fatal("returned a key with an error")
			}
			if tc.content != "" && strings.Contains(err.Error(), strings.TrimSpace(tc.content)) {
				t.Fatalf("the error repeats the key: %v", err)
			}
			if tc.mode != 0 {
				b, _ := os.ReadFile(path)
				if string(b) != tc.content {
					t.Fatal("a refused key file was rewritten")
				}
			}
		})
	}
}

// TestEnsureAdminKeyUnwritable: a data directory that cannot take the
// file is an error, not a key held in memory only (which would change at
// every start).
func TestEnsureAdminKeyUnwritable(t *testing.T) {
	t.Parallel()
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	key, created, err := EnsureAdminKey("", filepath.Join(notDir, "admin.key"))
	if err == nil || created || !key.IsZero() {
		t.Fatalf("EnsureAdminKey under a file = %v, created=%v", err, created)
	}
}
