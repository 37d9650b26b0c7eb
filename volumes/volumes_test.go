package volumes

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/praetorian/db-forge/forge"
)

func open(t *testing.T) *Layout {
	t.Helper()
	l, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestCreateResolveRemove(t *testing.T) {
	t.Parallel()
	l := open(t)
	if _, err := l.Resolve("db1"); !errors.Is(err, forge.ErrDatabaseNotFound) {
		t.Fatalf("resolve before create: %v", err)
	}
	created, err := l.Create("db1")
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	p, err := l.Resolve("db1")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(l.Root(), "databases", "db1", "db1.db"); p != want {
		t.Fatalf("path %s, want %s", p, want)
	}
	if fi, err := os.Stat(p); err != nil || fi.Size() != 0 || fi.Mode().Perm()&0o007 != 0 || fi.Mode().Perm()&0o600 != 0o600 {
		t.Fatalf("file %v %v", fi, err)
	}
	if created, err := l.Create("db1"); err != nil || created {
		t.Fatalf("second create: %v %v", created, err)
	}
	if err := l.WriteSidecar("db1", "instance", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	names, err := l.List()
	if err != nil || len(names) != 1 || names[0] != "db1" {
		t.Fatalf("list %v %v", names, err)
	}
	if err := l.Remove("db1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(p)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("directory left: %v", err)
	}
	if err := l.Remove("db1"); !errors.Is(err, forge.ErrDatabaseNotFound) {
		t.Fatalf("second remove: %v", err)
	}
	if entries, _ := os.ReadDir(l.SystemPath("trash")); len(entries) != 0 {
		t.Fatalf("trash not emptied: %v", entries)
	}
}

func TestNamesAreValidatedBeforePaths(t *testing.T) {
	t.Parallel()
	l := open(t)
	for _, n := range []string{"", ".", "..", "../../etc", "a/b", "/abs", "x\x00y", "db-wal"} {
		for op, f := range map[string]func() error{
			"create":  func() error { _, err := l.Create(n); return err },
			"resolve": func() error { _, err := l.Resolve(n); return err },
			"remove":  func() error { return l.Remove(n) },
			"sidecar": func() error { return l.WriteSidecar(n, "instance", nil) },
		} {
			if err := f(); !errors.Is(err, forge.ErrInvalidName) {
				t.Errorf("%s %q: %v, want ErrInvalidName", op, n, err)
			}
		}
	}
	if err := l.WriteSidecar("ok", "../x", nil); err == nil {
		t.Error("sidecar key with a path accepted")
	}
}

func TestWithinRefusesEscapes(t *testing.T) {
	t.Parallel()
	l := open(t)
	for _, p := range []string{l.Root(), filepath.Dir(l.Root()), filepath.Join(l.Root(), "..", "x"), "/etc/passwd"} {
		if _, err := l.within(p); !errors.Is(err, ErrOutsideRoot) {
			t.Errorf("within(%s): %v", p, err)
		}
	}
	if _, err := l.within(filepath.Join(l.Root(), "databases", "x")); err != nil {
		t.Error(err)
	}
}

func TestSymlinkIsNotADatabase(t *testing.T) {
	t.Parallel()
	l := open(t)
	secret := filepath.Join(t.TempDir(), "secret.db")
	if err := os.WriteFile(secret, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(l.Root(), "databases", "evil")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "evil.db")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Resolve("evil"); !errors.Is(err, forge.ErrDatabaseNotFound) {
		t.Fatalf("symlink resolved: %v", err)
	}
	if _, err := l.Create("evil"); err == nil {
		t.Fatal("create over a symlink succeeded")
	}
}

func TestCaseConflict(t *testing.T) {
	t.Parallel()
	l := open(t)
	if _, err := l.Create("Alpha"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Create("alpha"); !errors.Is(err, forge.ErrNameConflict) {
		t.Fatalf("create alpha beside Alpha: %v", err)
	}
	if _, err := l.Create("Alpha"); err != nil {
		t.Fatalf("same name again: %v", err)
	}
}

func TestSidecars(t *testing.T) {
	t.Parallel()
	l := open(t)
	if _, err := l.ReadSidecar("db", "instance"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read before write: %v", err)
	}
	if _, err := l.Create("db"); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"one", "two"} {
		if err := l.WriteSidecar("db", "instance", []byte(v)); err != nil {
			t.Fatal(err)
		}
		got, err := l.ReadSidecar("db", "instance")
		if err != nil || string(got) != v {
			t.Fatalf("read %q %v, want %q", got, err, v)
		}
	}
	if err := l.DeleteSidecar("db", "instance"); err != nil {
		t.Fatal(err)
	}
	if err := l.DeleteSidecar("db", "instance"); err != nil {
		t.Fatalf("delete twice: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(l.Root(), "databases", "db"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Fatalf("temporary file left: %s", e.Name())
		}
	}
}

func TestOpenEmptiesTrashAndChecksWritable(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	l, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	half := l.SystemPath("trash", "db.123")
	if err := os.MkdirAll(half, 0o750); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(half); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("interrupted removal not finished: %v", err)
	}
	if err := l.Check(nil); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(l.SystemPath()); err != nil {
		t.Fatal(err)
	}
	if err := l.Check(nil); err == nil {
		t.Fatal("Check passed without a state directory")
	}
}
