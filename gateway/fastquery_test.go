package gateway

import (
	"fmt"
	"reflect"
	"testing"
	"unsafe"

	"github.com/praetorian/db-forge/forge"
)

// The bodies fastQuery must take (else it is dead code, and the point
// SELECT pays for the tree again), and those it must leave to the strict
// reader. Either way decodeQuery's answer is the strict reader's.
func TestFastQueryTakesTheCommonBodies(t *testing.T) {
	take := []string{
		`{"sql":"SELECT 1"}`,
		`{"sql":"SELECT id, name, score FROM kv WHERE id = ?","params":[4711]}`,
		`{"sql":"INSERT INTO kv (name, score) VALUES (?, ?)","params":["x",1.5]}`,
		` { "params" : [ 9007199254740993 , -0, 1e3, "é", true, false, null ] , "sql" : "SELECT ?" } `,
		`{"sql":"SELECT 1","params":null}`,
		`{"sql":"SELECT 1","params":[]}`,
		`{"sql":"SELECT 'ünïcödé ✓', ?","params":["✓"]}`,
	}
	for _, body := range take {
		fast, ok := fastQuery([]byte(body))
		if !ok {
			t.Errorf("fastQuery left %s to the strict reader", body)
			continue
		}
		strict, err := decodeQueryStrict([]byte(body))
		if err != nil || !reflect.DeepEqual(fast, strict) {
			t.Errorf("%s: fast %+v, strict %+v (%v)", body, fast, strict, err)
		}
	}
	leave := []string{
		`{"sql":"SELECT \"x\""}`,                         // escape
		`{"sql":"SELECT :x","params":{"x":1}}`,           // named
		`{"sql":"SELECT ?","params":[{"$blob":"AA=="}]}`, // blob
		`{"sql":"x","params":[9223372036854775808]}`,     // out of range: strict says why
		`{"sql":"x","params":[1e400]}`,
		`{"sql":"x","params":[01]}`,
		`{"sql":"x","params":[1.]}`,
		`{"sql":"x","params":[[1]]}`,
		`{"sql":"a","sql":"b"}`,
		`{"sql":"a","SQL":"b"}`,
		`{"sql":"a","params":[],"params":[]}`,
		`{"sql":"a","other":1}`,
		`{"sql":" "}`, `{"sql":1}`, `{}`, `[]`, ``, `{`, `{"sql":"a"} x`, `{"sql":"a",}`,
		"{\"sql\":\"\xff\"}", "{\"sql\":\"a\x00\"}", "{\"sql\":\"SELECT\n1\"}", `{"sql":"a","params":[tru]}`,
	}
	for _, body := range leave {
		if q, ok := fastQuery([]byte(body)); ok {
			t.Errorf("fastQuery took %q as %+v", body, q)
		}
	}
}

// FuzzFastQueryAgrees: whatever fastQuery takes, the strict reader takes
// too, with the same statement.
func FuzzFastQueryAgrees(f *testing.F) {
	for _, s := range []string{
		`{"sql":"SELECT 1"}`,
		`{"sql":"SELECT ?","params":[9007199254740993,1.5,1e3,-0.0e-1,"s",true,false,null]}`,
		`{"params":[1],"sql":"x"}`, `{"sql":"x","params":null}`, `{"sql":"x","params":[]}`,
		`{"sql":"x","params":[-9223372036854775808]}`, `{"sql":"x","params":[1e-400]}`,
		`{"sql":"a","SQL":"b"}`, `{"sql":" "}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := fastQuery(body)
		if !ok {
			return
		}
		strict, err := decodeQueryStrict(body)
		if err != nil {
			t.Fatalf("fastQuery took %q, the strict reader refuses it: %v", body, err)
		}
		if !reflect.DeepEqual(fast, strict) {
			t.Fatalf("%q: fast %+v, strict %+v", body, fast, strict)
		}
	})
}

// FuzzFastBatchAgrees: whatever fastBatch takes, the strict reader takes
// too, with the same batch.
func FuzzFastBatchAgrees(f *testing.F) {
	for _, s := range []string{
		`{"statements":[{"sql":"INSERT INTO t VALUES (?, ?)","params":[1,"a"]},{"sql":"INSERT INTO t VALUES (?, ?)","params":[2,"b"]}]}`,
		`{"dry_run":true,"transaction":false,"statements":[{"params":[],"sql":"x"},{"sql":"y","params":null}]}`,
		`{"statements":[{"sql":"x","params":[9007199254740993,1.5,1e3,-0.0e-1,"s",true,false,null]}]}`,
		`{"statements":[]}`, `{"statements":[{"sql":" "}]}`, `{"statements":[{"sql":"a","SQL":"b"}]}`,
		`{"statements":[{"sql":"x"}],"transaction":true,"transaction":false}`, `{"statements":[{"sql":"x","params":[1e-400]}]}`,
		`{"statements":[{"sql":"x","max_rows":1}]}`, `{"shape":"arrays","statements":[{"sql":"x"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := fastBatch(body, nil)
		if !ok {
			return
		}
		strict, opts, err := decodeBatchOptions(body)
		if err != nil {
			t.Fatalf("fastBatch took %q, the strict reader refuses it: %v", body, err)
		}
		if opts != nil {
			t.Fatalf("fastBatch took %q, which has result options %+v", body, opts)
		}
		if !reflect.DeepEqual(fast, strict) {
			t.Fatalf("%q: fast %+v, strict %+v", body, fast, strict)
		}
	})
}

// BenchmarkDecodeQuery: the point SELECT's body through the fast path and
// through the strict reader, in one run.
func BenchmarkDecodeQuery(b *testing.B) {
	body := []byte(`{"sql":"SELECT id, name, score FROM kv WHERE id = ?","params":[4711]}`)
	for _, c := range []struct {
		name   string
		decode func([]byte) (forge.Statement, error)
	}{{"fast", decodeQuery}, {"strict", decodeQueryStrict}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.decode(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestFastBatchTakesTheCommonBody: the body of BenchmarkBatchInsert100
// goes the fast way, its repeated SQL text shared.
func TestFastBatchTakesTheCommonBody(t *testing.T) {
	t.Parallel()
	body := []byte(`{"statements":[{"sql":"INSERT INTO kv (name, score) VALUES (?, ?)","params":["name-0",0.5]},` +
		` {"sql":"INSERT INTO kv (name, score) VALUES (?, ?)","params":["name-1",1.5]}]}`)
	b, ok := fastBatch(body, nil)
	if !ok || len(b.Statements) != 2 || b.Statements[1].Params.Positional[0].Str != "name-1" {
		t.Fatalf("%v %+v", ok, b)
	}
	if unsafe.StringData(b.Statements[0].SQL) != unsafe.StringData(b.Statements[1].SQL) {
		t.Error("the repeated SQL text is not shared")
	}
}

// BenchmarkDecodeBatch: BenchmarkBatchInsert100's body through the fast
// path and through the strict reader.
func BenchmarkDecodeBatch(b *testing.B) {
	var body []byte
	body = append(body, `{"statements":[`...)
	for i := range 100 {
		if i > 0 {
			body = append(body, ',')
		}
		body = fmt.Appendf(body, `{"sql":"INSERT INTO kv (name, score) VALUES (?, ?)","params":["name-%d",%d.5]}`, i, i)
	}
	body = append(body, `]}`...)
	for _, c := range []struct {
		name   string
		decode func([]byte) (forge.Batch, error)
	}{{"fast", decodeBatch}, {"strict", decodeBatchStrict}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := c.decode(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
