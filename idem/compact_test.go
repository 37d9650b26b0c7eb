package idem

import (
	"bytes"
	"testing"

	"github.com/praetorian/db-forge/forge"
)

func TestCompactRoundTrip(t *testing.T) {
	for _, c := range []struct {
		ct, body string
		compact  bool
	}{
		{jsonType, `{"message":"Query executed successfully.","rows_affected":1,"meta":{"duration_ms":0.012,"changes":1,"last_insert_id":7,"rows_written":1,"vm_steps":9,"full_scan_steps":0}}`, true},
		{jsonType, `{"data":[{"id":1,"v":"{\"data\":[ ,\"changes\":"}],"rows_affected":1}`, true},
		{jsonType, `{"detail":"SQL Error: x","error":{"code":"SQL_ERROR","message":"SQL Error: x","status":400,"statement_index":1}}`, true},
		{jsonType, "{\"a\":\n1}", false}, // a raw control byte: as it is
		{jsonType, "", true},
		{"text/csv", "a,b\n1,2\n", false},
	} {
		ct, stored := compact(c.ct, []byte(c.body))
		if c.compact && (ct != "" || len(stored) == 0 || stored[0] != compactMark || len(stored) > len(c.body)+1) {
			t.Errorf("%q: stored %q %q, want it compact", c.body, ct, stored)
		}
		if !c.compact && (ct != c.ct || string(stored) != c.body) {
			t.Errorf("%q: stored %q %q, want it as it is", c.body, ct, stored)
		}
		gotCT, got := expand(ct, stored)
		if gotCT != c.ct || string(got) != c.body {
			t.Errorf("%q: round trip %q %q", c.body, gotCT, got)
		}
	}
	// An insert's answer shrinks to about a third.
	body := `{"message":"Query executed successfully.","rows_affected":1,"meta":{"duration_ms":0.012,"changes":1,"last_insert_id":7,"rows_written":1,"vm_steps":9,"full_scan_steps":0}}`
	if _, stored := compact(jsonType, []byte(body)); len(stored)*3 > len(body) {
		t.Errorf("stored %d bytes of %d", len(stored), len(body))
	}
	// A record stored before compaction reads back as it was.
	if ct, got := expand(jsonType, []byte(body)); ct != jsonType || string(got) != body {
		t.Errorf("old record: %q %q", ct, got)
	}
}

// FuzzCompact: whatever the body, its stored form reads back as it was.
func FuzzCompact(f *testing.F) {
	f.Add(`{"message":"Query executed successfully.","rows_affected":1}`, true)
	f.Add("\x01\x02", true)
	f.Add("a,b", false)
	f.Fuzz(func(t *testing.T, body string, isJSON bool) {
		ct0 := "text/csv"
		if isJSON {
			ct0 = jsonType
		}
		ct, stored := compact(ct0, []byte(body))
		gotCT, got := expand(ct, stored)
		if gotCT != ct0 || !bytes.Equal(got, []byte(body)) {
			t.Fatalf("%q: round trip %q %q", body, gotCT, got)
		}
	})
}

// A record's packed form reads back as the answer and request hash it
// was made of: a JSON answer (compact), one that is not JSON, and a
// "JSON" one with a raw control byte (as it is).
func TestPackRecordRoundTrip(t *testing.T) {
	var k forge.IdempotencyKey
	copy(k.Hash[:], "0123456789abcdef0123456789abcdef")
	for _, a := range []forge.Answer{
		{Status: 201, ContentType: jsonType, Body: []byte(`{"message":"Query executed successfully.","rows_affected":1,"meta":{"duration_ms":0.1}}`)},
		{Status: 200, ContentType: "text/csv", Body: []byte("a,b\n1,2\n")},
		{Status: 422, ContentType: jsonType, Body: []byte("{\"a\":\n1}")},
		{Status: 400, ContentType: jsonType, Body: nil},
	} {
		rec := packRecord(nil, k, a)
		got, err := unpackRecord(rec)
		if err != nil || got.Status != a.Status || got.ContentType != a.ContentType ||
			!bytes.Equal(got.Body, a.Body) || !bytes.Equal(got.hash, k.Hash[:]) {
			t.Errorf("%q: %v %d %q %q", a.Body, err, got.Status, got.ContentType, got.Body)
		}
	}
	for _, bad := range []string{"", "short", "0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef\x01\x09ab"} {
		if _, err := unpackRecord([]byte(bad)); err == nil {
			t.Errorf("%q: read as a record", bad)
		}
	}
}
