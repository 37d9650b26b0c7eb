package forge

import "strings"

// MaxNameLength caps a database name. The name becomes a directory, a file
// name with a "-journal" suffix and a Docker container name "db-worker-<name>";
// 128 keeps all of them far below the 255-byte file-name limit.
const MaxNameLength = 128

// reservedSuffixes would make a database's file look like another one's
// SQLite side file.
var reservedSuffixes = []string{"-wal", "-shm", "-journal"}

// ValidateName checks a database name. The seed contract allows
// ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$; we keep every such name that is safe as a
// path component and a container name, and refuse:
//   - empty names and names over MaxNameLength bytes,
//   - any character outside [A-Za-z0-9_.-], or a first character that is not
//     a letter or digit (so no ".", "..", ".hidden" or "-flag"),
//   - ".." anywhere (no path games even after normalisation),
//   - a name ending in "." (Windows-hostile, and confusing next to ".db"),
//   - a reserved SQLite suffix (-wal, -shm, -journal), in any case.
func ValidateName(name string) error {
	if name == "" || len(name) > MaxNameLength {
		return ErrInvalidName
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == '-'):
		default:
			return ErrInvalidName
		}
	}
	if strings.Contains(name, "..") || strings.HasSuffix(name, ".") {
		return ErrInvalidName
	}
	lower := strings.ToLower(name)
	for _, s := range reservedSuffixes {
		if strings.HasSuffix(lower, s) {
			return ErrInvalidName
		}
	}
	return nil
}
