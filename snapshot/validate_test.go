package snapshot

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/praetorian/db-forge/forge"
)

// header is a valid header of a database of pages pages of pageSize.
func header(pageSize int, pages uint32) []byte {
	h := make([]byte, 100)
	copy(h, sqliteMagic)
	ps := uint16(pageSize)
	if pageSize == 65536 {
		ps = 1
	}
	binary.BigEndian.PutUint16(h[16:], ps)
	h[18], h[19], h[21], h[22], h[23] = 1, 1, 64, 32, 32
	binary.BigEndian.PutUint32(h[24:], 7) // change counter
	binary.BigEndian.PutUint32(h[28:], pages)
	binary.BigEndian.PutUint32(h[44:], 4)
	binary.BigEndian.PutUint32(h[56:], 1)
	binary.BigEndian.PutUint32(h[92:], 7) // valid for
	return h
}

func TestValidateFile(t *testing.T) {
	t.Parallel()
	mut := func(f func(h []byte)) []byte { h := header(4096, 2); f(h); return h }
	cases := []struct {
		name string
		head []byte
		size int64
		ok   bool
	}{
		{"valid", header(4096, 2), 8192, true},
		{"valid 64k", header(65536, 1), 65536, true},
		{"valid 512", header(512, 3), 1536, true},
		{"wal", mut(func(h []byte) { h[18], h[19] = 2, 2 }), 8192, true},
		{"stale page count ignored", mut(func(h []byte) { h[95] = 8; h[31] = 9 }), 8192, true},
		{"longer than the header says", header(4096, 2), 12288, true},
		{"short", header(4096, 2)[:50], 50, false},
		{"magic", mut(func(h []byte) { h[7] = 'X' }), 8192, false},
		{"page size 768", mut(func(h []byte) { binary.BigEndian.PutUint16(h[16:], 768) }), 8192, false},
		{"page size 256", mut(func(h []byte) { binary.BigEndian.PutUint16(h[16:], 256) }), 8192, false},
		{"version 3", mut(func(h []byte) { h[18] = 3 }), 8192, false},
		{"reserved bytes", mut(func(h []byte) { h[20] = 32 }), 8192, false},
		{"fractions", mut(func(h []byte) { h[21] = 65 }), 8192, false},
		{"schema format 5", mut(func(h []byte) { h[47] = 5 }), 8192, false},
		{"encoding 4", mut(func(h []byte) { h[59] = 4 }), 8192, false},
		{"not whole pages", header(4096, 2), 8000, false},
		{"truncated", header(4096, 3), 8192, false},
		{"too big", header(4096, 2), 1 << 21, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ValidateFile(tc.head, tc.size, 1<<20)
			var ie *forge.InputError
			if tc.ok != (err == nil) || err != nil && (!errors.As(err, &ie) || ie.Code != forge.CodeInvalidDatabaseFile) {
				t.Fatalf("ok %v, got %v", tc.ok, err)
			}
		})
	}
}

// FuzzValidateFile: never panics; what it accepts is whole pages of a
// power-of-two size, and only its own error code otherwise.
func FuzzValidateFile(f *testing.F) {
	f.Add(header(4096, 2), int64(8192))
	f.Add(header(65536, 1), int64(65536))
	f.Add([]byte("SQLite format 3\x00"), int64(16))
	f.Fuzz(func(t *testing.T, head []byte, size int64) {
		info, err := ValidateFile(head, size, 1<<30)
		if err != nil {
			var ie *forge.InputError
			if !errors.As(err, &ie) || ie.Code != forge.CodeInvalidDatabaseFile {
				t.Fatalf("error %v", err)
			}
			return
		}
		ps := int64(info.PageSize)
		if ps < 512 || ps > 65536 || ps&(ps-1) != 0 || size%ps != 0 || info.Pages*ps != size || size > 1<<30 {
			t.Fatalf("accepted page size %d, pages %d, size %d", ps, info.Pages, size)
		}
	})
}
