package snapshot

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/praetorian/db-forge/forge"
)

// fileEngine is an engine over plain files: a database is a file whose
// bytes are its content. Enough for the checkpoint protocol's own logic.
type fileEngine struct {
	Engine
	dir    string
	frozen int // calls of Frozen
}

func (e *fileEngine) path(db string) string { return filepath.Join(e.dir, db+".db") }

func (e *fileEngine) CopyTo(_ context.Context, db, dest string, _ bool) error {
	b, err := os.ReadFile(e.path(db))
	if err != nil {
		return forge.ErrDatabaseNotFound
	}
	return os.WriteFile(dest, b, 0o600)
}

func (e *fileEngine) Frozen(_ context.Context, db string, fn func(string) error) error {
	e.frozen++
	return fn(e.path(db))
}

func (e *fileEngine) Exclusive(_ context.Context, _ string, fn func() error) error { return fn() }

type fileFiles struct{ dir string }

func (f fileFiles) Path(name string) (string, error) { return filepath.Join(f.dir, name+".db"), nil }
func (f fileFiles) Exists(name string) (bool, error) {
	_, err := os.Stat(filepath.Join(f.dir, name+".db"))
	return err == nil, nil
}
func (f fileFiles) CheckpointDir(name string) (string, error) {
	return filepath.Join(f.dir, "cp", name), nil
}
func (f fileFiles) ScratchDir() (string, error) { return f.dir, nil }
func (f fileFiles) WriteSidecar(name, key string, data []byte) error {
	return os.WriteFile(filepath.Join(f.dir, name+"."+key+".json"), data, 0o600)
}

// TestCheckpointProtocol: copies, clone or not as the volume allows,
// limits, restore with its automatic checkpoint, delete.
func TestCheckpointProtocol(t *testing.T) {
	dir := t.TempDir()
	e := &fileEngine{dir: dir}
	s := New(e, fileFiles{dir}, Config{MaxCheckpoints: 2, MaxCheckpointBytes: 100})
	ctx := context.Background()
	write := func(content string) {
		if err := os.WriteFile(e.path("d"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	read := func() string { b, _ := os.ReadFile(e.path("d")); return string(b) }
	write("one")
	c, err := s.CreateCheckpoint(ctx, "d", "first")
	if err != nil || c.Name != "first" || c.SizeBytes != 3 {
		t.Fatalf("create: %+v %v", c, err)
	}
	// Whether this volume clones files decides the path taken, once.
	probe := filepath.Join(dir, "probe")
	_ = os.WriteFile(probe+".src", []byte("x"), 0o600)
	clones := cloneFile(probe+".src", probe) == nil
	if s.Reflinks() != clones {
		t.Errorf("reflinks %v, the volume clones: %v", s.Reflinks(), clones)
	}
	write("two")
	if _, err := s.CreateCheckpoint(ctx, "d", ""); err != nil {
		t.Fatal(err)
	}
	frozen := e.frozen
	if _, err := s.CreateCheckpoint(ctx, "d", "third"); !errors.Is(err, forge.ErrCheckpointLimit) {
		t.Fatalf("past the count: %v", err)
	}
	if !clones && e.frozen != frozen {
		t.Errorf("froze the database again on a volume without clones")
	}
	if _, err := s.CreateCheckpoint(ctx, "d", "first"); !errors.Is(err, forge.ErrCheckpointExists) && !errors.Is(err, forge.ErrCheckpointLimit) {
		t.Fatalf("same name: %v", err)
	}
	write("three")
	// At the count limit with no automatic checkpoint: the restore is refused, nothing changes.
	if _, err := s.RestoreCheckpoint(ctx, "d", "first"); !errors.Is(err, forge.ErrCheckpointLimit) {
		t.Fatalf("restore without room: %v", err)
	}
	if read() != "three" {
		t.Fatalf("a refused restore changed the database: %q", read())
	}
	cps, _ := s.Checkpoints(ctx, "d")
	if err := s.DeleteCheckpoint(ctx, "d", cps[1].Name); err != nil {
		t.Fatal(err)
	}
	undo, err := s.RestoreCheckpoint(ctx, "d", "first")
	if err != nil || !undo.Auto {
		t.Fatalf("restore: %+v %v", undo, err)
	}
	if read() != "one" {
		t.Fatalf("after restore: %q", read())
	}
	// Undo: the automatic checkpoint holds what was replaced. At the
	// count limit, the checkpoint being restored does not make room.
	if _, err := s.RestoreCheckpoint(ctx, "d", undo.Name); !errors.Is(err, forge.ErrCheckpointLimit) {
		t.Fatalf("undo at the limit: %v", err)
	}
	if err := s.DeleteCheckpoint(ctx, "d", "first"); err != nil {
		t.Fatal(err)
	}
	undo2, err := s.RestoreCheckpoint(ctx, "d", undo.Name)
	if err != nil || read() != "three" {
		t.Fatalf("undo: %q %v", read(), err)
	}
	// Room for the next automatic checkpoint: the oldest automatic one goes.
	write("four")
	undo3, err := s.RestoreCheckpoint(ctx, "d", undo2.Name)
	if err != nil || read() != "one" {
		t.Fatalf("restore of the second automatic checkpoint: %q %v", read(), err)
	}
	cps, _ = s.Checkpoints(ctx, "d")
	if len(cps) != 2 || cps[0].Name != undo2.Name || cps[1].Name != undo3.Name {
		t.Fatalf("checkpoints: %+v", cps)
	}
	if err := s.DeleteCheckpoint(ctx, "d", "nope"); !errors.Is(err, forge.ErrCheckpointNotFound) {
		t.Errorf("delete of none: %v", err)
	}
	if _, err := s.Checkpoints(ctx, "ghost"); !errors.Is(err, forge.ErrDatabaseNotFound) {
		t.Errorf("checkpoints of none: %v", err)
	}
	for _, bad := range []string{"", ".x", "a/b", "a..b", string(bytes.Repeat([]byte("a"), 65)), "-a"} {
		if err := ValidateCheckpointName(bad); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	// The size limit counts bytes.
	write(string(bytes.Repeat([]byte("x"), 200)))
	_ = s.DeleteCheckpoint(ctx, "d", undo2.Name)
	_ = s.DeleteCheckpoint(ctx, "d", undo3.Name)
	if _, err := s.CreateCheckpoint(ctx, "d", "big"); !errors.Is(err, forge.ErrCheckpointLimit) {
		t.Errorf("past the bytes: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "cp", "d"))
	for _, en := range entries {
		if en.Name()[0] == '.' {
			t.Errorf("left behind: %s", en.Name())
		}
	}
}
