package gateway

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/forge"
)

// fakeMoves knows no checkpoint and exports nothing.
type fakeMoves struct{}

func (fakeMoves) ExportFile(context.Context, string) (io.ReadCloser, int64, error) {
	return io.NopCloser(bytes.NewReader(nil)), 0, nil
}
func (fakeMoves) ExportSQL(context.Context, string, io.Writer) error { return nil }
func (fakeMoves) ImportSQL(context.Context, string, []byte) (forge.Imported, error) {
	return forge.Imported{}, nil
}
func (fakeMoves) ImportCSV(context.Context, string, string, []byte) (forge.Imported, error) {
	return forge.Imported{}, nil
}
func (fakeMoves) FillFromFile(context.Context, string, []byte) error { return nil }
func (fakeMoves) FillFromDatabase(context.Context, string, string, string) error {
	return nil
}
func (fakeMoves) Checkpoints(context.Context, string) ([]forge.Checkpoint, error) {
	return nil, nil
}
func (fakeMoves) CreateCheckpoint(context.Context, string, string) (forge.Checkpoint, error) {
	return forge.Checkpoint{}, nil
}
func (fakeMoves) RestoreCheckpoint(context.Context, string, string) (forge.Checkpoint, error) {
	return forge.Checkpoint{}, forge.ErrCheckpointNotFound
}
func (fakeMoves) DeleteCheckpoint(context.Context, string, string) error {
	return forge.ErrCheckpointNotFound
}

var _ Moves = fakeMoves{}

// TestMovesBinders: what each binder makes of media types, query strings
// and bodies.
func TestMovesBinders(t *testing.T) {
	t.Parallel()
	req := func(ct, enc, query, body string) *fasthttp.RequestCtx {
		var rc fasthttp.RequestCtx
		rc.SetUserValue("db_name", "d")
		if ct != "" {
			rc.Request.Header.SetContentType(ct)
		}
		if enc != "" {
			rc.Request.Header.Set("Content-Encoding", enc)
		}
		rc.Request.SetRequestURI("/x" + query)
		rc.Request.SetBodyString(body)
		return &rc
	}
	codeOf := func(err error) string {
		if err == nil {
			return ""
		}
		return toAPIError(err).code
	}
	spawns := []struct {
		name, ct, enc string
		want          spawnSource
		code          string
	}{
		{"no body", "", "", spawnEmpty, ""},
		{"json", "application/json", "", spawnEmpty, ""},
		{"sqlite", "application/vnd.sqlite3", "", spawnFile, ""},
		{"sqlite upper, params", "Application/VND.SQLite3; x=y", "", spawnFile, ""},
		{"x-sqlite3", "application/x-sqlite3", "", spawnFile, ""},
		{"sql", "application/sql", "", spawnScript, ""},
		{"gzip", "application/sql", "gzip", spawnEmpty, CodeUnsupportedMediaType},
		{"identity", "application/sql", "identity", spawnScript, ""},
	}
	for _, tc := range spawns {
		got, _, _, err := spawnSourceOf(req(tc.ct, tc.enc, "", ""))
		if got != tc.want || codeOf(err) != tc.code {
			t.Errorf("spawn %s: %v %q, want %v %q", tc.name, got, codeOf(err), tc.want, tc.code)
		}
	}
	branches := []struct {
		name, ct, body   string
		want             spawnSource
		parent, cp, code string
	}{
		{"json without from", "application/json", `{"x": 1}`, spawnEmpty, "", "", ""},
		{"not json", "application/json", `{not json`, spawnEmpty, "", "", ""},
		{"array", "", `[1]`, spawnEmpty, "", "", ""},
		{"from", "application/json", `{"from": "a"}`, spawnBranch, "a", "", ""},
		{"from, no content type", "", `{"from": "a", "checkpoint": "c1"}`, spawnBranch, "a", "c1", ""},
		{"checkpoint null", "application/json", `{"from": "a", "checkpoint": null}`, spawnBranch, "a", "", ""},
		{"bad from", "application/json", `{"from": "../a"}`, spawnEmpty, "", "", CodeInvalidName},
		{"from not a string", "application/json", `{"from": 1}`, spawnEmpty, "", "", CodeValidation},
		{"empty checkpoint", "application/json", `{"from": "a", "checkpoint": ""}`, spawnEmpty, "", "", forge.CodeInvalidCheckpoint},
		{"unknown field", "application/json", `{"from": "a", "ttl": 5}`, spawnEmpty, "", "", CodeUnknownField},
	}
	for _, tc := range branches {
		got, parent, cp, err := spawnSourceOf(req(tc.ct, "", "", tc.body))
		if got != tc.want || parent != tc.parent || cp != tc.cp || codeOf(err) != tc.code {
			t.Errorf("branch %s: %v %q %q %q, want %v %q %q %q", tc.name, got, parent, cp, codeOf(err), tc.want, tc.parent, tc.cp, tc.code)
		}
	}
	imports := []struct {
		name, ct, query string
		csv             bool
		table, code     string
	}{
		{"csv", "text/csv", "?table=t", true, "t", ""},
		{"csv no table", "text/csv", "", true, "", CodeValidation},
		{"sql", "application/sql", "", false, "", ""},
		{"sql with table", "application/sql", "?table=t", false, "t", CodeInvalidValue},
		{"unknown param", "text/csv", "?table=t&x=1", false, "t", CodeInvalidValue},
		{"json", "application/json", "", false, "", CodeUnsupportedMediaType},
		{"none", "", "", false, "", CodeUnsupportedMediaType},
	}
	for _, tc := range imports {
		got, err := bindImport(req(tc.ct, "", tc.query, ""))
		if got.csv != tc.csv || got.table != tc.table || codeOf(err) != tc.code {
			t.Errorf("import %s: %+v %q, want csv=%v table=%q %q", tc.name, got, codeOf(err), tc.csv, tc.table, tc.code)
		}
	}
	exports := []struct{ query, format, code string }{
		{"", "sqlite", ""}, {"?format=sql", "sql", ""}, {"?format=sqlite", "sqlite", ""},
		{"?format=csv", "sqlite", CodeInvalidValue}, {"?fmt=sql", "sqlite", CodeInvalidValue},
	}
	for _, tc := range exports {
		got, err := bindExport(req("", "", tc.query, ""))
		if got.format != tc.format || codeOf(err) != tc.code {
			t.Errorf("export %s: %q %q, want %q %q", tc.query, got.format, codeOf(err), tc.format, tc.code)
		}
	}
	bodies := []struct{ body, name, code string }{
		{"", "", ""}, {"  ", "", ""}, {`{}`, "", ""}, {`{"name": null}`, "", ""}, {`{"name": "a"}`, "a", ""},
		{`{"name": ""}`, "", forge.CodeInvalidCheckpoint}, {`{"name": 1}`, "", CodeValidation},
		{`{"nom": "a"}`, "", CodeUnknownField}, {`[]`, "", CodeValidation}, {`{"name": "a", "name": "b"}`, "", CodeInvalidJSON},
	}
	for _, tc := range bodies {
		got, err := bindCreateCheckpoint(req("application/json", "", "", tc.body))
		if got.name != tc.name || codeOf(err) != tc.code {
			t.Errorf("checkpoint body %s: %q %q, want %q %q", tc.body, got.name, codeOf(err), tc.name, tc.code)
		}
	}
}
