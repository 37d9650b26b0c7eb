package guest

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func decodeStd(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errSyntax
	}
	return v, nil
}

// FuzzJSON: the guest's reader accepts only JSON, reads what
// encoding/json reads, and its writer writes it back to the same value.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e3,"x\u00e9\n",null,true,false,{}]}`, `"\ud83d\ude00"`, `-0.5`, `[]`, `{"a":1,"a":2}`,
		`01`, `1.`, `"\x01"`, `{"a"}`, `[1,]`, "\"\xff\"", `"<&>"`, `1e400`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseJSON(b)
		std, stdErr := decodeStd(b)
		if err != nil {
			return // stricter (depth) is allowed
		}
		if stdErr != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", b, stdErr)
		}
		out, err := AppendJSON(nil, v)
		if err != nil {
			t.Fatalf("write %q: %v", b, err)
		}
		back, err := decodeStd(out)
		if err != nil || !reflect.DeepEqual(back, std) {
			t.Fatalf("%q → %q → %#v, encoding/json reads %#v (%v)", b, out, back, std, err)
		}
	})
}

func TestFieldAndRow(t *testing.T) {
	v, ok, err := field([]byte(` {"x": [1, {"y": 2}], "id": 7} `), "id")
	if err != nil || !ok || v != json.Number("7") {
		t.Fatalf("field: %v %v %v", v, ok, err)
	}
	var blk resultBlock
	if err := parseResult([]byte(`{"columns":["b","a"],"rows":[[1,"x"]],"rows_affected":1,"last_insert_id":3}`), &blk); err != nil {
		t.Fatal(err)
	}
	r := blk.r
	out, err := AppendJSON(nil, r.Row(0))
	if err != nil || string(out) != `{"b":1,"a":"x"}` || r.LastInsertID != 3 {
		t.Fatalf("row: %s %v %+v", out, err, r)
	}
}

// TestParseResult: the result reader (views, slabs, the small-result
// block and past it) reads what encoding/json reads.
func TestParseResult(t *testing.T) {
	for _, doc := range []string{
		`{"columns":[],"rows":[],"rows_affected":0,"last_insert_id":0}`,
		`{"columns":["id","name","score"],"rows":[[42,"name-42",21.0]],"rows_affected":0,"last_insert_id":0}`,
		`{"columns":["a"],"rows":[[null],[true],[-1.5e3],["x\"y\u00e9"],[{"base64":"AAE="}],[[1,2]]],"rows_affected":7,"last_insert_id":-9}`,
		`{"columns":["a","b","c","d","e","f"],"rows":[[1,2,3,4,5,"6"],["a","b","c","d","e","f"],[1,2,3,4,5,6]],"rows_affected":0,"last_insert_id":0}`,
		` { "rows" : [ [ 1 , "x" ] ] , "columns" : [ "p" , "q\n" ] , "other": {"z": [1]} } `,
		`{"columns":["` + strings.Repeat("x", 300) + `"],"rows":[["` + strings.Repeat("y", 300) + `"]],"rows_affected":1,"last_insert_id":2}`,
	} {
		var blk resultBlock
		b := []byte(doc)
		if err := parseResult(b, &blk); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		var std struct {
			Columns      []string
			Rows         [][]any
			RowsAffected int64 `json:"rows_affected"`
			LastInsertID int64 `json:"last_insert_id"`
		}
		dec := json.NewDecoder(strings.NewReader(doc))
		dec.UseNumber()
		if err := dec.Decode(&std); err != nil {
			t.Fatal(err)
		}
		got := blk.r
		if std.Rows == nil {
			std.Rows = [][]any{}
		}
		if got.Rows == nil {
			got.Rows = [][]any{}
		}
		if len(got.Columns) == 0 && len(std.Columns) == 0 {
			got.Columns, std.Columns = nil, nil
		}
		if !reflect.DeepEqual(got.Columns, std.Columns) || !reflect.DeepEqual(got.Rows, std.Rows) ||
			got.RowsAffected != std.RowsAffected || got.LastInsertID != std.LastInsertID {
			t.Fatalf("%s:\n got %#v\nwant %#v", doc, got, std)
		}
	}
	for _, bad := range []string{``, `{`, `{"columns":["a"],"rows":[[1,]]}`, `{"rows":[[01]]}`, `{"rows":[1]}`, `{"columns":[1]}`, `{"a":1} x`, `{"rows":[["\x"]]}`} {
		var blk resultBlock
		if err := parseResult([]byte(bad), &blk); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}
