package functions

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/praetorian/db-forge/forge"
)

// Where functions are kept: in the database's own directory,
// <db dir>/functions/<name>.wasm and <name>.json (the manifest, written
// last: a function exists once its manifest does). So they go with the
// database: a delete or an expiry takes them, a restore from the trash
// brings them back. Checkpoints, branches, exports and backups copy the
// SQLite file only, and leave them out (docs/FUNCTIONS.md).

const fnDir = "functions"

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func (s *Service) dir(db string) (string, error) {
	d, err := s.files.Dir(db)
	if err != nil {
		return "", err
	}
	return filepath.Join(d, fnDir), nil
}

// manifests reads every manifest of db, sorted by name.
func (s *Service) manifests(db string) ([]forge.FunctionInfo, error) {
	dir, err := s.dir(db)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return []forge.FunctionInfo{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := []forge.FunctionInfo{}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || validName(name) != nil {
			continue
		}
		info, err := readManifest(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // a manifest half-written by a crash: not a function
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func readManifest(p string) (forge.FunctionInfo, error) {
	var info forge.FunctionInfo
	b, err := os.ReadFile(p)
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, err
	}
	return info, nil
}

// manifest reads function name's manifest.
func (s *Service) manifest(db, name string) (forge.FunctionInfo, error) {
	dir, err := s.dir(db)
	if err != nil {
		return forge.FunctionInfo{}, err
	}
	info, err := readManifest(filepath.Join(dir, name+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return info, notFound(name)
	}
	return info, err
}

// read reads function name's manifest and module, checking the module
// against the manifest's digest.
func (s *Service) read(db, name string) (forge.FunctionInfo, []byte, error) {
	if err := s.exists(db); err != nil {
		return forge.FunctionInfo{}, nil, err
	}
	info, err := s.manifest(db, name)
	if err != nil {
		return info, nil, err
	}
	dir, _ := s.dir(db)
	module, err := os.ReadFile(filepath.Join(dir, name+".wasm"))
	if errors.Is(err, fs.ErrNotExist) {
		return info, nil, notFound(name)
	}
	if err != nil {
		return info, nil, err
	}
	if sha(module) != info.SHA256 {
		return info, nil, fmt.Errorf("function %s of %s: the module does not match its manifest's digest", name, db)
	}
	return info, module, nil
}

// store writes function info's module and manifest into db's directory
// after checking the database's limits; created is false when it
// replaced a function of the name.
func (s *Service) store(db string, info forge.FunctionInfo, module []byte) (bool, error) {
	if err := s.exists(db); err != nil {
		return false, err
	}
	all, err := s.manifests(db)
	if err != nil {
		return false, err
	}
	created := true
	count, total := 1, int64(len(module))
	for _, m := range all {
		if m.Name == info.Name {
			created = false
			continue
		}
		count++
		total += m.Size
	}
	if count > s.cfg.MaxPerDB {
		return false, fnError(409, forge.CodeFunctionLimit,
			"The database has %d functions, as many as it may (FORGE_FUNCTION_MAX_PER_DB); delete one first.", count-1)
	}
	if total > s.cfg.MaxBytesPerDB {
		return false, fnError(409, forge.CodeFunctionLimit,
			"The database's functions would take %d bytes; at most %d are allowed (FORGE_FUNCTION_MAX_MB_PER_DB).", total, s.cfg.MaxBytesPerDB)
	}
	dir, err := s.dir(db)
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(dir, 0o770); err != nil {
		return false, err
	}
	manifest, err := json.Marshal(info)
	if err != nil {
		return false, err
	}
	// The old manifest goes first: between the two writes there is no
	// function rather than a manifest that does not match its module.
	if !created {
		if err := os.Remove(filepath.Join(dir, info.Name+".json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, err
		}
	}
	if err := writeAtomic(filepath.Join(dir, info.Name+".wasm"), module); err != nil {
		return false, err
	}
	if err := writeAtomic(filepath.Join(dir, info.Name+".json"), manifest); err != nil {
		return false, err
	}
	return created, nil
}

// remove deletes function name of db: the manifest first.
func (s *Service) remove(db, name string) error {
	dir, err := s.dir(db)
	if err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, name+".json")); errors.Is(err, fs.ErrNotExist) {
		return notFound(name)
	} else if err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, name+".wasm")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// writeAtomic writes data to p through a temporary file and a rename.
func writeAtomic(p string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}
