package audit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/praetorian/db-forge/forge"
)

func TestCap(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, in string
		n        int
		want     string
	}{
		{"short", "abc", 5, "abc"},
		{"exact", "abcde", 5, "abcde"},
		{"cut", "abcdef", 3, "abc"},
		{"zero", "abc", 0, ""},
		{"on a rune", "aé", 2, "a"},
		{"short, invalid utf-8 kept", "a\xffb", 3, "a\xffb"},
		{"cut, invalid utf-8 dropped", "a\xffbc", 3, "ab"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := Cap(c.in, c.n); got != c.want {
				t.Errorf("Cap(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
			}
		})
	}
}

func TestParseQuery(t *testing.T) {
	t.Parallel()
	p := func(kv ...string) []forge.QueryParam {
		var out []forge.QueryParam
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, forge.QueryParam{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	for _, c := range []struct {
		name   string
		params []forge.QueryParam
		want   Query
		bad    string // part of the message
	}{
		{name: "none", want: Query{Limit: DefaultLimit}},
		{name: "all", params: p("since", "2026-01-02T15:04:05Z", "key_id", "key_1", "limit", "5"),
			want: Query{Since: time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC), KeyID: "key_1", Limit: 5}},
		{name: "unix", params: p("since", "1767366245"), want: Query{Since: time.Unix(1767366245, 0), Limit: DefaultLimit}},
		{name: "fractions", params: p("since", "2026-01-02T15:04:05.5+02:00"),
			want: Query{Since: time.Date(2026, 1, 2, 13, 4, 5, 5e8, time.UTC), Limit: DefaultLimit}},
		{name: "limit capped", params: p("limit", "5000"), want: Query{Limit: MaxLimit}},
		{name: "limit huge", params: p("limit", "99999999999999999999999"), want: Query{Limit: MaxLimit}},
		{name: "limit zero", params: p("limit", "0"), bad: `"limit"`},
		{name: "limit negative", params: p("limit", "-1"), bad: `"limit"`},
		{name: "limit text", params: p("limit", "ten"), bad: `"limit"`},
		{name: "limit empty", params: p("limit", ""), bad: `"limit"`},
		{name: "since text", params: p("since", "yesterday"), bad: `"since"`},
		{name: "since negative", params: p("since", "-5"), bad: `"since"`},
		{name: "since far", params: p("since", "99999999999999"), bad: `"since"`},
		{name: "since year 0", params: p("since", "0000-01-01T00:00:00Z"), bad: `"since"`},
		{name: "twice", params: p("limit", "1", "limit", "2"), bad: "twice"},
		{name: "unknown", params: p("offset", "1"), bad: "Unknown"},
		{name: "key too long", params: p("key_id", strings.Repeat("k", 129)), bad: "128"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseQuery(c.params)
			if c.bad != "" {
				var ie *forge.InputError
				if !errors.As(err, &ie) || ie.Code != CodeInvalidValue || !strings.Contains(ie.Message, c.bad) {
					t.Fatalf("err %v, want an INVALID_VALUE naming %s", err, c.bad)
				}
				return
			}
			if err != nil || !got.Since.Equal(c.want.Since) || got.KeyID != c.want.KeyID || got.Limit != c.want.Limit {
				t.Fatalf("got %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}

// FuzzParseQuery: any query string decodes to a valid query or an
// INVALID_VALUE, never a panic; a valid one's limit is within bounds.
func FuzzParseQuery(f *testing.F) {
	for _, s := range [][3]string{
		{"since", "2026-01-02T15:04:05Z", "limit"}, {"since", "1767366245", "key_id"}, {"limit", "5000", "limit"},
		{"key_id", "key_abc", "since"}, {"since", "", ""}, {"what", "\xff", "limit"},
	} {
		f.Add(s[0], s[1], s[2], "7")
	}
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		q, err := ParseQuery([]forge.QueryParam{{Key: k1, Value: v1}, {Key: k2, Value: v2}})
		if err != nil {
			var ie *forge.InputError
			if !errors.As(err, &ie) || ie.Code != CodeInvalidValue || !utf8.ValidString(ie.Message) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if q.Limit < 1 || q.Limit > MaxLimit || len(q.KeyID) > 128 {
			t.Fatalf("query %+v", q)
		}
		if !q.Since.IsZero() && (q.Since.Year() < 1970 || q.Since.Year() > 9999) {
			t.Fatalf("since %v", q.Since)
		}
	})
}

// records are a transaction's records as the engine hands them on.
func records() []forge.AuditRecord {
	c := &forge.Caller{KeyID: "key_1", RequestID: "req-1", Route: "/api/db/{db_name}/query"}
	t0 := time.UnixMicro(1_767_366_245_000_000)
	return []forge.AuditRecord{
		{Time: t0, Caller: c, SQL: "INSERT INTO t(v) VALUES (?)", Params: 3, Runs: 3, Rows: 3, Duration: 41 * time.Microsecond, Outcome: forge.AuditOK},
		{Time: t0.Add(-time.Microsecond), Caller: c, SQL: "INSERT INTO t(v) VALUES (?)", Params: 1, Runs: 1, Rows: 0,
			Outcome: forge.AuditError, Error: "UNIQUE constraint failed: t.v"},
		{Time: t0.Add(time.Second), SQL: strings.Repeat("é", 600), Read: true, Runs: 1, Rows: -1, Outcome: forge.AuditRolledBack},
		{Time: t0.Add(time.Second), Caller: &forge.Caller{}, SQL: "", Outcome: "odd"},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	in := records()
	b := encodeRecords(nil, in, 100, 10)
	out, err := decodeRecords(b, int64(len(in)), 40)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d records, want %d", len(out), len(in))
	}
	for i, r := range in {
		d := out[i]
		var key, req, route string
		if r.Caller != nil {
			key, req, route = r.Caller.KeyID, r.Caller.RequestID, r.Caller.Route
		}
		kind := "write"
		if r.Read {
			kind = "read"
		}
		if d.ID != int64(37+i) || d.atUS != r.Time.UnixMicro() || d.KeyID != key || d.RequestID != req || d.Route != route ||
			d.Kind != kind || d.SQL != Cap(r.SQL, 100) || d.SQLBytes != int64(len(r.SQL)) || d.Params != int64(r.Params) ||
			d.Runs != int64(max(r.Runs, 1)) || d.Rows != r.Rows || d.DurationUS != r.Duration.Microseconds() ||
			d.Outcome != r.Outcome || d.Error != Cap(r.Error, 10) {
			t.Errorf("record %d: %+v from %+v", i, d, r)
		}
	}
	// The shared key, route and text are spelled once.
	if n := strings.Count(string(b), "INSERT INTO t(v)"); n != 1 {
		t.Errorf("the text is spelled %d times", n)
	}
	for cut := range len(b) {
		if _, err := decodeRecords(b[:cut], int64(len(in)), 40); err == nil {
			t.Fatalf("a row cut at %d of %d decodes", cut, len(b))
		}
	}
}

// A row of many records, a request id each (the buffered writer's): the
// string numbers stay those decodeRecords gives, past the encoder's scan
// (dictScan) and past the 256 strings numbered.
func TestCodecManyStrings(t *testing.T) {
	t.Parallel()
	in := make([]forge.AuditRecord, 600)
	for i := range in {
		in[i] = forge.AuditRecord{Time: time.UnixMicro(int64(1000 + i)), Runs: 1, Outcome: forge.AuditOK,
			Caller: &forge.Caller{KeyID: "key_" + strconv.Itoa(i%3), RequestID: "req-" + strconv.Itoa(i), Route: "/r"},
			SQL:    "INSERT " + strconv.Itoa(i%40)}
	}
	b := encodeRecords(nil, in, 100, 10)
	out, err := decodeRecords(b, int64(len(in)), int64(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range in {
		if d := out[i]; d.KeyID != r.Caller.KeyID || d.RequestID != r.Caller.RequestID || d.Route != r.Caller.Route || d.SQL != r.SQL {
			t.Fatalf("record %d: %+v from %+v", i, d, r)
		}
	}
	if n := strings.Count(string(b), "INSERT 7"); n != 1 {
		t.Errorf("a text is spelled %d times", n)
	}
}

// FuzzDecodeRecords: a row that is not one encodeRecords made is an
// error, never a panic or an allocation beyond its size.
func FuzzDecodeRecords(f *testing.F) {
	f.Add(encodeRecords(nil, records(), 100, 10), int64(4))
	f.Add([]byte{0}, int64(1))
	f.Fuzz(func(t *testing.T, b []byte, n int64) {
		out, err := decodeRecords(b, n, 1<<40)
		if err == nil && int64(len(out)) != n {
			t.Fatalf("%d records, want %d", len(out), n)
		}
	})
}

// A transaction's records go in rows of at most about maxRowBytes, so
// that a large import's records never pass SQLite's limit on a value.
func TestStatementsSplitRows(t *testing.T) {
	t.Parallel()
	r := &Recorder{cfg: Config{}.withDefaults(), now: time.Now, dbs: map[string]*dbState{}}
	recs := make([]forge.AuditRecord, 2000)
	for i := range recs {
		recs[i] = forge.AuditRecord{Time: time.UnixMicro(int64(i)), SQL: fmt.Sprintf("INSERT INTO t VALUES (%d, '%s')", i, strings.Repeat("x", 300)), Outcome: forge.AuditOK}
	}
	stmts := r.statements("db", recs)
	total := int64(0)
	for _, q := range stmts {
		if q.SQL != insertRow {
			continue
		}
		b := q.Params.Positional[2].Bytes
		n := q.Params.Positional[1].Int
		if len(b) > maxRowBytes+4096 {
			t.Errorf("a row of %d bytes", len(b))
		}
		if _, err := decodeRecords(b, n, 1<<20); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if total != int64(len(recs)) || len(stmts) < 3 {
		t.Errorf("%d records in %d statements", total, len(stmts))
	}
}
