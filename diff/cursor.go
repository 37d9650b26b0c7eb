package diff

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"

	"github.com/praetorian/db-forge/forge"
)

// A cursor is where the next page starts: the table and the key of the
// last row of the page before (the rows after it come next), and the
// "against" it was made for. It travels as base64url of a small JSON
// object; a client may send any text, so it is decoded strictly and
// bounded. It is not secret: it only points into data the key may read.

// maxCursor bounds a cursor's text.
const maxCursor = 64 << 10

// position is a decoded cursor; the zero position is the start.
type position struct {
	table string // folded
	key   []forge.Value
}

type wireCursor struct {
	V int         `json:"v"`
	A string      `json:"a"`
	T string      `json:"t"`
	K []wireValue `json:"k"`
}

// wireValue is a value by its kind: 0 null, 1 integer (I), 2 real (I holds
// its IEEE bits), 3 text (X), 4 blob (X).
type wireValue struct {
	K forge.Kind `json:"k"`
	I int64      `json:"i,omitempty"`
	X []byte     `json:"x,omitempty"`
}

// EncodeCursor is the cursor of a position.
func encodeCursor(against, table string, key []forge.Value) string {
	w := wireCursor{V: 1, A: against, T: table, K: make([]wireValue, len(key))}
	for i, v := range key {
		wv := wireValue{K: v.Kind}
		switch v.Kind {
		case forge.Integer:
			wv.I = v.Int
		case forge.Float:
			wv.I = int64(math.Float64bits(v.Float))
		case forge.Text:
			wv.X = []byte(v.Str)
		case forge.Blob:
			wv.X = v.Bytes
		}
		w.K[i] = wv
	}
	b, _ := json.Marshal(w) // plain types: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a cursor made for against; a cursor of another
// diff, or not a cursor at all, is the client's error.
func DecodeCursor(s, against string) (position, error) {
	bad := invalid(`Query parameter "cursor" is not a cursor of this diff: send the "next_cursor" of the page before, with the same "against".`)
	if len(s) > maxCursor {
		return position{}, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return position{}, bad
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var w wireCursor
	if err := dec.Decode(&w); err != nil || dec.More() || w.V != 1 || w.A != against || w.T == "" || len(w.K) == 0 || len(w.K) > 2001 {
		return position{}, bad
	}
	p := position{table: w.T, key: make([]forge.Value, len(w.K))}
	for i, wv := range w.K {
		switch wv.K {
		case forge.Null:
			if wv.I != 0 || wv.X != nil {
				return position{}, bad
			}
		case forge.Integer:
			p.key[i] = forge.IntValue(wv.I)
		case forge.Float:
			f := math.Float64frombits(uint64(wv.I))
			if math.IsNaN(f) {
				return position{}, bad
			}
			p.key[i] = forge.FloatValue(f)
		case forge.Text:
			p.key[i] = forge.TextValue(string(wv.X))
		case forge.Blob:
			p.key[i] = forge.BlobValue(wv.X)
		default:
			return position{}, bad
		}
		if wv.K != forge.Text && wv.K != forge.Blob && wv.X != nil {
			return position{}, bad
		}
	}
	return p, nil
}
