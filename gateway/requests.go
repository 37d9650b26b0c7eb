package gateway

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/praetorian/db-forge/auth"
	"github.com/praetorian/db-forge/forge"
)

// Request bodies are decoded from the strict JSON tree into forge types.
// Malformed JSON, duplicate keys, unknown fields and out-of-range numbers are
// 400; well-formed bodies of the wrong shape (a missing "sql", a string where
// an array belongs) are 422, as the prototype's FastAPI validation answered.

func invalidJSON(err error) *apiError {
	return newError(fasthttp.StatusBadRequest, CodeInvalidJSON, err.Error())
}

func unknownField(where, key string) *apiError {
	return newError(fasthttp.StatusBadRequest, CodeUnknownField, fmt.Sprintf("Unknown field %q in %s.", key, where))
}

func invalidShape(format string, args ...any) *apiError {
	return newError(fasthttp.StatusUnprocessableEntity, CodeValidation, fmt.Sprintf(format, args...))
}

func invalidValue(format string, args ...any) *apiError {
	return newError(fasthttp.StatusBadRequest, CodeInvalidValue, fmt.Sprintf(format, args...))
}

func parseBody(body []byte) (jvalue, error) {
	if len(body) == 0 {
		return jvalue{}, invalidShape("Request body is empty; a JSON object is required.")
	}
	v, err := parseJSON(body)
	if err != nil {
		return jvalue{}, invalidJSON(err)
	}
	if v.kind != jObject {
		return jvalue{}, invalidShape("Request body must be a JSON object, not %s.", v.kind)
	}
	return v, nil
}

// decodeQuery decodes {"sql": "...", "params": [...] | {...}}.
func decodeQuery(body []byte) (forge.Statement, error) {
	q, _, err := decodeQueryBody(body)
	return q, err
}

// queryOptions are a query body's fields besides the statement:
// "dry_run" and "max_changes" (dryrun.go), and the result options
// (max_rows, max_bytes, shape, format: results.go). fastQuery takes only
// bodies without any of them.
type queryOptions struct {
	dryRun     bool
	maxChanges int
	result     resultOptions
}

// decodeQueryBody decodes a query body with its options.
func decodeQueryBody(body []byte) (forge.Statement, queryOptions, error) {
	if q, ok := fastQuery(body); ok {
		return q, queryOptions{maxChanges: defaultMaxChanges}, nil
	}
	return strictQuery(body)
}

// decodeQueryStrict decodes a query body through the strict reader's tree:
// every body fastQuery does not take, and every error.
func decodeQueryStrict(body []byte) (forge.Statement, error) {
	q, _, err := strictQuery(body)
	return q, err
}

func strictQuery(body []byte) (forge.Statement, queryOptions, error) {
	q, opt := forge.Statement{}, queryOptions{maxChanges: defaultMaxChanges}
	v, err := parseBody(body)
	if err != nil {
		return q, opt, err
	}
	q, err = decodeQueryFields(v, &opt)
	return q, opt, err
}

func decodeQueryFields(v jvalue, opt *queryOptions) (forge.Statement, error) {
	var q forge.Statement
	var err error
	haveSQL := false
	for _, m := range v.obj {
		switch m.key {
		case "sql":
			if m.val.kind != jString {
				return q, invalidShape("Field \"sql\" must be a string, not %s.", m.val.kind)
			}
			q.SQL, haveSQL = m.val.s, true
		case "params":
			if q.Params, err = decodeParams(m.val); err != nil {
				return q, err
			}
		case "dry_run", "max_changes":
			if err := decodeDryRunField(m, &opt.dryRun, &opt.maxChanges); err != nil {
				return q, err
			}
		default:
			if ok, err := opt.result.set(m.key, m.key, m.val, false); ok {
				if err != nil {
					return q, err
				}
				continue
			}
			return q, unknownField("the query body", m.key)
		}
	}
	if !haveSQL {
		return q, invalidShape("Field \"sql\" is required.")
	}
	if strings.TrimSpace(q.SQL) == "" {
		return q, invalidShape("Field \"sql\" must not be empty.")
	}
	return q, nil
}

func decodeParams(v jvalue) (forge.Params, error) {
	var p forge.Params
	switch v.kind {
	case jNull:
		return p, nil
	case jArray:
		p.Positional = make([]forge.Value, len(v.arr))
		for i, el := range v.arr {
			val, err := decodeValue(el, path{"params", i, ""})
			if err != nil {
				return p, err
			}
			p.Positional[i] = val
		}
		return p, nil
	case jObject:
		p.IsNamed = true
		p.Named = make([]forge.NamedValue, len(v.obj))
		for i, m := range v.obj {
			name := m.key
			if len(name) > 1 && (name[0] == ':' || name[0] == '@' || name[0] == '$') {
				name = name[1:]
			}
			for _, prev := range p.Named[:i] {
				if prev.Name == name {
					return p, invalidValue("Parameter %q is given twice.", name)
				}
			}
			val, err := decodeValue(m.val, path{"params", -1, name})
			if err != nil {
				return p, err
			}
			p.Named[i] = forge.NamedValue{Name: name, Value: val}
		}
		return p, nil
	}
	return p, invalidShape("Field \"params\" must be an array or an object, not %s.", v.kind)
}

// path names a value of a body in error messages ("params[2]",
// "params.id", "rows[0].name"). It is formatted only when there is an
// error to report, so that decoding a good body builds no string.
type path struct {
	base  string
	index int    // -1: none
	key   string // "": none
}

func (p path) String() string {
	s := p.base
	if p.index >= 0 {
		s += "[" + strconv.Itoa(p.index) + "]"
	}
	if p.key != "" {
		s += "." + p.key
	}
	return s
}

// decodeValue turns a JSON value into a SQL value: integers (no fraction,
// no exponent) bind as int64 and must fit; other numbers as float64;
// booleans as 1 or 0; {"$blob": "<base64>"} as a BLOB.
func decodeValue(v jvalue, where path) (forge.Value, error) {
	switch v.kind {
	case jNull:
		return forge.NullValue(), nil
	case jBool:
		if v.b {
			return forge.IntValue(1), nil
		}
		return forge.IntValue(0), nil
	case jString:
		return forge.TextValue(v.s), nil
	case jNumber:
		return decodeNumber(v.s, where)
	case jObject:
		if len(v.obj) == 1 && v.obj[0].key == "$blob" && v.obj[0].val.kind == jString {
			b, err := base64.StdEncoding.DecodeString(v.obj[0].val.s)
			if err != nil {
				return forge.Value{}, invalidValue("%s: \"$blob\" must be standard base64: %v.", where, err)
			}
			return forge.BlobValue(b), nil
		}
		return forge.Value{}, invalidShape("%s: an object value must be {\"$blob\": \"<base64>\"}.", where)
	}
	return forge.Value{}, invalidShape("%s: arrays are not SQL values.", where)
}

func decodeNumber(lit string, where path) (forge.Value, error) {
	if !strings.ContainsAny(lit, ".eE") {
		n, err := strconv.ParseInt(lit, 10, 64)
		if err != nil {
			return forge.Value{}, invalidValue("%s: integer %s is outside the 64-bit range.", where, lit)
		}
		return forge.IntValue(n), nil
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsInf(f, 0) {
		return forge.Value{}, invalidValue("%s: number %s is outside the float64 range.", where, lit)
	}
	return forge.FloatValue(f), nil
}

// decodeTable decodes the tables route's body.
func decodeTable(body []byte) (forge.TableSpec, error) {
	var spec forge.TableSpec
	v, err := parseBody(body)
	if err != nil {
		return spec, err
	}
	haveName, haveCols := false, false
	for _, m := range v.obj {
		switch m.key {
		case "table_name":
			if m.val.kind != jString {
				return spec, invalidShape("Field \"table_name\" must be a string.")
			}
			spec.Name, haveName = m.val.s, true
		case "columns":
			if m.val.kind != jArray {
				return spec, invalidShape("Field \"columns\" must be an array.")
			}
			haveCols = true
			for i, c := range m.val.arr {
				col, err := decodeColumn(c, i)
				if err != nil {
					return spec, err
				}
				spec.Columns = append(spec.Columns, col)
			}
		default:
			return spec, unknownField("the table body", m.key)
		}
	}
	if !haveName {
		return spec, invalidShape("Field \"table_name\" is required.")
	}
	if !haveCols {
		return spec, invalidShape("Field \"columns\" is required.")
	}
	return spec, nil
}

func decodeColumn(v jvalue, i int) (forge.ColumnSpec, error) {
	var c forge.ColumnSpec
	if v.kind != jObject {
		return c, invalidShape("columns[%d] must be an object.", i)
	}
	haveName := false
	flag := func(m jmember) (bool, error) {
		switch m.val.kind {
		case jBool:
			return m.val.b, nil
		case jNull:
			return false, nil
		}
		return false, invalidShape("columns[%d].%s must be a boolean.", i, m.key)
	}
	var err error
	for _, m := range v.obj {
		switch m.key {
		case "name":
			if m.val.kind != jString {
				return c, invalidShape("columns[%d].name must be a string.", i)
			}
			c.Name, haveName = m.val.s, true
		case "type":
			if m.val.kind != jString {
				return c, invalidShape("columns[%d].type must be a string.", i)
			}
			c.Type = m.val.s
		case "primary_key":
			c.PrimaryKey, err = flag(m)
		case "not_null":
			c.NotNull, err = flag(m)
		case "unique":
			c.Unique, err = flag(m)
		case "default":
			val, derr := decodeValue(m.val, path{"columns", i, "default"})
			if derr != nil {
				return c, derr
			}
			c.Default = &val
		default:
			return c, unknownField(fmt.Sprintf("columns[%d]", i), m.key)
		}
		if err != nil {
			return c, err
		}
	}
	if !haveName {
		return c, invalidShape("columns[%d].name is required.", i)
	}
	if c.Type == "" {
		return c, invalidShape("columns[%d].type is required.", i)
	}
	return c, nil
}

// decodeRows decodes {"rows": [{"col": value, ...}, ...]}: at least one
// row ({"rows": []} is 400 NO_ROWS, as the prototype answered).
func decodeRows(body []byte) ([]forge.Record, error) {
	rows, _, err := decodeRowsBody(body)
	return rows, err
}

// decodeRowsBody decodes the insert body with its options: "upsert",
// "on_conflict" (rows.go) and "return".
func decodeRowsBody(body []byte) ([]forge.Record, forge.InsertOptions, error) {
	var opt forge.InsertOptions
	v, err := parseBody(body)
	if err != nil {
		return nil, opt, err
	}
	var rows []forge.Record
	haveRows := false
	for _, m := range v.obj {
		if m.key != "rows" {
			if ok, err := decodeInsertOption(m, &opt); ok {
				if err != nil {
					return nil, opt, err
				}
				continue
			}
			return nil, opt, unknownField("the rows body", m.key)
		}
		if m.val.kind != jArray {
			return nil, opt, invalidShape("Field \"rows\" must be an array of objects.")
		}
		haveRows = true
		rows = make([]forge.Record, len(m.val.arr))
		for i, r := range m.val.arr {
			if r.kind != jObject {
				return nil, opt, invalidShape("rows[%d] must be an object.", i)
			}
			rec := make(forge.Record, len(r.obj))
			for j, f := range r.obj {
				val, err := decodeValue(f.val, path{"rows", i, f.key})
				if err != nil {
					return nil, opt, err
				}
				rec[j] = forge.Field{Column: f.key, Value: val}
			}
			rows[i] = rec
		}
	}
	if !haveRows {
		return nil, opt, invalidShape("Field \"rows\" is required.")
	}
	if len(rows) == 0 {
		return nil, opt, errNoRows
	}
	return rows, opt, nil
}

// maxExpiresIn is the longest expires_in a key may be given, in seconds:
// 100 years, package auth's bound (which Create checks again).
const maxExpiresIn = 100 * 365 * 24 * 3600

// keyRequest is the body of POST /admin/databases/{db_name}/keys.
type keyRequest struct {
	scope     auth.Scope
	expiresIn time.Duration // 0 = never expires
}

// decodeKeyRequest decodes {"scope": "read-only"|"read-write",
// "expires_in": <seconds> | null}. scope is required; a scope or an
// expiry outside those values is 422 (INVALID_SCOPE, INVALID_EXPIRY).
func decodeKeyRequest(body []byte) (keyRequest, error) {
	var kr keyRequest
	v, err := parseBody(body)
	if err != nil {
		return kr, err
	}
	haveScope := false
	for _, m := range v.obj {
		switch m.key {
		case "scope":
			if m.val.kind != jString {
				return kr, invalidShape("Field \"scope\" must be a string, not %s.", m.val.kind)
			}
			switch sc := auth.Scope(m.val.s); sc {
			case auth.ScopeReadOnly, auth.ScopeReadWrite:
				kr.scope, haveScope = sc, true
			default:
				return kr, fmt.Errorf("scope %q: %w", m.val.s, auth.ErrInvalidScope)
			}
		case "expires_in":
			switch m.val.kind {
			case jNull:
				kr.expiresIn = 0
			case jNumber:
				secs, err := strconv.ParseInt(m.val.s, 10, 64)
				if err != nil || secs < 1 || secs > maxExpiresIn {
					return kr, fmt.Errorf("expires_in %s: %w", m.val.s, auth.ErrInvalidExpiry)
				}
				kr.expiresIn = time.Duration(secs) * time.Second
			default:
				return kr, invalidShape("Field \"expires_in\" must be a number of seconds, not %s.", m.val.kind)
			}
		default:
			return kr, unknownField("the key body", m.key)
		}
	}
	if !haveScope {
		return kr, invalidShape("Field \"scope\" is required: \"read-only\" or \"read-write\".")
	}
	return kr, nil
}

// Requests as handlers receive them, each made by its binder from the
// route's parameters and the strict decoders above: the binder checks
// {db_name} first, then the body or the query string, so a request with a
// bad name and a bad body is refused for its name.

// noRequest is the input of a route that takes none.
type noRequest struct{}

func bindNothing(*fasthttp.RequestCtx) (noRequest, error) { return noRequest{}, nil }

// dbRequest is a route of {db_name} without a body.
type dbRequest struct{ db string }

func bindDB(rc *fasthttp.RequestCtx) (dbRequest, error) {
	db, err := dbName(rc)
	return dbRequest{db: db}, err
}

// spawnRequest: POST /admin/databases/spawn/{db_name}.
type spawnRequest struct {
	db   string
	idem forge.IdempotencyKey
	// source is what the database is made from (moves.go): by
	// Content-Type, or a branch of parent (at its checkpoint).
	source             spawnSource
	parent, checkpoint string
	// ttl, when > 0, is the lease asked for ({"ttl": seconds}: leases.go).
	ttl time.Duration
}

func bindSpawn(rc *fasthttp.RequestCtx) (spawnRequest, error) {
	db, err := dbName(rc)
	if err != nil {
		return spawnRequest{}, err
	}
	k, err := bindIdempotency(rc)
	if err != nil {
		return spawnRequest{db: db}, err
	}
	req := spawnRequest{db: db, idem: k}
	req.source, req.parent, req.checkpoint, req.ttl, err = spawnSourceOf(rc)
	return req, err
}

// dbName is the validated {db_name} of the route.
func dbName(rc *fasthttp.RequestCtx) (string, error) {
	name, _ := rc.UserValue("db_name").(string)
	return name, forge.ValidateName(name)
}

// queryRequest: POST /api/db/{db_name}/query.
type queryRequest struct {
	db   string
	stmt forge.Statement
	idem forge.IdempotencyKey // zero: no Idempotency-Key
	opt  queryOptions
}

func bindQuery(rc *fasthttp.RequestCtx) (queryRequest, error) {
	db, err := dbName(rc)
	if err != nil {
		return queryRequest{}, err
	}
	q, opt, err := decodeQueryBody(rc.PostBody())
	if err == nil {
		err = checkReadOnlyHeader(rc)
	}
	if err != nil {
		return queryRequest{}, err
	}
	q.ReadOnly = readOnlyRun(rc)
	q.Meta = true // the answer carries what SQLite counted
	opt.result.resolveFormat(rc)
	k, err := bindIdempotency(rc)
	return queryRequest{db: db, stmt: q, idem: k, opt: opt}, err
}

// tableRequest: POST /api/db/{db_name}/tables.
type tableRequest struct {
	db   string
	spec forge.TableSpec
	idem forge.IdempotencyKey
}

func bindTable(rc *fasthttp.RequestCtx) (tableRequest, error) {
	db, err := dbName(rc)
	if err != nil {
		return tableRequest{}, err
	}
	spec, err := decodeTable(rc.PostBody())
	if err != nil {
		return tableRequest{}, err
	}
	k, err := bindIdempotency(rc)
	return tableRequest{db: db, spec: spec, idem: k}, err
}

// insertRequest: POST /api/db/{db_name}/tables/{table_name}/rows.
type insertRequest struct {
	db, table string
	rows      []forge.Record
	opt       forge.InsertOptions // upsert, return (rows.go)
	idem      forge.IdempotencyKey
}

func bindInsert(rc *fasthttp.RequestCtx) (insertRequest, error) {
	db, err := dbName(rc)
	if err != nil {
		return insertRequest{}, err
	}
	rows, opt, err := decodeRowsBody(rc.PostBody())
	table, _ := rc.UserValue("table_name").(string)
	if err != nil {
		return insertRequest{db: db, table: table}, err
	}
	k, err := bindIdempotency(rc)
	return insertRequest{db: db, table: table, rows: rows, opt: opt, idem: k}, err
}

// createKeyRequest: POST /admin/databases/{db_name}/keys.
type createKeyRequest struct {
	db string
	keyRequest
}

func bindKey(rc *fasthttp.RequestCtx) (createKeyRequest, error) {
	db, err := dbName(rc)
	if err != nil {
		return createKeyRequest{}, err
	}
	kr, err := decodeKeyRequest(rc.PostBody())
	return createKeyRequest{db: db, keyRequest: kr}, err
}

// revokeRequest: DELETE /admin/databases/{db_name}/keys/{key_id}.
type revokeRequest struct{ db, id string }

func bindRevoke(rc *fasthttp.RequestCtx) (revokeRequest, error) {
	db, err := dbName(rc)
	id, _ := rc.UserValue("key_id").(string)
	return revokeRequest{db: db, id: id}, err
}
