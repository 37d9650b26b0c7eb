package gateway

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
)

func TestDecodeBatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       forge.Batch
		err        string // code; "" = decodes
	}{
		{name: "defaults", body: `{"statements":[{"sql":"SELECT ?","params":[1]},{"sql":"SELECT :a","params":{"a":"x"}}]}`,
			want: forge.Batch{Statements: []forge.Statement{
				{SQL: "SELECT ?", Params: forge.Params{Positional: []forge.Value{forge.IntValue(1)}}},
				{SQL: "SELECT :a", Params: forge.Params{IsNamed: true, Named: []forge.NamedValue{{Name: "a", Value: forge.TextValue("x")}}}},
			}, MaxChanges: defaultMaxChanges}},
		{name: "separate dry run", body: `{"transaction":false,"dry_run":true,"statements":[{"sql":"SELECT 1"}]}`,
			want: forge.Batch{Separate: true, DryRun: true, MaxChanges: defaultMaxChanges, Statements: []forge.Statement{{SQL: "SELECT 1"}}}},
		{name: "max_changes", body: `{"dry_run":true,"max_changes":0,"statements":[{"sql":"SELECT 1"}]}`,
			want: forge.Batch{DryRun: true, Statements: []forge.Statement{{SQL: "SELECT 1"}}}},
		{name: "max_changes too many", body: `{"max_changes":10001,"statements":[{"sql":"SELECT 1"}]}`, err: CodeInvalidValue},
		{name: "max_changes not a number", body: `{"max_changes":true,"statements":[{"sql":"SELECT 1"}]}`, err: CodeValidation},
		{name: "no statements", body: `{"statements":[]}`, err: CodeValidation},
		{name: "missing", body: `{"transaction":true}`, err: CodeValidation},
		{name: "not an array", body: `{"statements":{}}`, err: CodeValidation},
		{name: "not an object", body: `{"statements":["SELECT 1"]}`, err: CodeValidation},
		{name: "no sql", body: `{"statements":[{"params":[]}]}`, err: CodeValidation},
		{name: "blank sql", body: `{"statements":[{"sql":"  "}]}`, err: CodeValidation},
		{name: "transaction not bool", body: `{"statements":[{"sql":"SELECT 1"}],"transaction":"no"}`, err: CodeValidation},
		{name: "unknown field", body: `{"statements":[{"sql":"SELECT 1"}],"atomic":true}`, err: CodeUnknownField},
		{name: "unknown statement field", body: `{"statements":[{"sql":"SELECT 1","x":1}]}`, err: CodeUnknownField},
		{name: "bad params", body: `{"statements":[{"sql":"SELECT 1","params":1}]}`, err: CodeValidation},
		{name: "bad json", body: `{"statements":[`, err: CodeInvalidJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeBatch([]byte(tc.body))
			if tc.err != "" {
				if err == nil || toAPIError(err).code != tc.err {
					t.Fatalf("err %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(tc.want)
			if string(g) != string(w) {
				t.Fatalf("got %s\nwant %s", g, w)
			}
		})
	}
}

func TestAppendMeta(t *testing.T) {
	t.Parallel()
	got := appendMeta([]byte(`{"message":"Query executed successfully.","rows_affected":1}`),
		forge.Meta{Duration: 1500 * time.Microsecond, Changes: 1, LastInsertID: 7, RowsWritten: 2, VMSteps: 9, FullScanSteps: 3})
	want := `{"message":"Query executed successfully.","rows_affected":1,"meta":{"duration_ms":1.5,"changes":1,"last_insert_id":7,"rows_written":2,"vm_steps":9,"full_scan_steps":3}}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestStatementErrorAnswer(t *testing.T) {
	t.Parallel()
	err := &forge.StatementError{Index: 3, Err: &forge.SQLError{Message: "m", Code: "SQLITE_ERROR"}}
	ae := toAPIError(err)
	b := appendErrorObject(nil, ae)
	if want := `{"code":"SQL_ERROR","message":"SQL Error: m","status":400,"sqlite_code":"SQLITE_ERROR","statement_index":3}`; string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	// The shared answer of a sentinel's rule is not changed.
	_ = toAPIError(&forge.StatementError{Index: 0, Err: forge.ErrReadOnly})
	if toAPIError(forge.ErrReadOnly).statement != 0 {
		t.Fatal("a rule's shared answer was changed")
	}
}

// FuzzDecodeBatch: the batch decoder never panics, refuses with a client
// error only, and what it accepts holds statements of non-blank SQL with
// values the engine can bind.
func FuzzDecodeBatch(f *testing.F) {
	for _, s := range []string{
		`{"statements":[{"sql":"SELECT ?","params":[1,"x",null,true,1.5]}],"transaction":false,"dry_run":true}`,
		`{"statements":[{"sql":"SELECT :a","params":{"a":{"$blob":"AP8="}}}]}`,
		`{"statements":[]}`, `{"statements":[{}]}`, `{"statements":[{"sql":""}]}`, `{"statements":[1]}`,
		`{"statements":[{"sql":"SELECT 1"}],"statements":[]}`, `{"Statements":[]}`, `[]`, ``,
		`{"statements":[{"sql":"SELECT 1","params":[9223372036854775808]}]}`,
		`{"statements":[{"sql":"SELECT 1","max_rows":2,"shape":"arrays"},{"sql":"x","max_bytes":9}],"max_rows":1,"format":"json"}`,
		`{"statements":[{"sql":"SELECT 1","format":"csv"}]}`, `{"shape":1,"statements":[{"sql":"x"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := decodeBatch(body)
		_, opts, oerr := decodeBatchOptions(body)
		if (err == nil) != (oerr == nil) {
			t.Fatalf("%q: decodeBatch %v, decodeBatchOptions %v", body, err, oerr)
		}
		if err != nil {
			checkClientError(t, err, body)
			return
		}
		if opts != nil && len(opts) != len(b.Statements) {
			t.Fatalf("%q: %d options for %d statements", body, len(opts), len(b.Statements))
		}
		for _, o := range opts {
			if o.format != formatJSON || o.maxRows < 0 || o.maxBytes < 0 || o.maxRows > maxCap || o.maxBytes > maxCap {
				t.Fatalf("%q: options %+v", body, o)
			}
		}
		if len(b.Statements) == 0 {
			t.Fatalf("no statements accepted from %q", body)
		}
		for _, q := range b.Statements {
			if strings.TrimSpace(q.SQL) == "" {
				t.Fatalf("blank sql accepted from %q", body)
			}
			for _, v := range q.Params.Positional {
				checkValue(t, v, body)
			}
			for _, nv := range q.Params.Named {
				checkValue(t, nv.Value, body)
			}
		}
	})
}

func TestAppendMillisAgreesWithAppendFloat(t *testing.T) {
	for _, us := range []int64{0, 1, 10, 42, 100, 999, 1000, 1001, 1500, 2000, 12345, 1<<40 + 7, -3} {
		want := strconv.AppendFloat(nil, float64(us)/1000, 'f', -1, 64)
		if got := appendMillis(nil, us); string(got) != string(want) {
			t.Errorf("appendMillis(%d) = %s, want %s", us, got, want)
		}
	}
}

func TestAppendSmallAgreesWithAppendInt(t *testing.T) {
	for _, n := range []int64{0, 1, 9, 10, 42, 99, 100, 101, 999, 1000, 12345, -1, -10, -999, math.MaxInt64, math.MinInt64} {
		if got, want := appendSmall([]byte("x"), n), strconv.AppendInt([]byte("x"), n, 10); string(got) != string(want) {
			t.Errorf("appendSmall(%d) = %s, want %s", n, got, want)
		}
	}
	m := forge.Meta{Duration: math.MaxInt64, Changes: math.MinInt64, LastInsertID: math.MinInt64, RowsWritten: math.MinInt64,
		VMSteps: math.MinInt64, FullScanSteps: math.MinInt64}
	if n := len(appendMetaObject(nil, m)); n > maxMetaLen {
		t.Errorf("meta of %d bytes, past maxMetaLen %d", n, maxMetaLen)
	}
}
