package gateway

import (
	"context"
	"testing"

	"github.com/praetorian/db-forge/forge"
)

// fakeFunctions serves the functions routes for the route table's tests.
type fakeFunctions struct{}

func (fakeFunctions) Deploy(context.Context, string, string, []byte, *forge.SQLFunction) (forge.FunctionInfo, bool, error) {
	return forge.FunctionInfo{}, true, nil
}
func (fakeFunctions) List(context.Context, string) ([]forge.FunctionInfo, error) { return nil, nil }
func (fakeFunctions) Get(context.Context, string, string) (forge.FunctionInfo, error) {
	return forge.FunctionInfo{}, nil
}
func (fakeFunctions) Delete(context.Context, string, string) error { return nil }
func (fakeFunctions) Invoke(context.Context, string, string, []byte, bool) (forge.FunctionAnswer, error) {
	return forge.FunctionAnswer{Status: 200, ContentType: "application/json", Body: []byte("{}")}, nil
}

func TestFunctionErrorsKeepTheirStatus(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		status int
		code   string
	}{{404, forge.CodeFunctionNotFound}, {504, forge.CodeFunctionTimeout}, {500, forge.CodeFunctionTrapped}} {
		ae := toAPIError(&forge.FunctionError{Status: c.status, Code: c.code, Message: "m"})
		if ae.status != c.status || ae.code != c.code || ae.detail != "m" {
			t.Errorf("%s: %+v", c.code, ae)
		}
	}
}

// FuzzDecodeSQLFunction: a deploy's ?sql_function never crashes the
// decoder, and what it accepts has a name.
func FuzzDecodeSQLFunction(f *testing.F) {
	for _, s := range []string{`{"name":"slugify","args":1,"deterministic":true}`, `{}`, `{"name":1}`, `{"name":"a","x":1}`,
		`{"name":"a","args":1.5}`, `[]`, ``, `{"name":"a","name":"b"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fn, err := decodeSQLFunction(b)
		if err == nil && (fn == nil || fn.Name == "") {
			t.Fatalf("accepted %q as %+v", b, fn)
		}
	})
}
