package snapshot

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/praetorian/db-forge/forge"
)

func TestInferTypes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body string
		types      []string
		rows       int64
		code       string
	}{
		{"all kinds", "a,b,c,d\n1,1.5,x,\n-2,3,y,\n", []string{"INTEGER", "REAL", "TEXT", "TEXT"}, 2, ""},
		{"int then real", "a\n1\n2.5\n", []string{"REAL"}, 2, ""},
		{"exponent", "a\n1e3\n", []string{"REAL"}, 1, ""},
		{"int overflow", "a\n9223372036854775808\n", []string{"REAL"}, 1, ""},
		{"hex, inf, nan are text", "a,b,c\n0x10,inf,nan\n", []string{"TEXT", "TEXT", "TEXT"}, 1, ""},
		{"plus sign", "a\n+5\n", []string{"INTEGER"}, 1, ""},
		{"double sign", "a\n--5\n", []string{"TEXT"}, 1, ""},
		{"header only", "a,b\n", []string{"TEXT", "TEXT"}, 0, ""},
		{"bom and crlf", "\xef\xbb\xbfa,b\r\n1,2\r\n", []string{"INTEGER", "INTEGER"}, 1, ""},
		{"quoted newline", "a,b\n\"x\ny\",1\n", []string{"TEXT", "INTEGER"}, 1, ""},
		{"empty", "", nil, 0, forge.CodeInvalidCSV},
		{"ragged", "a,b\n1\n", nil, 0, forge.CodeInvalidCSV},
		{"empty header field", "a,,b\n1,2,3\n", nil, 0, forge.CodeInvalidCSV},
		{"duplicate", "a,A\n", nil, 0, forge.CodeInvalidCSV},
		{"reserved", "_forge_x\n", nil, 0, forge.CodeInvalidCSV},
		{"bare quote", "a\nx\"y\n", nil, 0, forge.CodeInvalidCSV},
		{"nul", "a\nx\x00y\n", nil, 0, forge.CodeInvalidCSV},
		{"bad utf-8", "a\n\xff\n", nil, 0, forge.CodeInvalidCSV},
		{"too many columns", strings.Repeat("c,", maxCSVColumns) + "z\n", nil, 0, forge.CodeInvalidCSV},
		{"long record", "a\n" + strings.Repeat("x", maxRecordBytes+1) + "\n", nil, 0, forge.CodeInvalidCSV},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cols, n, err := InferTypes([]byte(tc.body))
			var ie *forge.InputError
			code := ""
			if errors.As(err, &ie) {
				code = ie.Code
			} else if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, c := range cols {
				types = append(types, c.Type)
			}
			if code != tc.code || !slices.Equal(types, tc.types) || n != tc.rows {
				t.Fatalf("got %v %d %q, want %v %d %q (%v)", types, n, code, tc.types, tc.rows, tc.code, err)
			}
		})
	}
}

// FuzzCSV: the reader never panics, refuses only with INVALID_CSV, gives
// every record the header's width, and the inferred types hold for every
// value.
func FuzzCSV(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "a\n\"x\"\"y\"\n", "\xef\xbb\xbfa,b\r\n1.5,\n", "a,b\n1\n", "a\n\"open\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		cols, n, err := InferTypes(body)
		if err != nil {
			var ie *forge.InputError
			if !errors.As(err, &ie) || ie.Code != forge.CodeInvalidCSV {
				t.Fatalf("error %v", err)
			}
			return
		}
		c, err := NewCSV(body)
		if err != nil {
			t.Fatalf("InferTypes read it, NewCSV did not: %v", err)
		}
		var seen int64
		for {
			rec, ok, err := c.Next()
			if err != nil {
				t.Fatalf("second read failed: %v", err)
			}
			if !ok {
				break
			}
			seen++
			if len(rec) != len(cols) {
				t.Fatalf("record of %d fields, header of %d", len(rec), len(cols))
			}
			for i, v := range rec {
				if v == "" {
					continue
				}
				switch cols[i].Type {
				case typeInteger:
					if _, err := strconv.ParseInt(v, 10, 64); err != nil {
						t.Fatalf("INTEGER column, value %q", v)
					}
				case typeReal:
					if _, err := strconv.ParseFloat(v, 64); err != nil {
						t.Fatalf("REAL column, value %q", v)
					}
				}
			}
		}
		if seen != n {
			t.Fatalf("%d records, then %d", n, seen)
		}
	})
}
