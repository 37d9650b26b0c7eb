package auth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// adminKeyMode: the admin key file is for the gateway's user alone.
const adminKeyMode = 0o600

// EnsureAdminKey returns the admin key.
//
// When fromEnv (FORGE_ADMIN_KEY) is set, it is the admin key: it is
// checked (MinAdminKeyLength...MaxTokenLength visible ASCII characters)
// and never written anywhere; the file at path is neither read nor made.
//
// Otherwise the key is the content of the file at path. At first start
// there is none: a key is minted (32 random bytes) and written there,
// mode 0600, atomically (a temporary file renamed into place), and created
// is true. The caller then logs the file's location once. The key's value
// may appear only in that first announcement, if at all, and never in any
// later log line: at every later start the caller says where the file is,
// not what it holds.
//
// An existing file that others may read (any group or other permission
// bit) is refused rather than used, as ssh refuses a private key others can
// read: the key may already be compromised, and the operator must decide.
func EnsureAdminKey(fromEnv, path string) (key Secret, created bool, err error) {
	if fromEnv != "" {
		if err := checkAdminToken(fromEnv); err != nil {
			return Secret{}, false, fmt.Errorf("FORGE_ADMIN_KEY: %w", err)
		}
		return newSecret(fromEnv), false, nil
	}
	key, err = readAdminKey(path)
	if err == nil {
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return Secret{}, false, err
	}
	key, err = newToken()
	if err != nil {
		return Secret{}, false, fmt.Errorf("admin key: %w", err)
	}
	if err := writeAdminKey(path, key); err != nil {
		return Secret{}, false, err
	}
	return key, true, nil
}

func readAdminKey(path string) (Secret, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return Secret{}, fmt.Errorf("admin key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return Secret{}, fmt.Errorf("admin key file %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return Secret{}, fmt.Errorf("admin key file %s: mode %04o lets others read it; chmod 600 it (or replace the key)", path, perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Secret{}, fmt.Errorf("admin key file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if err := checkAdminToken(tok); err != nil {
		return Secret{}, fmt.Errorf("admin key file %s: %w", path, err)
	}
	return newSecret(tok), nil
}

// writeAdminKey writes the key file whole or not at all: a temporary file
// (created 0600) in the same directory, synced, then renamed over path,
// then the directory synced.
func writeAdminKey(path string, key Secret) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("admin key file: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".admin-key-*")
	if err != nil {
		return fmt.Errorf("admin key file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	_, werr := tmp.WriteString(key.Reveal() + "\n")
	if err := errors.Join(werr, tmp.Chmod(adminKeyMode), tmp.Sync(), tmp.Close()); err != nil {
		return fmt.Errorf("admin key file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("admin key file: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("admin key file: %w", err)
	}
	if err := errors.Join(d.Sync(), d.Close()); err != nil {
		return fmt.Errorf("admin key file: %w", err)
	}
	return nil
}
