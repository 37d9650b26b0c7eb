// Package apidoc builds DB-Forge's OpenAPI 3.1 document, served at GET
// /openapi.json, and the interactive documentation of GET /docs.
//
// One source of truth: the routes are the gateway's route table
// (gateway.Routes): each route's method, pattern, access and whether it
// is a data-plane route of {db_name}. What the table does not say — a
// route's summary, its query and header parameters, its body, its
// success answers and its own error codes — is declared per route in the
// YAML files of this package (operations.yaml; rows.yaml for the rows
// and schema routes), keyed "METHOD /pattern".
// Build joins them: a route without a declaration, or a declaration that
// is no route, is an error (and a test fails), so the document cannot
// leave a route out. The errors every route of a kind answers (the
// guard's 401/403/429, a bad {db_name}, the data plane's limits and
// deadline, a body's JSON errors, a write's idempotency errors) are added
// from the route's kind, each status with the enum of its codes.
//
// The document is checked against the gateway's real answers: the
// contract suite and the integration tests send every request through a
// validating client (package apidoc/apivalidate) that fails on a request
// or an answer the document does not describe.
package apidoc

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/praetorian/db-forge/gateway"
)

//go:embed *.yaml
var declarations embed.FS

// operation is one route's declaration.
type operation struct {
	Summary     string         `yaml:"summary"`
	Description string         `yaml:"description"`
	Tags        []string       `yaml:"tags"`
	Parameters  []any          `yaml:"parameters"`
	RequestBody map[string]any `yaml:"requestBody"`
	Responses   map[string]any `yaml:"responses"`
	// Errors are the route's own error codes by status; Build adds
	// those of its kind.
	Errors map[string][]string `yaml:"errors"`
}

type declarationFile struct {
	Operations map[string]operation `yaml:"operations"`
	Components map[string]any       `yaml:"components"`
}

// Info names the document's version.
type Info struct {
	Version string
}

// load reads every declaration file: the operations and components of
// each, merged; a route or component declared twice is an error.
func load() (map[string]operation, map[string]map[string]any, error) {
	ops := map[string]operation{}
	comps := map[string]map[string]any{}
	files, err := fs.Glob(declarations, "*.yaml")
	if err != nil {
		return nil, nil, err
	}
	for _, name := range files {
		b, err := declarations.ReadFile(name)
		if err != nil {
			return nil, nil, err
		}
		var f declarationFile
		if err := yaml.Unmarshal(b, &f); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		for k, op := range f.Operations {
			if _, dup := ops[k]; dup {
				return nil, nil, fmt.Errorf("%s: %s declared twice", name, k)
			}
			ops[k] = op
		}
		for kind, m := range f.Components {
			mm, ok := m.(map[string]any)
			if !ok {
				return nil, nil, fmt.Errorf("%s: components.%s is not a map", name, kind)
			}
			if comps[kind] == nil {
				comps[kind] = map[string]any{}
			}
			for k, v := range mm {
				if _, dup := comps[kind][k]; dup {
					return nil, nil, fmt.Errorf("%s: components.%s.%s declared twice", name, kind, k)
				}
				comps[kind][k] = v
			}
		}
	}
	return ops, comps, nil
}

// pathParam finds the {name} segments of a route pattern.
var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// Build makes the document for routes (gateway.Routes()), as JSON.
func Build(routes []gateway.Route, info Info) ([]byte, error) {
	ops, comps, err := load()
	if err != nil {
		return nil, err
	}
	paths := map[string]map[string]any{}
	used := map[string]bool{}
	var missing []string
	for _, r := range routes {
		key := r.Method + " " + r.Pattern
		op, ok := ops[key]
		if !ok {
			missing = append(missing, key)
			continue
		}
		used[key] = true
		o, err := operationObject(r, op, comps["parameters"])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		if paths[r.Pattern] == nil {
			paths[r.Pattern] = map[string]any{}
		}
		paths[r.Pattern][strings.ToLower(r.Method)] = o
	}
	var stale []string
	for k := range ops {
		if !used[k] {
			stale = append(stale, k)
		}
	}
	if len(missing) > 0 || len(stale) > 0 {
		sort.Strings(missing)
		sort.Strings(stale)
		return nil, fmt.Errorf("apidoc: routes without a declaration: %v; declarations of no route: %v", missing, stale)
	}
	if comps["schemas"] == nil {
		comps["schemas"] = map[string]any{}
	}
	comps["schemas"]["DatabaseName"] = map[string]any{
		"type": "string", "minLength": 1, "maxLength": 128,
		"pattern":     `^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`,
		"description": "A database name: letters, digits, and _ . - after the first; no `..`, no trailing `.`.",
	}
	comps["securitySchemes"] = map[string]any{
		"bearerAuth": map[string]any{"type": "http", "scheme": "bearer",
			"description": "An API key: the admin key (FORGE_ADMIN_KEY) or a database's key (dbf_…)."},
		"apiKey": map[string]any{"type": "apiKey", "in": "header", "name": "X-API-Key",
			"description": "The same API key, in the X-API-Key header."},
	}
	doc := map[string]any{
		"openapi":           "3.1.0",
		"jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
		"info": map[string]any{
			"title":   "Praetorian DB-Forge",
			"version": info.Version,
			"description": "Databases on demand for AI agents: spawn a SQLite database, run SQL on it over HTTP. " +
				"Every route but GET /, GET /health, GET /openapi.json, /docs and /console needs an API key (Authorization: Bearer, or X-API-Key). " +
				"Every error is {\"detail\": …, \"error\": {\"code\", \"message\", \"status\"}}. docs/API.md is the full reference.",
		},
		"paths":      paths,
		"components": comps,
		"security":   []any{map[string]any{"bearerAuth": []any{}}, map[string]any{"apiKey": []any{}}},
	}
	return json.MarshalIndent(doc, "", " ")
}

// operationObject is one route's operation: its declaration plus what the
// route table says of it. shared are the components' parameters, which a
// declaration may name by $ref (a path parameter among them).
func operationObject(r gateway.Route, op operation, shared map[string]any) (map[string]any, error) {
	o := map[string]any{
		"operationId": operationID(r),
		"summary":     op.Summary,
		"x-access":    r.Access,
	}
	if op.Description != "" {
		o["description"] = op.Description
	}
	if len(op.Tags) > 0 {
		o["tags"] = op.Tags
	}
	if r.Access == "public" {
		o["security"] = []any{}
	}
	// Path parameters: {db_name} is the database name; any other must
	// be declared.
	declared := map[string]bool{}
	params := slices.Clone(op.Parameters)
	for _, p := range op.Parameters {
		m, ok := p.(map[string]any)
		if !ok {
			continue
		}
		if ref, ok := m["$ref"].(string); ok {
			name, found := strings.CutPrefix(ref, "#/components/parameters/")
			if m, ok = shared[name].(map[string]any); !found || !ok {
				return nil, fmt.Errorf("parameter %s is not a component", ref)
			}
		}
		if m["in"] == "path" {
			declared[m["name"].(string)] = true
		}
	}
	for _, m := range pathParam.FindAllStringSubmatch(r.Pattern, -1) {
		name := m[1]
		if declared[name] {
			delete(declared, name)
			continue
		}
		if name != "db_name" {
			return nil, fmt.Errorf("path parameter {%s} is not declared", name)
		}
		params = append([]any{map[string]any{"name": "db_name", "in": "path", "required": true,
			"schema": map[string]any{"$ref": "#/components/schemas/DatabaseName"}}}, params...)
	}
	if len(declared) > 0 {
		return nil, fmt.Errorf("declared path parameters not in the pattern: %v", declared)
	}
	if r.PerDB {
		params = append(params, map[string]any{"name": "X-Query-Timeout", "in": "header",
			"description": "This request's deadline: milliseconds, or a duration like 1.5s (at most FORGE_MAX_QUERY_TIMEOUT).",
			"schema":      map[string]any{"type": "string"}})
	}
	if len(params) > 0 {
		o["parameters"] = params
	}
	if op.RequestBody != nil {
		o["requestBody"] = op.RequestBody
	}
	if len(op.Responses) == 0 {
		return nil, fmt.Errorf("no responses declared")
	}
	responses := map[string]any{}
	for k, v := range op.Responses {
		responses[k] = v
	}
	for status, codes := range errorCodes(r, op) {
		if _, ok := responses[status]; ok {
			continue // the route declares this status's answer itself
		}
		responses[status] = errorResponse(codes)
	}
	o["responses"] = responses
	return o, nil
}

// errorCodes are the route's error codes by status: its own, and those of
// its kind.
func errorCodes(r gateway.Route, op operation) map[string][]string {
	codes := map[string][]string{}
	add := func(status string, cs ...string) {
		for _, c := range cs {
			if !slices.Contains(codes[status], c) {
				codes[status] = append(codes[status], c)
			}
		}
	}
	for s, cs := range op.Errors {
		add(s, cs...)
	}
	add("500", "INTERNAL_ERROR")
	add("503", "SHUTTING_DOWN", "SERVER_BUSY", "REQUEST_CANCELED")
	if r.Access != "public" {
		add("401", "UNAUTHORIZED")
		add("403", "FORBIDDEN")
		add("429", "RATE_LIMITED")
	}
	if strings.Contains(r.Pattern, "{db_name}") {
		add("400", "INVALID_DATABASE_NAME")
	}
	if r.PerDB {
		add("404", "DATABASE_NOT_FOUND")
		add("429", "TOO_MANY_REQUESTS")
		add("400", "INVALID_QUERY_TIMEOUT")
		add("500", "ENGINE_FAULT", "DATABASE_CORRUPT")
		add("503", "DATABASE_BUSY")
		add("504", "QUERY_TIMEOUT")
	}
	if r.Access == "write" {
		add("403", "READ_ONLY_KEY")
		add("507", "DATABASE_FULL")
	}
	if op.RequestBody != nil {
		add("400", "INVALID_JSON", "UNKNOWN_FIELD")
		add("413", "BODY_TOO_LARGE")
		add("422", "VALIDATION_ERROR")
	}
	if hasParam(op, "#/components/parameters/IdempotencyKey") {
		add("400", "INVALID_IDEMPOTENCY_KEY")
		add("409", "IDEMPOTENCY_IN_PROGRESS")
		add("422", "IDEMPOTENCY_KEY_REUSED")
	}
	return codes
}

func hasParam(op operation, ref string) bool {
	for _, p := range op.Parameters {
		if m, ok := p.(map[string]any); ok && m["$ref"] == ref {
			return true
		}
	}
	return false
}

// errorResponse is an error status's answer: the error shape, its code
// one of codes.
func errorResponse(codes []string) map[string]any {
	sorted := slices.Clone(codes)
	sort.Strings(sorted)
	enum := make([]any, len(sorted))
	for i, c := range sorted {
		enum[i] = c
	}
	return map[string]any{
		"description": strings.Join(sorted, ", "),
		"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{
			"allOf": []any{
				map[string]any{"$ref": "#/components/schemas/Error"},
				map[string]any{"properties": map[string]any{"error": map[string]any{
					"properties": map[string]any{"code": map[string]any{"enum": enum}}}}},
			},
		}}},
	}
}

// operationID names an operation from its method and pattern:
// "GET /admin/databases/{db_name}/keys" is get_admin_databases_db_name_keys.
func operationID(r gateway.Route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(r.Method))
	for _, seg := range strings.Split(r.Pattern, "/") {
		seg = strings.Trim(seg, "{}")
		seg = strings.NewReplacer(".", "_", "-", "_").Replace(seg)
		if seg != "" {
			b.WriteString("_" + seg)
		}
	}
	if r.Pattern == "/" {
		b.WriteString("_root")
	}
	return b.String()
}
