package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Rows as a REST API (docs/API.md, Rows and schema).

// Where holds the rows routes' filters as query parameters:
// {"status": {"open"}, "age__gte": {"18"}} (docs/API.md, Filters).
type Where = url.Values

// RowsQuery selects and pages the rows of a table (every field
// optional).
type RowsQuery struct {
	Where Where
	// Sort orders by columns; a column prefixed "-" sorts descending.
	Sort []string
	// Columns answers only these columns.
	Columns []string
	// Size makes a page of at most Size rows (0: every row); Next is the
	// token of the page before (RowsPage.Next).
	Size int
	Next string
	// Offset skips rows (prefer Next).
	Offset int
	// Count asks for the count of every matching row (RowsPage.Count).
	Count bool
}

// RowsPage is a page of rows.
type RowsPage struct {
	Data         []Row  `json:"data"`
	RowsAffected int64  `json:"rows_affected"`
	Truncated    bool   `json:"truncated"`
	Next         string `json:"next"`
	Count        *int64 `json:"count"`
}

// Rows reads rows of a table or view.
func (db *DB) Rows(ctx context.Context, table string, q *RowsQuery) (*RowsPage, error) {
	if err := need(db.name, table); err != nil {
		return nil, err
	}
	v := url.Values{}
	if q != nil {
		for k, vs := range q.Where {
			v[k] = append([]string(nil), vs...)
		}
		for _, s := range q.Sort {
			if c, ok := strings.CutPrefix(s, "-"); ok {
				v.Add("_sort_desc", c)
			} else {
				v.Add("_sort", s)
			}
		}
		for _, c := range q.Columns {
			v.Add("_col", c)
		}
		if q.Size > 0 {
			v.Set("_size", strconv.Itoa(q.Size))
		}
		setIf(v, "_next", q.Next)
		if q.Offset > 0 {
			v.Set("_offset", strconv.Itoa(q.Offset))
		}
		if q.Count {
			v.Set("_count", "1")
		}
	}
	var out RowsPage
	_, err := db.c.call(ctx, request{method: http.MethodGet, path: db.path("tables", table, "rows"), query: v, idempotent: true}, &out)
	if err != nil {
		return nil, err
	}
	decodeRows(out.Data)
	return &out, nil
}

// InsertOptions are the options of an insert.
type InsertOptions struct {
	// Upsert updates a row whose key (the primary key, or OnConflict's
	// columns) is there already.
	Upsert     bool
	OnConflict []string
	// Return answers the stored rows (InsertResult.Data).
	Return bool
	// IdempotencyKey as in ExecOptions (made by the client when "").
	IdempotencyKey   string
	NoIdempotencyKey bool
}

// InsertResult is the answer of an insert.
type InsertResult struct {
	Message      string `json:"message"`
	RowsAffected int64  `json:"rows_affected"`
	Data         []Row  `json:"data"`
	Replayed     bool   `json:"-"`
}

// Insert inserts rows into a table, all or none.
func (db *DB) Insert(ctx context.Context, table string, rows []Row, o *InsertOptions) (*InsertResult, error) {
	if err := need(db.name, table); err != nil {
		return nil, err
	}
	if o == nil {
		o = &InsertOptions{}
	}
	enc := make([]any, len(rows))
	for i, r := range rows {
		enc[i] = encodeValue(map[string]any(r))
	}
	body := map[string]any{"rows": enc}
	if o.Upsert {
		body["upsert"] = true
	}
	if len(o.OnConflict) > 0 {
		body["on_conflict"] = o.OnConflict
	}
	if o.Return {
		body["return"] = true
	}
	r := request{method: http.MethodPost, path: db.path("tables", table, "rows"), json: body, header: http.Header{}}
	db.options(&r, body, &ExecOptions{IdempotencyKey: o.IdempotencyKey, NoIdempotencyKey: o.NoIdempotencyKey}, false)
	var out InsertResult
	resp, err := db.c.call(ctx, r, &out)
	if err != nil {
		return nil, err
	}
	decodeRows(out.Data)
	out.Replayed = resp.Header.Get("Idempotent-Replayed") == "true"
	return &out, nil
}

// Update sets columns on every row where selects; an empty where is
// refused (ErrFilterRequired) unless all is true. Setting the same
// values again gives the same rows, so it is retried like a read.
func (db *DB) Update(ctx context.Context, table string, where Where, set Row, all bool) (int64, error) {
	if err := need(db.name, table); err != nil {
		return 0, err
	}
	var out struct {
		RowsAffected int64 `json:"rows_affected"`
	}
	_, err := db.c.call(ctx, request{method: http.MethodPatch, path: db.path("tables", table, "rows"),
		query: allQuery(where, all), json: map[string]any{"set": encodeValue(map[string]any(set))}, idempotent: true}, &out)
	return out.RowsAffected, err
}

// DeleteRows deletes every row where selects; an empty where is refused
// (ErrFilterRequired) unless all is true.
func (db *DB) DeleteRows(ctx context.Context, table string, where Where, all bool) (int64, error) {
	if err := need(db.name, table); err != nil {
		return 0, err
	}
	var out struct {
		RowsAffected int64 `json:"rows_affected"`
	}
	_, err := db.c.call(ctx, request{method: http.MethodDelete, path: db.path("tables", table, "rows"),
		query: allQuery(where, all), idempotent: true}, &out)
	return out.RowsAffected, err
}

func allQuery(where Where, all bool) url.Values {
	v := url.Values{}
	for k, vs := range where {
		v[k] = append([]string(nil), vs...)
	}
	if all {
		v.Set("_all", "1")
	}
	return v
}
