package idem

import (
	"bytes"
	"testing"
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
