package backup_test

import (
	"strings"
	"testing"
	"time"

	"github.com/praetorian/db-forge/backup"
)

func goodManifest() backup.Manifest {
	return backup.Manifest{Version: 1, Database: "orders", TakenAt: time.Date(2026, 11, 30, 12, 0, 0, 5, time.UTC),
		FinishedAt: time.Date(2026, 11, 30, 12, 0, 1, 0, time.UTC), Fingerprint: "1:2:3:4",
		Files: []backup.File{{Name: "data.db", Size: 4096, SHA256: strings.Repeat("ab", 32)},
			{Name: "instance.json", Size: 20, SHA256: strings.Repeat("0f", 32)}}}
}

func TestManifestRoundTrip(t *testing.T) {
	m := goodManifest()
	got, err := backup.DecodeManifest(m.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !got.TakenAt.Equal(m.TakenAt) || got.Database != m.Database || len(got.Files) != 2 || got.Files[1] != m.Files[1] {
		t.Fatalf("round trip: %+v, want %+v", got, m)
	}
}

func TestDecodeManifestRefuses(t *testing.T) {
	good := string(goodManifest().Encode())
	cases := []struct{ name, data string }{
		{"empty", ""},
		{"not json", "nope"},
		{"trailing value", good + "{}"},
		{"unknown field", strings.Replace(good, `"version"`, `"extra": 1, "version"`, 1)},
		{"version", strings.Replace(good, `"version": 1`, `"version": 2`, 1)},
		{"bad database", strings.Replace(good, `"orders"`, `"../etc"`, 1)},
		{"reserved-looking database", strings.Replace(good, `"orders"`, `".meta"`, 1)},
		{"no time", strings.Replace(good, `"taken_at": "2026-11-30T12:00:00.000000005Z"`, `"taken_at": "0001-01-01T00:00:00Z"`, 1)},
		{"path in a file name", strings.Replace(good, `"instance.json"`, `"../../x.json"`, 1)},
		{"data file twice", strings.Replace(good, `"instance.json"`, `"data.db"`, 1)},
		{"no data file", strings.Replace(good, `"data.db"`, `"other.json"`, 1)},
		{"negative size", strings.Replace(good, `"size": 4096`, `"size": -1`, 1)},
		{"short sum", strings.Replace(good, strings.Repeat("ab", 32), "ab", 1)},
		{"upper-case sum", strings.Replace(good, strings.Repeat("ab", 32), strings.Repeat("AB", 32), 1)},
		{"no files", strings.Replace(good, `"files"`, `"filez"`, 1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := backup.DecodeManifest([]byte(c.data)); err == nil {
				t.Errorf("accepted:\n%s", c.data)
			}
		})
	}
	keys := strings.Replace(good, `"orders"`, `".keys"`, 1)
	if _, err := backup.DecodeManifest([]byte(keys)); err != nil {
		t.Errorf("the key store's manifest: %v", err)
	}
}

// FuzzDecodeManifest: a manifest from the target never crashes the
// decoder, and whatever it accepts is safe to act on and encodes back to
// itself.
func FuzzDecodeManifest(f *testing.F) {
	f.Add(goodManifest().Encode())
	f.Add([]byte(`{"version":1,"database":".keys","taken_at":"2026-01-01T00:00:00Z","files":[{"name":"data.db","size":0,"sha256":"` + strings.Repeat("0", 64) + `"}]}`))
	f.Add([]byte(`{"version":1,"database":"a","files":[{"name":"../x"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := backup.DecodeManifest(data)
		if err != nil {
			return
		}
		for _, file := range m.Files {
			if strings.ContainsAny(file.Name, "/\\\x00") || strings.HasPrefix(file.Name, ".") || file.Size < 0 {
				t.Fatalf("accepted file %+v", file)
			}
		}
		if strings.ContainsAny(m.Database, "/\\\x00") || m.Database == "" || m.Database == ".." {
			t.Fatalf("accepted database %q", m.Database)
		}
		again, err := backup.DecodeManifest(m.Encode())
		if err != nil {
			t.Fatalf("its own encoding refused: %v", err)
		}
		if !again.TakenAt.Equal(m.TakenAt) || len(again.Files) != len(m.Files) {
			t.Fatalf("re-encoded differs: %+v vs %+v", again, m)
		}
	})
}
