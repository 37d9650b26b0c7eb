package volumes

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// Checkpoints and scratch files (package snapshot): a database's
// checkpoints live in <root>/.forge/checkpoints/<name>/, outside its own
// directory (a worker container never sees them), and go with it: Remove
// moves them into the trash first, and Create clears what a crash may have
// left under a new database's name. Copies being made for an export or an
// import are in <root>/.forge/scratch/, emptied at every start.

const (
	checkpointsDir = "checkpoints"
	scratchDir     = "scratch"
)

// CheckpointDir is the directory of database name's checkpoints, whether
// or not it exists.
func (l *Layout) CheckpointDir(name string) (string, error) {
	if err := forge.ValidateName(name); err != nil {
		return "", err
	}
	return l.within(l.SystemPath(checkpointsDir, name))
}

// ScratchDir is the directory for copies in the making (made if needed);
// it is emptied at every start.
func (l *Layout) ScratchDir() (string, error) {
	p := l.SystemPath(scratchDir)
	if err := os.MkdirAll(p, dirMode); err != nil {
		return "", diskFull(err)
	}
	return p, nil
}

// emptyScratch removes the scratch files a crash left.
func (l *Layout) emptyScratch() {
	_ = l.removeAll(l.SystemPath(scratchDir))
}

// trashCheckpoints moves database name's checkpoints into the trash; the
// caller holds the name's lock. They go before the database: a crash in
// between leaves a database without checkpoints, never checkpoints a
// later database of the same name would inherit.
func (l *Layout) trashCheckpoints(name string) (string, error) {
	dir, err := l.CheckpointDir(name)
	if err != nil {
		return "", err
	}
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	trash := l.SystemPath(trashDir, "checkpoints."+name+"."+strconv.FormatInt(time.Now().UnixNano(), 36)+"."+
		strconv.FormatUint(l.trashSeq.Add(1), 36))
	if err := os.Rename(dir, trash); err != nil {
		return "", fmt.Errorf("remove checkpoints of %s: %w", name, err)
	}
	_ = syncDir(filepath.Dir(dir))
	return trash, nil
}
