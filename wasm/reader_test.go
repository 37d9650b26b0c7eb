package wasm

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/praetorian/db-forge/forge"
)

// readAll steps a cursor to its end, the rows as values.
func readAll(t *testing.T, cur *Cursor) [][]forge.Value {
	t.Helper()
	var out [][]forge.Value
	for cur.Next() {
		r := cur.Row()
		vals := make([]forge.Value, len(cur.Columns()))
		for i := range vals {
			switch r.Kind(i) {
			case forge.Integer:
				vals[i] = forge.IntValue(r.Int(i))
			case forge.Text:
				vals[i] = forge.TextValue(string(r.Text(i)))
			}
		}
		out = append(out, vals)
	}
	if err := cur.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReaderSnapshotWhileWritersGoOn(t *testing.T) {
	e, _, db := newDB(t, Config{})
	exec(t, e, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);\nINSERT INTO t VALUES (1, 'a'), (2, 'b')")
	r, err := e.OpenReader(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// A write after the snapshot is not seen by it, and does not wait for it.
	exec(t, e, db, "INSERT INTO t VALUES (3, 'c')")
	cur, err := r.Query("SELECT id, v FROM t WHERE id >= ? ORDER BY id", forge.IntValue(1))
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, cur); len(got) != 2 || got[1][1].Str != "b" {
		t.Fatalf("snapshot rows = %v, want 1 and 2", got)
	}
	if _, err := r.Query("DELETE FROM t"); !errors.Is(err, forge.ErrReadOnly) {
		t.Fatalf("a write through a reader: %v, want ErrReadOnly", err)
	}
	if _, err := r.Query("SELECT * FROM _forge_x"); err == nil {
		t.Fatal("a reserved table read through a reader")
	}
}

func TestFileReaderOfAWALFileCopy(t *testing.T) {
	e, _, db := newDB(t, Config{})
	exec(t, e, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);\nINSERT INTO t VALUES (1, 'a'), (2, 'b')")
	// A clone of the live file after its log was folded in is a
	// WAL-mode file (a checkpoint made by FICLONE): it opens without a log.
	dir := t.TempDir()
	dest := filepath.Join(dir, "copy.db")
	if err := e.Frozen(context.Background(), db, func(p string) error { return copyFileForTest(p, dest) }); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dest, filepath.Join(dir, "rollback.db")} {
		if p != dest {
			if err := e.CopyTo(context.Background(), db, p, CopyOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		r, err := e.OpenFileReader(context.Background(), p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		cur, err := r.Query("SELECT id, v FROM t ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, cur); len(got) != 2 || got[0][1].Str != "a" {
			t.Fatalf("%s rows = %v", p, got)
		}
		r.Close()
		if _, err := os.Stat(p + "-wal"); err == nil {
			t.Fatalf("%s: a log was made beside an immutable file", p)
		}
	}
	if _, err := e.OpenFileReader(context.Background(), filepath.Join(dir, "none.db")); !errors.Is(err, forge.ErrDatabaseNotFound) {
		t.Fatalf("missing file: %v", err)
	}
}

func copyFileForTest(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}
