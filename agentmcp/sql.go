package agentmcp

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// headerReadOnly asks the gateway to run a query or a batch as a
// read-only key's, whatever the key (docs/API.md).
const headerReadOnly = "X-Read-Only"

// answerRows is a /query answer in the "arrays" shape, or a statement's
// result in a /batch answer.
type answerRows struct {
	Columns      json.RawMessage `json:"columns,omitempty"`
	Rows         json.RawMessage `json:"rows,omitempty"`
	RowsAffected int64           `json:"rows_affected"`
	Truncated    bool            `json:"truncated,omitempty"`
	Message      string          `json:"message,omitempty"`
	Meta         *struct {
		LastInsertID int64 `json:"last_insert_id"`
		Changes      int64 `json:"changes"`
	} `json:"meta,omitempty"`
	Changes          json.RawMessage `json:"changes,omitempty"`
	ChangesTruncated bool            `json:"changes_truncated,omitempty"`
	DryRun           bool            `json:"dry_run,omitempty"`
	Error            json.RawMessage `json:"error,omitempty"`
}

// compact is what a tool answers of a result: {columns, rows, row_count,
// truncated} for rows, else {rows_affected, last_insert_id}.
type compact struct {
	Columns          json.RawMessage `json:"columns,omitempty"`
	Rows             json.RawMessage `json:"rows,omitempty"`
	RowCount         *int64          `json:"row_count,omitempty"`
	Truncated        bool            `json:"truncated,omitempty"`
	RowsAffected     *int64          `json:"rows_affected,omitempty"`
	LastInsertID     int64           `json:"last_insert_id,omitempty"`
	Changes          json.RawMessage `json:"changes,omitempty"`
	ChangesTruncated bool            `json:"changes_truncated,omitempty"`
	Error            json.RawMessage `json:"error,omitempty"`
}

func (a answerRows) compact() compact {
	n := a.RowsAffected
	if a.Columns != nil {
		return compact{Columns: a.Columns, Rows: a.Rows, RowCount: &n, Truncated: a.Truncated,
			Changes: a.Changes, ChangesTruncated: a.ChangesTruncated}
	}
	c := compact{RowsAffected: &n, Changes: a.Changes, ChangesTruncated: a.ChangesTruncated, Error: a.Error}
	if a.Meta != nil {
		c.LastInsertID = a.Meta.LastInsertID
	}
	if a.Error != nil {
		c.RowsAffected = nil
	}
	return c
}

func (s *Server) maxRows(asked int) int {
	if asked <= 0 {
		return s.opts.MaxRows
	}
	return min(asked, s.opts.MaxRowsLimit)
}

// apiBytes is the byte cap asked of the API: room is left for the tags
// and notes of the answer.
func (s *Server) apiBytes() int { return max(s.opts.MaxBytes-512, 1024) }

func (s *Server) truncatedNote(maxRows int) string {
	return "truncated: more rows exist than this answer holds (max_rows " + strconv.Itoa(maxRows) +
		", at most " + strconv.Itoa(s.opts.MaxBytes) + " bytes). Narrow the query: a WHERE, fewer columns, " +
		"aggregates (COUNT, GROUP BY), or LIMIT/OFFSET to page; max_rows goes up to " + strconv.Itoa(s.opts.MaxRowsLimit) + "."
}

func (s *Server) query(ctx context.Context, c Caller, db string, in queryInput) *mcp.CallToolResult {
	n := s.maxRows(in.MaxRows)
	req := map[string]any{"sql": in.SQL, "max_rows": n, "max_bytes": s.apiBytes(), "shape": "arrays"}
	if in.Params != nil {
		req["params"] = in.Params
	}
	body, err := json.Marshal(req)
	if err != nil {
		return failure(err.Error())
	}
	status, resp, err := s.do(ctx, c, "POST", dbPath(db, "/query"), map[string]string{headerReadOnly: "true"}, body)
	if err != nil {
		return failure(err.Error())
	}
	if status >= 300 {
		if status == 403 && strings.Contains(string(resp), `"READ_ONLY_KEY"`) {
			if c.Write {
				return failure("READ_ONLY: query runs statements read-only, and SQLite does not report this one read-only. Use execute to write.")
			}
			return failure("READ_ONLY_KEY: this key may only read, and SQLite does not report this statement read-only.")
		}
		return apiFailure(status, resp)
	}
	return s.rowsResult(resp, n, "")
}

// rowsResult answers one /query answer, compacted and wrapped.
func (s *Server) rowsResult(resp []byte, maxRows int, tail string) *mcp.CallToolResult {
	var a answerRows
	if err := json.Unmarshal(resp, &a); err != nil {
		return failure("the gateway's answer could not be read: " + err.Error())
	}
	out, _ := json.Marshal(a.compact())
	if a.Truncated {
		tail = strings.TrimSpace(tail + "\n" + s.truncatedNote(maxRows))
	}
	if a.Columns == nil && a.Changes == nil {
		return text(string(out)) // no data: counts only
	}
	return s.wrapped(out, tail)
}

func (s *Server) execute(ctx context.Context, c Caller, db string, in executeInput) *mcp.CallToolResult {
	n := s.maxRows(0)
	req := map[string]any{"sql": in.SQL, "max_rows": n, "max_bytes": s.apiBytes(), "shape": "arrays"}
	if in.Params != nil {
		req["params"] = in.Params
	}
	reason, risky := Risky(in.SQL)
	dry := risky && !in.Confirm
	if dry {
		req["dry_run"], req["max_changes"] = true, 20
	}
	body, err := json.Marshal(req)
	if err != nil {
		return failure(err.Error())
	}
	status, resp, err := s.do(ctx, c, "POST", dbPath(db, "/query"), nil, body)
	if err != nil {
		return failure(err.Error())
	}
	if status >= 300 {
		return apiFailure(status, resp)
	}
	if !dry {
		return s.rowsResult(resp, n, "")
	}
	var a answerRows
	_ = json.Unmarshal(resp, &a)
	note := "DRY RUN, nothing was written: this statement " + reason + ". It would change " +
		strconv.FormatInt(a.RowsAffected, 10) + " row(s)" +
		". If that is intended, call execute again with the same sql and \"confirm\": true."
	out, _ := json.Marshal(a.compact())
	return s.wrapped(out, note)
}

func (s *Server) batch(ctx context.Context, c Caller, db string, in batchInput) *mcp.CallToolResult {
	if len(in.Statements) == 0 {
		return failure("Give at least one statement in \"statements\".")
	}
	n := s.maxRows(in.MaxRows)
	var reasons []string
	for i, st := range in.Statements {
		if reason, risky := Risky(st.SQL); risky {
			reasons = append(reasons, "statement "+strconv.Itoa(i)+" "+reason)
		}
	}
	dry := len(reasons) > 0 && !in.Confirm
	req := map[string]any{"statements": in.Statements, "max_rows": n, "max_bytes": s.apiBytes(), "shape": "arrays"}
	if in.Transaction != nil {
		req["transaction"] = *in.Transaction
	}
	if dry {
		req["dry_run"], req["max_changes"] = true, 20
	}
	body, err := json.Marshal(req)
	if err != nil {
		return failure(err.Error())
	}
	status, resp, err := s.do(ctx, c, "POST", dbPath(db, "/batch"), nil, body)
	if err != nil {
		return failure(err.Error())
	}
	if status >= 300 {
		return apiFailure(status, resp)
	}
	var a struct {
		Results          []answerRows    `json:"results"`
		Changes          json.RawMessage `json:"changes,omitempty"`
		ChangesTruncated bool            `json:"changes_truncated,omitempty"`
	}
	if err := json.Unmarshal(resp, &a); err != nil {
		return failure("the gateway's answer could not be read: " + err.Error())
	}
	out := struct {
		Results          []compact       `json:"results"`
		Changes          json.RawMessage `json:"changes,omitempty"`
		ChangesTruncated bool            `json:"changes_truncated,omitempty"`
	}{Changes: a.Changes, ChangesTruncated: a.ChangesTruncated}
	truncated := false
	for _, r := range a.Results {
		out.Results = append(out.Results, r.compact())
		truncated = truncated || r.Truncated
	}
	var tail []string
	if truncated {
		tail = append(tail, s.truncatedNote(n))
	}
	if dry {
		tail = append(tail, "DRY RUN, nothing was written: "+strings.Join(reasons, "; ")+
			". If that is intended, call batch again with the same statements and \"confirm\": true.")
	}
	b, _ := json.Marshal(out)
	return s.wrapped(b, strings.Join(tail, "\n"))
}

func (s *Server) explain(ctx context.Context, c Caller, db string, in explainInput) *mcp.CallToolResult {
	req := map[string]any{"sql": "EXPLAIN QUERY PLAN " + in.SQL, "shape": "arrays", "max_rows": 1000, "max_bytes": s.apiBytes()}
	if in.Params != nil {
		req["params"] = in.Params
	}
	body, _ := json.Marshal(req)
	status, resp, err := s.do(ctx, c, "POST", dbPath(db, "/query"), map[string]string{headerReadOnly: "true"}, body)
	if err != nil {
		return failure(err.Error())
	}
	if status >= 300 {
		return apiFailure(status, resp)
	}
	var a struct {
		Rows [][]any `json:"rows"`
	}
	if err := json.Unmarshal(resp, &a); err != nil {
		return failure("the gateway's answer could not be read: " + err.Error())
	}
	// Rows are (id, parent, notused, detail): indent each by its depth.
	depth := map[float64]int{0: -1}
	var b strings.Builder
	for _, r := range a.Rows {
		if len(r) < 4 {
			continue
		}
		id, _ := r[0].(float64)
		parent, _ := r[1].(float64)
		detail, _ := r[3].(string)
		d := depth[parent] + 1
		depth[id] = d
		b.WriteString(strings.Repeat("  ", d) + detail + "\n")
	}
	return s.wrapped([]byte(strings.TrimRight(b.String(), "\n")), "")
}

// The schema route's JSON (docs/API.md, GET /api/db/{db_name}/schema).
type (
	schemaTable struct {
		Name         string         `json:"name"`
		Type         string         `json:"type"`
		Columns      []schemaColumn `json:"columns"`
		Indexes      []schemaIndex  `json:"indexes"`
		ForeignKeys  []schemaFK     `json:"foreign_keys"`
		Triggers     []struct{}     `json:"triggers"`
		WithoutRowid bool           `json:"without_rowid"`
		Strict       bool           `json:"strict"`
	}
	schemaColumn struct {
		Name      string  `json:"name"`
		Type      string  `json:"type"`
		NotNull   bool    `json:"not_null"`
		Default   *string `json:"default"`
		PK        int     `json:"pk"`
		Generated bool    `json:"generated"`
	}
	schemaIndex struct {
		Name    string   `json:"name"`
		Columns []string `json:"columns"`
		Unique  bool     `json:"unique"`
	}
	schemaFK struct {
		Columns []string `json:"columns"`
		Table   string   `json:"table"`
		To      []string `json:"to"`
	}
)

func (s *Server) describeSchema(ctx context.Context, c Caller, db string, in schemaInput) *mcp.CallToolResult {
	path := dbPath(db, "/schema")
	if in.Table != "" {
		path = dbPath(db, "/tables/"+url.PathEscape(in.Table))
	}
	if in.Full {
		return s.call(ctx, c, "GET", path+"?verbose=1", nil, nil, true)
	}
	status, resp, err := s.do(ctx, c, "GET", path, nil, nil)
	if err != nil {
		return failure(err.Error())
	}
	if status >= 300 {
		return apiFailure(status, resp)
	}
	var tables []schemaTable
	if in.Table != "" {
		var t schemaTable
		err = json.Unmarshal(resp, &t)
		tables = []schemaTable{t}
	} else {
		var all struct {
			Tables []schemaTable `json:"tables"`
		}
		err = json.Unmarshal(resp, &all)
		tables = all.Tables
	}
	if err != nil {
		return failure("the gateway's answer could not be read: " + err.Error())
	}
	rows := map[string]string{}
	if status, resp, err := s.do(ctx, c, "GET", dbPath(db, "/tables"), nil, nil); err == nil && status == 200 {
		var list struct {
			Tables []struct {
				Name string `json:"name"`
				Rows *int64 `json:"rows"`
			} `json:"tables"`
		}
		if json.Unmarshal(resp, &list) == nil {
			for _, t := range list.Tables {
				if t.Rows != nil {
					rows[t.Name] = strconv.FormatInt(*t.Rows, 10)
				}
			}
		}
	}
	if len(tables) == 0 {
		return text("The database has no tables.")
	}
	return s.wrapped([]byte(compactSchema(tables, rows)),
		"One line a table: name(column TYPE [PK] [NOT NULL] [DEFAULT x] [-> table.column], …), then its rows and indexes. full: true for the JSON description.")
}

// compactSchema writes one line a table: its columns with their
// constraints, its row count and its indexes.
func compactSchema(tables []schemaTable, rows map[string]string) string {
	var b strings.Builder
	for _, t := range tables {
		if t.Type == "view" {
			b.WriteString("view ")
		}
		b.WriteString(t.Name + "(")
		for i, col := range t.Columns {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(col.Name)
			if col.Type != "" {
				b.WriteString(" " + col.Type)
			}
			if col.PK > 0 {
				b.WriteString(" PK")
			}
			if col.NotNull {
				b.WriteString(" NOT NULL")
			}
			if col.Default != nil {
				b.WriteString(" DEFAULT " + *col.Default)
			}
			if col.Generated {
				b.WriteString(" GENERATED")
			}
			for _, fk := range t.ForeignKeys {
				for j, fc := range fk.Columns {
					if fc == col.Name {
						to := ""
						if j < len(fk.To) {
							to = "." + fk.To[j]
						}
						b.WriteString(" -> " + fk.Table + to)
					}
				}
			}
		}
		b.WriteString(")")
		if t.WithoutRowid {
			b.WriteString(" WITHOUT ROWID")
		}
		if t.Strict {
			b.WriteString(" STRICT")
		}
		if n, ok := rows[t.Name]; ok {
			b.WriteString(" rows≈" + n)
		}
		for _, ix := range t.Indexes {
			b.WriteString("; ")
			if ix.Unique {
				b.WriteString("unique ")
			}
			b.WriteString("index " + ix.Name + "(" + strings.Join(ix.Columns, ", ") + ")")
		}
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n")
}
