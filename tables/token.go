package tables

import (
	"encoding/base64"
	"encoding/binary"
	"hash/fnv"
	"math"
	"unicode/utf8"

	"github.com/praetorian/db-forge/forge"
)

// A page token (_next) says where the next page starts: the values of
// the last row's keys (the sort columns, then the rowid or the primary
// key), or, for a view (which has no key), the rows to skip. It is
// opaque to the client: base64url of
//
//	version (1) | kind ('k' keyset, 'o' offset) | signature (4, FNV-1a of the ORDER BY)
//	| keyset: count (uvarint), then per value a kind byte and its bytes | offset: uvarint
//
// A token is hostile input like any other: decoding checks every length
// and kind, the signature must match the request's sort order, and the
// values are bound as parameters, never written into SQL. A client that
// edits a token can only start its page elsewhere, which a filter could
// do too.

const (
	tokenVersion = 1
	tokenKeyset  = 'k'
	tokenOffset  = 'o'
	// maxTokenBytes caps a token as the client sends it.
	maxTokenBytes = 64 << 10
)

// pageToken is a decoded _next.
type pageToken struct {
	kind   byte
	sig    uint32
	keys   []forge.Value // keyset
	offset int           // offset
}

func errToken(why string) error {
	return forge.Inputf(CodeInvalidToken, "Invalid _next token: %s. Use the \"next\" of the previous answer, with the same _sort.", why)
}

// signature identifies a sort order (the ORDER BY text).
func signature(orderBy string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(orderBy))
	return h.Sum32()
}

func encodeToken(t pageToken) string {
	b := make([]byte, 0, 32)
	b = append(b, tokenVersion, t.kind)
	b = binary.BigEndian.AppendUint32(b, t.sig)
	if t.kind == tokenOffset {
		b = binary.AppendUvarint(b, uint64(t.offset))
		return base64.RawURLEncoding.EncodeToString(b)
	}
	b = binary.AppendUvarint(b, uint64(len(t.keys)))
	for _, v := range t.keys {
		b = append(b, byte(v.Kind))
		switch v.Kind {
		case forge.Integer:
			b = binary.AppendVarint(b, v.Int)
		case forge.Float:
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(v.Float))
		case forge.Text:
			b = binary.AppendUvarint(b, uint64(len(v.Str)))
			b = append(b, v.Str...)
		case forge.Blob:
			b = binary.AppendUvarint(b, uint64(len(v.Bytes)))
			b = append(b, v.Bytes...)
		}
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeToken decodes a token without judging its signature (the caller
// compares it with the request's).
func decodeToken(s string) (pageToken, error) {
	var t pageToken
	if len(s) > maxTokenBytes {
		return t, errToken("too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return t, errToken("not base64url")
	}
	if len(b) < 6 || b[0] != tokenVersion {
		return t, errToken("unknown version")
	}
	t.kind = b[1]
	t.sig = binary.BigEndian.Uint32(b[2:6])
	b = b[6:]
	switch t.kind {
	case tokenOffset:
		n, k := binary.Uvarint(b)
		if k <= 0 || k != len(b) || n > 1<<62 {
			return t, errToken("bad offset")
		}
		t.offset = int(n)
		return t, nil
	case tokenKeyset:
	default:
		return t, errToken("unknown kind")
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || n == 0 || n > 64 {
		return t, errToken("bad key count")
	}
	b = b[k:]
	t.keys = make([]forge.Value, n)
	for i := range t.keys {
		if len(b) == 0 {
			return t, errToken("truncated")
		}
		kind := forge.Kind(b[0])
		b = b[1:]
		switch kind {
		case forge.Null:
			t.keys[i] = forge.NullValue()
		case forge.Integer:
			v, k := binary.Varint(b)
			if k <= 0 {
				return t, errToken("bad integer")
			}
			t.keys[i], b = forge.IntValue(v), b[k:]
		case forge.Float:
			if len(b) < 8 {
				return t, errToken("truncated")
			}
			f := math.Float64frombits(binary.BigEndian.Uint64(b))
			if math.IsNaN(f) {
				return t, errToken("bad number")
			}
			t.keys[i], b = forge.FloatValue(f), b[8:]
		case forge.Text, forge.Blob:
			l, k := binary.Uvarint(b)
			if k <= 0 || l > uint64(len(b)-k) {
				return t, errToken("truncated")
			}
			v := b[k : k+int(l)]
			b = b[k+int(l):]
			if kind == forge.Text {
				if !utf8.Valid(v) {
					return t, errToken("bad text")
				}
				t.keys[i] = forge.TextValue(string(v))
			} else {
				t.keys[i] = forge.BlobValue(append([]byte{}, v...))
			}
		default:
			return t, errToken("bad value kind")
		}
	}
	if len(b) != 0 {
		return t, errToken("trailing bytes")
	}
	return t, nil
}
