package gateway

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

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
		got, _, _, _, err := spawnSourceOf(req(tc.ct, tc.enc, "", ""))
		if got != tc.want || codeOf(err) != tc.code {
			t.Errorf("spawn %s: %v %q, want %v %q", tc.name, got, codeOf(err), tc.want, tc.code)
		}
	}
	branches := []struct {
		name, ct, body   string
		want             spawnSource
		parent, cp, code string
		ttl              time.Duration
	}{
		{"json without from", "application/json", `{"x": 1}`, spawnEmpty, "", "", "", 0},
		{"not json", "application/json", `{not json`, spawnEmpty, "", "", "", 0},
		{"array", "", `[1]`, spawnEmpty, "", "", "", 0},
		{"from", "application/json", `{"from": "a"}`, spawnBranch, "a", "", "", 0},
		{"from, no content type", "", `{"from": "a", "checkpoint": "c1"}`, spawnBranch, "a", "c1", "", 0},
		{"checkpoint null", "application/json", `{"from": "a", "checkpoint": null}`, spawnBranch, "a", "", "", 0},
		{"bad from", "application/json", `{"from": "../a"}`, spawnEmpty, "", "", CodeInvalidName, 0},
		{"from not a string", "application/json", `{"from": 1}`, spawnEmpty, "", "", CodeValidation, 0},
		{"empty checkpoint", "application/json", `{"from": "a", "checkpoint": ""}`, spawnEmpty, "", "", forge.CodeInvalidCheckpoint, 0},
		{"unknown field", "application/json", `{"from": "a", "size": 5}`, spawnEmpty, "", "", CodeUnknownField, 0},
		{"unknown field beside ttl", "application/json", `{"ttl": 5, "size": 5}`, spawnEmpty, "", "", CodeUnknownField, 0},
		{"checkpoint without from is ignored", "application/json", `{"checkpoint": "c1"}`, spawnEmpty, "", "", "", 0},
		{"ttl", "application/json", `{"ttl": 60}`, spawnEmpty, "", "", "", time.Minute},
		{"ttl null", "", `{"ttl": null}`, spawnEmpty, "", "", "", 0},
		{"branch with ttl", "application/json", `{"from": "a", "ttl": 2}`, spawnBranch, "a", "", "", 2 * time.Second},
		{"ttl zero", "application/json", `{"ttl": 0}`, spawnEmpty, "", "", CodeInvalidTTL, 0},
		{"ttl negative", "application/json", `{"ttl": -1}`, spawnEmpty, "", "", CodeInvalidTTL, 0},
		{"ttl fraction", "application/json", `{"ttl": 1.5}`, spawnEmpty, "", "", CodeInvalidTTL, 0},
		{"ttl past ten years", "application/json", `{"ttl": 315360001}`, spawnEmpty, "", "", CodeInvalidTTL, 0},
		{"ttl a string", "application/json", `{"ttl": "60"}`, spawnEmpty, "", "", CodeValidation, 0},
		{"ttl with checkpoint, no from", "application/json", `{"ttl": 5, "checkpoint": "c"}`, spawnEmpty, "", "", CodeValidation, 0},
	}
	for _, tc := range branches {
		got, parent, cp, ttl, err := spawnSourceOf(req(tc.ct, "", "", tc.body))
		if got != tc.want || parent != tc.parent || cp != tc.cp || codeOf(err) != tc.code || ttl != tc.ttl {
			t.Errorf("branch %s: %v %q %q %q %v, want %v %q %q %q %v", tc.name, got, parent, cp, codeOf(err), ttl, tc.want, tc.parent, tc.cp, tc.code, tc.ttl)
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
