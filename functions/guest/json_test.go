package guest

import (
	"bytes"
	"encoding/json"
	"reflect"
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
	var r Result
	if err := parseResult([]byte(`{"columns":["b","a"],"rows":[[1,"x"]],"rows_affected":1,"last_insert_id":3}`), &r); err != nil {
		t.Fatal(err)
	}
	out, err := AppendJSON(nil, r.Row(0))
	if err != nil || string(out) != `{"b":1,"a":"x"}` || r.LastInsertID != 3 {
		t.Fatalf("row: %s %v %+v", out, err, r)
	}
}
