package gateway

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/praetorian/db-forge/forge"
)

// rowsBatchEngine runs a batch's statements one after the other on
// rowsEngine (package batch's logic is tested on its own).
type rowsBatchEngine struct{ rowsEngine }

func (e rowsBatchEngine) Batch(ctx context.Context, db string, b forge.Batch, out forge.BatchOutput) error {
	out.Reset()
	for i, q := range b.Statements {
		res, err := e.Query(ctx, db, q, out.Rows(i))
		if err != nil {
			return &forge.StatementError{Index: i, Err: err}
		}
		if err := out.Done(i, res, nil); err != nil {
			return err
		}
	}
	return nil
}

func TestDecodeBatchOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       []resultOptions
		err        string // code; "" = decodes
	}{
		{name: "none", body: `{"statements":[{"sql":"a"},{"sql":"b"}]}`},
		{name: "top level for all", body: `{"max_rows":1,"statements":[{"sql":"a"},{"sql":"b"}],"shape":"arrays"}`,
			want: []resultOptions{{maxRows: 1, capRows: true, arrays: true}, {maxRows: 1, capRows: true, arrays: true}}},
		{name: "own over default", body: `{"statements":[{"sql":"a","shape":"objects","max_bytes":100},{"sql":"b"}],"shape":"arrays","max_rows":3}`,
			want: []resultOptions{{maxRows: 3, capRows: true, maxBytes: 100}, {maxRows: 3, capRows: true, arrays: true}}},
		{name: "one statement only", body: `{"statements":[{"sql":"a"},{"sql":"b","max_rows":0}]}`,
			want: []resultOptions{{}, {capRows: true}}},
		{name: "format json", body: `{"format":"json","statements":[{"sql":"a"}]}`,
			want: []resultOptions{{formatSet: true}}},
		{name: "format csv", body: `{"format":"csv","statements":[{"sql":"a"}]}`, err: CodeInvalidValue},
		{name: "statement format", body: `{"statements":[{"sql":"a","format":"json"}]}`, err: CodeInvalidValue},
		{name: "bad statement cap", body: `{"statements":[{"sql":"a","max_rows":-1}]}`, err: CodeInvalidValue},
		{name: "bad shape", body: `{"shape":"rows","statements":[{"sql":"a"}]}`, err: CodeInvalidValue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, got, err := decodeBatchOptions([]byte(tc.body))
			if tc.err != "" {
				if err == nil || toAPIError(err).code != tc.err {
					t.Fatalf("err %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("statement %d: got %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
	_, _, err := decodeBatchOptions([]byte(`{"statements":[{"sql":"a"},{"sql":"b","max_bytes":0}]}`))
	if err == nil || !strings.HasPrefix(toAPIError(err).detail, "statements[1]: ") {
		t.Fatalf("the error does not name its statement: %v", err)
	}
}

// TestBatchResultOptions: each statement's result takes its options;
// meta stays on every one.
func TestBatchResultOptions(t *testing.T) {
	t.Parallel()
	s := New(Options{}, rowsBatchEngine{rowsEngine{n: 3}}, nil, zap.NewNop())
	rc := serveOnce(s.Handler(), "POST", "/api/db/d/batch",
		`{"statements":[{"sql":"a"},{"sql":"b","shape":"objects","max_rows":5}],"shape":"arrays","max_rows":1}`, "")
	if rc.Response.StatusCode() != 200 {
		t.Fatalf("%d %s", rc.Response.StatusCode(), rc.Response.Body())
	}
	var v struct {
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal(rc.Response.Body(), &v); err != nil || len(v.Results) != 2 {
		t.Fatalf("%s (%v)", rc.Response.Body(), err)
	}
	a, o := v.Results[0], v.Results[1]
	if rows, _ := a["rows"].([]any); len(rows) != 1 || a["truncated"] != true || a["columns"] == nil || a["meta"] == nil {
		t.Errorf("first result: %v", a)
	}
	if data, _ := o["data"].([]any); len(data) != 3 || o["truncated"] != false || o["meta"] == nil {
		t.Errorf("second result: %v", o)
	}
}
