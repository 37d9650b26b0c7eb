package backup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// KeyStore is the name under which the key store's backups are kept, beside
// the databases'. No database can have it (a name starts with a letter or
// a digit).
const KeyStore = ".keys"

// DataFile is the name, in a manifest, of the database file itself; the
// other files are the database's sidecar records (<key>.json).
const DataFile = "data.db"

// manifestName is the object that completes a backup: a backup is there
// once its manifest is, and every file it lists was stored before it.
const manifestName = "manifest.json"

// maxManifestBytes bounds what Decode reads.
const maxManifestBytes = 1 << 20

// maxFiles bounds the files of one backup (the database and its sidecars).
const maxFiles = 64

// Manifest describes one backup of one database (or of the key store).
type Manifest struct {
	Version  int    `json:"version"`
	Database string `json:"database"`
	// TakenAt is when the copy began: it holds every write acknowledged
	// before then. Restore --at compares with it.
	TakenAt time.Time `json:"taken_at"`
	// FinishedAt is when the last file was stored.
	FinishedAt time.Time `json:"finished_at"`
	// Fingerprint is the source's sign of change when the copy began
	// (sizes and times of the file and its log); opaque.
	Fingerprint string `json:"fingerprint,omitempty"`
	Files       []File `json:"files"`
}

// File is one file of a backup.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // lower-case hex
}

const manifestVersion = 1

// stampLayout names a backup in its database's folder: times in UTC sort
// as strings.
const stampLayout = "20060102T150405.000000000Z"

// stamp is the folder of a backup taken at t.
func stamp(t time.Time) string { return t.UTC().Format(stampLayout) }

// Encode is the manifest's JSON.
func (m Manifest) Encode() []byte {
	b, _ := json.MarshalIndent(m, "", "  ")
	return append(b, '\n')
}

// DecodeManifest reads a manifest strictly: unknown fields, a second
// value, a name that could leave a directory, a checksum that is not one,
// a size out of range are errors. Its input comes from the target, which
// is not trusted more than the data directory it restores into.
func DecodeManifest(data []byte) (Manifest, error) {
	if len(data) > maxManifestBytes {
		return Manifest{}, errors.New("manifest: too large")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("manifest: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Manifest{}, errors.New("manifest: data after the object")
	}
	return m, m.validate()
}

func (m Manifest) validate() error {
	if m.Version != manifestVersion {
		return fmt.Errorf("manifest: version %d, want %d", m.Version, manifestVersion)
	}
	if err := validSeries(m.Database); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if m.TakenAt.IsZero() || m.TakenAt.Year() < 2000 || m.TakenAt.Year() > 9999 {
		return errors.New("manifest: taken_at missing or out of range")
	}
	if len(m.Files) == 0 || len(m.Files) > maxFiles {
		return fmt.Errorf("manifest: %d files, want 1 to %d", len(m.Files), maxFiles)
	}
	seen := make(map[string]bool, len(m.Files))
	for _, f := range m.Files {
		if seen[f.Name] {
			return fmt.Errorf("manifest: file %q twice", f.Name)
		}
		seen[f.Name] = true
		if err := validFileName(f.Name); err != nil {
			return fmt.Errorf("manifest: %w", err)
		}
		if f.Size < 0 || f.Size > 1<<50 {
			return fmt.Errorf("manifest: file %q: size %d", f.Name, f.Size)
		}
		if len(f.SHA256) != 64 || strings.Trim(f.SHA256, "0123456789abcdef") != "" {
			return fmt.Errorf("manifest: file %q: sha256 is not 64 lower-case hex digits", f.Name)
		}
	}
	if !seen[DataFile] {
		return fmt.Errorf("manifest: no %s", DataFile)
	}
	return nil
}

// validSeries: a database's name, or KeyStore.
func validSeries(name string) error {
	if name == KeyStore {
		return nil
	}
	return forge.ValidateName(name)
}

// validFileName: DataFile or a sidecar record, <lower-case letters and
// dashes>.json (the names volumes accepts).
func validFileName(name string) error {
	if name == DataFile {
		return nil
	}
	key, ok := strings.CutSuffix(name, ".json")
	if !ok || key == "" || len(key) > 32 || strings.Trim(key, "abcdefghijklmnopqrstuvwxyz-") != "" {
		return fmt.Errorf("file name %q: want %s or <letters>.json", name, DataFile)
	}
	return nil
}

// Sidecar is the record key of a sidecar file's name ("instance.json" →
// "instance"); ok false for DataFile.
func Sidecar(name string) (key string, ok bool) {
	if name == DataFile {
		return "", false
	}
	return strings.CutSuffix(name, ".json")
}
