package audit

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// The records of one row of the log, as a compact blob: a row is written
// by every transaction that writes, so its size is what the log costs (a
// row that fits in a few hundred bytes adds one page to the transaction's
// commit, often the page the previous row was in). Per record:
//
//	uvarint  at_us - base (the row's first record's time, base itself
//	         for the first; zigzag, as the times of a group's members
//	         need not be in order)
//	string × 5: key_id, request_id, route, sql (capped), error (capped)
//	byte     kind and outcome: bit 0 read; bits 1-2 outcome (0 ok, 1
//	         error, 2 rolled_back, 3 other, its text follows as a string)
//	uvarint  sql_bytes, params, runs, duration_us; zigzag rows
//
// A string is a uvarint v: v odd, the string number v>>1 of those this
// row has spelled out before; v even, a new string of v>>1 bytes that
// follow. A transaction's records mostly share their key, route and SQL
// text, so each is spelled once per row.

// dictScan: encodeRecords looks its strings up by a scan while it has
// spelled out no more than this many.
const dictScan = 32

// encodeRecords appends recs to b.
func encodeRecords(b []byte, recs []forge.AuditRecord, maxSQL, maxErr int) []byte {
	// On the stack while it holds no more than a group commit's records
	// spell out (a request id each, and one key, route and text): its
	// growth was most of the allocations of a commit's records.
	// Past dictScan strings (a row of the buffered writer's: hundreds of
	// records, a request id each) a map finds them: a scan of 256 cost
	// ~0.6 µs a record.
	var dictBuf [64]string
	dict := dictBuf[:0]
	var index map[string]int
	str := func(s string) {
		if index != nil {
			if i, ok := index[s]; ok {
				b = binary.AppendUvarint(b, uint64(i)<<1|1)
				return
			}
		} else {
			for i, d := range dict {
				if d == s {
					b = binary.AppendUvarint(b, uint64(i)<<1|1)
					return
				}
			}
		}
		if len(dict) < 256 { // as decodeRecords: string numbers agree
			dict = append(dict, s)
			switch {
			case index != nil:
				index[s] = len(dict) - 1
			case len(dict) > dictScan:
				index = make(map[string]int, 256)
				for i, d := range dict {
					index[d] = i // no string is in dict twice
				}
			}
		}
		b = binary.AppendUvarint(b, uint64(len(s))<<1)
		b = append(b, s...)
	}
	var base int64
	for i := range recs {
		r := &recs[i]
		at := r.Time.UnixMicro()
		if i == 0 {
			base = at
			b = binary.AppendVarint(b, at)
		} else {
			b = binary.AppendVarint(b, at-base)
		}
		var key, req, route string
		if c := r.Caller; c != nil {
			key, req, route = c.KeyID, c.RequestID, c.Route
		}
		str(key)
		str(req)
		str(route)
		str(Cap(r.SQL, maxSQL))
		str(Cap(r.Error, maxErr))
		var flags byte
		if r.Read {
			flags = 1
		}
		switch r.Outcome {
		case forge.AuditOK:
		case forge.AuditError:
			flags |= 1 << 1
		case forge.AuditRolledBack:
			flags |= 2 << 1
		default:
			flags |= 3 << 1
		}
		b = append(b, flags)
		if flags>>1 == 3 {
			str(Cap(r.Outcome, 32))
		}
		b = binary.AppendUvarint(b, uint64(len(r.SQL)))
		b = binary.AppendUvarint(b, uint64(max(r.Params, 0)))
		b = binary.AppendUvarint(b, uint64(max(r.Runs, 1)))
		b = binary.AppendUvarint(b, uint64(max(r.Duration.Microseconds(), 0)))
		b = binary.AppendVarint(b, r.Rows)
	}
	return b
}

var errCorrupt = errors.New("audit log: a row of records does not decode")

// decodeRecords reads n records of a row (encodeRecords) whose last is
// number seq.
func decodeRecords(b []byte, n, seq int64) ([]decoded, error) {
	if n < 0 || n > int64(len(b)) {
		return nil, errCorrupt
	}
	out := make([]decoded, 0, n)
	var dict []string
	bad := false
	uv := func() uint64 {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			bad = true
			return 0
		}
		b = b[k:]
		return v
	}
	sv := func() int64 {
		v, k := binary.Varint(b)
		if k <= 0 {
			bad = true
			return 0
		}
		b = b[k:]
		return v
	}
	str := func() string {
		v := uv()
		if bad {
			return ""
		}
		if v&1 == 1 {
			if v>>1 >= uint64(len(dict)) {
				bad = true
				return ""
			}
			return dict[v>>1]
		}
		l := v >> 1
		if l > uint64(len(b)) {
			bad = true
			return ""
		}
		s := string(b[:l])
		b = b[l:]
		if len(dict) < 256 {
			dict = append(dict, s)
		}
		return s
	}
	var base int64
	for i := int64(0); i < n; i++ {
		var d decoded
		if i == 0 {
			base = sv()
			d.atUS = base
		} else {
			d.atUS = base + sv()
		}
		d.KeyID, d.RequestID, d.Route, d.SQL, d.Error = str(), str(), str(), str(), str()
		if bad || len(b) == 0 {
			return nil, errCorrupt
		}
		flags := b[0]
		b = b[1:]
		d.Kind = "write"
		if flags&1 == 1 {
			d.Kind = "read"
		}
		switch flags >> 1 {
		case 0:
			d.Outcome = forge.AuditOK
		case 1:
			d.Outcome = forge.AuditError
		case 2:
			d.Outcome = forge.AuditRolledBack
		default:
			d.Outcome = str()
		}
		d.SQLBytes, d.Params, d.Runs, d.DurationUS = int64(uv()), int64(uv()), int64(uv()), int64(uv())
		d.Rows = sv()
		if bad || d.SQLBytes < 0 || d.Params < 0 || d.Runs < 0 || d.DurationUS < 0 || flags>>3 != 0 {
			return nil, errCorrupt
		}
		d.ID = seq - n + 1 + i
		d.Time = formatTime(d.atUS)
		out = append(out, d)
	}
	if len(b) != 0 {
		return nil, errCorrupt
	}
	return out, nil
}

// formatTime is an at_us as the route answers it.
func formatTime(us int64) string {
	return time.UnixMicro(us).UTC().Format("2006-01-02T15:04:05.000000Z07:00")
}

// decoded is a record read back, with its time as stored.
type decoded struct {
	forge.AuditEntry
	atUS int64
}
