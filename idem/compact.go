package idem

import (
	"bytes"
	"strings"
)

// Recorded answers are stored compactly: the record is most of what an
// idempotent write adds to its transaction (an INSERT's answer is ~170
// bytes of JSON, its row ~20), so the JSON fragments every answer repeats
// are stored as one byte each. JSON text never holds a raw byte below
// 0x20 (a string escapes them), so such a byte cannot be confused with
// the answer's own; a body that holds one anyway, or is not JSON, is
// stored as it is, with its content type. A compact body is stored with
// the content type "" (its type is application/json) and starts with
// compactMark; records stored before this have a content type, and read
// back as they are.

const (
	compactMark = 0x00
	jsonType    = "application/json"
)

// fragments are the repeated pieces, by the byte (1 + index) that stands
// for each. Only append: stored records use these numbers. Longer first
// where one holds another.
var fragments = [...]string{
	`{"message":"Query executed successfully.","rows_affected":`,
	`,"meta":{"duration_ms":`,
	`,"changes":`,
	`,"last_insert_id":`,
	`,"rows_written":`,
	`,"vm_steps":`,
	`,"full_scan_steps":`,
	`{"data":[`,
	`],"rows_affected":`,
	`{"detail":`,
	`,"error":{"code":`,
	`,"message":`,
	`,"status":`,
	`,"sqlite_code":`,
	`,"statement_index":`,
	`{"results":[`,
	`{"message":"Rows inserted successfully.","rows_affected":`,
}

// expandReplacer replaces each fragment's byte with the fragment.
var expandReplacer = func() *strings.Replacer {
	var x []string
	for i, f := range fragments {
		x = append(x, string(rune(1+i)), f)
	}
	return strings.NewReplacer(x...)
}()

// byFirst lists the fragments by their first byte, in fragments' order
// (so a longer one that holds another is tried first).
var byFirst = func() (m [256][]uint8) {
	for i, f := range fragments {
		m[f[0]] = append(m[f[0]], uint8(i))
	}
	return m
}()

// compact is the stored form of an answer's content type and body.
func compact(contentType string, body []byte) (string, []byte) {
	if contentType != jsonType {
		return contentType, body
	}
	if out, ok := appendCompact(make([]byte, 0, 1+len(body)), body); ok {
		return "", out
	}
	return contentType, body // not the JSON it says: as it is
}

// appendCompact appends the compact form of a JSON body to dst (its
// content type is then ""): false if body holds a byte below 0x20. One
// pass, each fragment where it starts (the first in fragments' order
// where several do).
func appendCompact(dst, body []byte) ([]byte, bool) {
	dst = append(dst, compactMark)
next:
	for i := 0; i < len(body); {
		c := body[i]
		if c < 0x20 {
			return dst, false
		}
		for _, f := range byFirst[c] {
			if frag := fragments[f]; len(body)-i >= len(frag) && string(body[i:i+len(frag)]) == frag {
				dst = append(dst, 1+f)
				i += len(frag)
				continue next
			}
		}
		dst = append(dst, c)
		i++
	}
	return dst, true
}

// expand is the answer's content type and body from their stored form.
func expand(contentType string, body []byte) (string, []byte) {
	if contentType != "" || len(body) == 0 || body[0] != compactMark {
		return contentType, body
	}
	contentType = jsonType
	var b bytes.Buffer
	b.Grow(2 * len(body))
	_, _ = expandReplacer.WriteString(&b, string(body[1:]))
	return contentType, b.Bytes()
}
