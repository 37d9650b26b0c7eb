package snapshot

import (
	"bytes"
	"encoding/binary"

	"github.com/praetorian/db-forge/forge"
)

// FileInfo is what the header of a SQLite database file says.
type FileInfo struct {
	PageSize int
	Pages    int64 // the file's size in pages
}

// sqliteMagic opens every SQLite 3 database file.
var sqliteMagic = []byte("SQLite format 3\x00")

// headerSize is the size of a database file's header (on page 1).
const headerSize = 100

// ValidateFile checks the header of a SQLite database file of size bytes
// whose first bytes are head (at least the 100 of the header when the file
// has them), before SQLite ever opens it (https://sqlite.org/fileformat.html):
// the magic string, a page size that is a power of two from 512 to 65536,
// format versions 1 (rollback) or 2 (WAL), no reserved bytes per page
// (they belong to extensions such as encryption or checksums, which the
// engine does not have), the fixed payload fractions, schema format 1 to 4,
// a text encoding SQLite knows, a size that is whole pages and not below
// what the header says the database holds (a truncated file), and at most
// maxBytes. What it finds is an INVALID_DATABASE_FILE error; integrity_check
// then reads every page.
func ValidateFile(head []byte, size, maxBytes int64) (FileInfo, error) {
	bad := func(format string, args ...any) (FileInfo, error) {
		return FileInfo{}, forge.Inputf(forge.CodeInvalidDatabaseFile, "Not a usable SQLite database file: "+format, args...)
	}
	if size < headerSize || len(head) < headerSize {
		return bad("it is shorter than the 100-byte header.")
	}
	if !bytes.Equal(head[:16], sqliteMagic) {
		return bad(`it does not begin with "SQLite format 3".`)
	}
	pageSize := int(binary.BigEndian.Uint16(head[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if pageSize < 512 || pageSize > 65536 || pageSize&(pageSize-1) != 0 {
		return bad("page size %d is not a power of two from 512 to 65536.", pageSize)
	}
	if w, r := head[18], head[19]; w < 1 || w > 2 || r < 1 || r > 2 {
		return bad("file format versions %d/%d (want 1 or 2).", w, r)
	}
	if head[20] != 0 {
		return bad("%d reserved bytes per page (an extension's, such as encryption); want 0.", head[20])
	}
	if head[21] != 64 || head[22] != 32 || head[23] != 32 {
		return bad("payload fractions %d/%d/%d (want 64/32/32).", head[21], head[22], head[23])
	}
	if f := binary.BigEndian.Uint32(head[44:48]); f > 4 {
		return bad("schema format %d (want 1 to 4).", f)
	}
	if enc := binary.BigEndian.Uint32(head[56:60]); enc > 3 {
		return bad("text encoding %d (want 1, 2 or 3).", enc)
	}
	if maxBytes > 0 && size > maxBytes {
		return bad("it holds %d bytes; a database may hold at most %d.", size, maxBytes)
	}
	if size%int64(pageSize) != 0 {
		return bad("its size, %d bytes, is not a whole number of %d-byte pages (truncated?).", size, pageSize)
	}
	pages := size / int64(pageSize)
	counter, validFor := binary.BigEndian.Uint32(head[24:28]), binary.BigEndian.Uint32(head[92:96])
	if n := int64(binary.BigEndian.Uint32(head[28:32])); n > 0 && counter == validFor && n > pages {
		return bad("the header says %d pages and the file has %d (truncated).", n, pages)
	}
	return FileInfo{PageSize: pageSize, Pages: pages}, nil
}
