package gateway

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"
)

const zeroMeta = `{"duration_ms":0,"changes":0,"last_insert_id":0,"rows_written":0,"vm_steps":0,"full_scan_steps":0}`

// TestShapedMeta: where each format carries meta, on the query route, and
// that the rows route (no meta) stays without it.
func TestShapedMeta(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, uri, body   string
		eng               rowsEngine
		wantBody, wantHdr string
	}{
		{"arrays", "/api/db/d/query", `{"sql":"x","shape":"arrays"}`, rowsEngine{n: 1},
			`{"columns":["id","name"],"rows":[[0,"row-a"]],"rows_affected":1,"meta":` + zeroMeta + `}`, ""},
		{"ndjson capped", "/api/db/d/query", `{"sql":"x","format":"ndjson","max_rows":1}`, rowsEngine{n: 2},
			`{"id":0,"name":"row-a"}` + "\n" + `{"$end":{"rows_affected":1,"truncated":true,"meta":` + zeroMeta + `}}` + "\n", ""},
		{"csv header", "/api/db/d/query", `{"sql":"x","format":"csv"}`, rowsEngine{n: 1},
			"id,name\r\n0,row-a\r\n", zeroMeta},
		{"markdown header", "/api/db/d/query", `{"sql":"x","format":"markdown","max_rows":5}`, rowsEngine{n: 1},
			"| id | name |\n| --- | --- |\n| 0 | row-a |\n", zeroMeta},
		{"rows route has none", "/api/db/d/tables/t/rows?_format=csv", "", rowsEngine{n: 1},
			"id,name\r\n0,row-a\r\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := New(Options{}, tc.eng, nil, zap.NewNop())
			method := "POST"
			if tc.body == "" {
				method = "GET"
			}
			rc := serveOnce(s.Handler(), method, tc.uri, tc.body, "")
			if got := string(rc.Response.Body()); got != tc.wantBody {
				t.Errorf("body %q, want %q", got, tc.wantBody)
			}
			if got := string(rc.Response.Header.Peek(headerMeta)); got != tc.wantHdr {
				t.Errorf("%s %q, want %q", headerMeta, got, tc.wantHdr)
			}
		})
	}
}

// TestMetaWithinMaxBytes: a max_bytes answer gives up rows to make room
// for meta, and says it is truncated; the body stays within the cap.
func TestMetaWithinMaxBytes(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"json", "ndjson"} {
		for _, shape := range []string{"objects", "arrays"} {
			for capBytes := 150; capBytes <= 400; capBytes += 7 {
				s := New(Options{}, rowsEngine{n: 50}, nil, zap.NewNop())
				body := `{"sql":"x","format":"` + f + `","shape":"` + shape + `","max_bytes":` + strconv.Itoa(capBytes) + `}`
				rc := serveOnce(s.Handler(), "POST", "/api/db/d/query", body, "")
				b := rc.Response.Body()
				name := f + "/" + shape + "/" + strconv.Itoa(capBytes)
				if rc.Response.StatusCode() != 200 || string(rc.Response.Header.Peek(headerTruncated)) != "true" {
					t.Fatalf("%s: %d %s", name, rc.Response.StatusCode(), b)
				}
				last := string(b)
				if f == "ndjson" {
					lines := strings.Split(strings.TrimSuffix(last, "\n"), "\n")
					last = lines[len(lines)-1]
					var end struct {
						End map[string]any `json:"$end"`
					}
					if err := json.Unmarshal([]byte(last), &end); err != nil || end.End["meta"] == nil || end.End["truncated"] != true ||
						end.End["rows_affected"] != float64(len(lines)-1-map[string]int{"objects": 0, "arrays": 1}[shape]) {
						t.Fatalf("%s: last line %s (%v)", name, last, err)
					}
				} else {
					var v map[string]any
					if err := json.Unmarshal(b, &v); err != nil || v["meta"] == nil || v["truncated"] != true {
						t.Fatalf("%s: %s (%v)", name, b, err)
					}
					rows, _ := v["data"].([]any)
					if shape == "arrays" {
						rows, _ = v["rows"].([]any)
					}
					if v["rows_affected"] != float64(len(rows)) {
						t.Fatalf("%s: rows_affected %v for %d rows", name, v["rows_affected"], len(rows))
					}
				}
				if len(b) > capBytes && !strings.Contains(string(b), `"rows_affected":0`) {
					t.Fatalf("%s: %d bytes past the cap: %s", name, len(b), b)
				}
			}
		}
	}
}
