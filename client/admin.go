package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The control plane: the admin key's routes (docs/API.md, Admin, API
// keys, Leases and the trash).

// SpawnOptions are the optional parts of a spawn.
type SpawnOptions struct {
	// TTL gives the database a lease: it expires TTL from now (whole
	// seconds, rounded up). 0: no lease (an existing one is left as is).
	TTL time.Duration
	// From makes the new database a branch: a copy of the database From
	// as it is now, or of its Checkpoint.
	From, Checkpoint string
}

// Spawned is the answer of a spawn (or a restore from the trash).
type Spawned struct {
	Message     string `json:"message"`
	DBName      string `json:"db_name"`
	ContainerID string `json:"container_id"`
	// APIKey is the new database's read-write key, shown this once; ""
	// when the database was there already (Created false).
	APIKey     string     `json:"api_key,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	From       string     `json:"from,omitempty"`
	Checkpoint string     `json:"checkpoint,omitempty"`
	// Created is true on 201 (a new instance), false on 200 (it existed).
	Created bool `json:"-"`
}

// Spawn creates the database name (if needed) and its instance. Spawn is
// idempotent: a second one answers Created false, without a key.
func (c *Client) Spawn(ctx context.Context, name string, o *SpawnOptions) (*Spawned, error) {
	if err := need(name); err != nil {
		return nil, err
	}
	r := request{method: http.MethodPost, path: pathOf("admin", "databases", "spawn", name)}
	if o != nil && (o.TTL > 0 || o.From != "") {
		body := map[string]any{}
		if o.TTL > 0 {
			body["ttl"] = seconds(o.TTL)
		}
		if o.From != "" {
			body["from"] = o.From
			if o.Checkpoint != "" {
				body["checkpoint"] = o.Checkpoint
			}
		}
		r.json = body
	}
	var out Spawned
	resp, err := c.call(ctx, r, &out)
	if err != nil {
		return nil, err
	}
	out.Created = resp.StatusCode == http.StatusCreated
	return &out, nil
}

// Branch makes the database name a copy of from (of its checkpoint when
// checkpoint is not ""): Spawn with From.
func (c *Client) Branch(ctx context.Context, name, from, checkpoint string) (*Spawned, error) {
	if err := need(from); err != nil {
		return nil, err
	}
	return c.Spawn(ctx, name, &SpawnOptions{From: from, Checkpoint: checkpoint})
}

// Content types of SpawnFrom and Import.
const (
	ContentTypeSQLite = "application/vnd.sqlite3"
	ContentTypeSQL    = "application/sql"
	ContentTypeCSV    = "text/csv"
)

// SpawnFrom creates the database name from a SQLite file
// (ContentTypeSQLite) or an SQL script (ContentTypeSQL), streamed from
// body. It is never retried (the body is read once).
func (c *Client) SpawnFrom(ctx context.Context, name string, body io.Reader, contentType string) (*Spawned, error) {
	if err := need(name); err != nil {
		return nil, err
	}
	var out Spawned
	resp, err := c.call(ctx, request{method: http.MethodPost, path: pathOf("admin", "databases", "spawn", name),
		body: body, contentType: contentType}, &out)
	if err != nil {
		return nil, err
	}
	out.Created = resp.StatusCode == http.StatusCreated
	return &out, nil
}

// Message is the answer of routes that say what they did.
type Message struct {
	Message string `json:"message"`
	DBName  string `json:"db_name,omitempty"`
}

// Prune removes the database's instance; its data stays.
func (c *Client) Prune(ctx context.Context, name string) (*Message, error) {
	if err := need(name); err != nil {
		return nil, err
	}
	var out Message
	_, err := c.call(ctx, request{method: http.MethodPost, path: pathOf("admin", "databases", "prune", name)}, &out)
	return &out, err
}

// Instance is a database of the list.
type Instance struct {
	Name         string     `json:"name"`
	ContainerID  string     `json:"container_id"`
	Status       string     `json:"status"`
	CreatedAt    time.Time  `json:"created_at"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	Damaged      bool       `json:"damaged,omitempty"`
	Damage       string     `json:"damage,omitempty"`
	DamagedSince *time.Time `json:"damaged_since,omitempty"`
}

// ListOptions filter and page the list; the zero value lists every
// instance.
type ListOptions struct {
	Status, Prefix string
	// Limit makes a page of at most Limit instances (1 to 1000); After is
	// the cursor of the page before (ListPage's next).
	Limit int
	After string
}

// List lists every instance (following pages when o.Limit is set).
func (c *Client) List(ctx context.Context, o *ListOptions) ([]Instance, error) {
	var all []Instance
	var page ListOptions
	if o != nil {
		page = *o
	}
	for {
		items, next, err := c.ListPage(ctx, &page)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if next == "" {
			return all, nil
		}
		page.After = next
	}
}

// ListPage lists one page; next is the cursor of the page after it ("":
// the last page).
func (c *Client) ListPage(ctx context.Context, o *ListOptions) (items []Instance, next string, err error) {
	q := url.Values{}
	if o != nil {
		setIf(q, "status", o.Status)
		setIf(q, "prefix", o.Prefix)
		if o.Limit > 0 {
			q.Set("limit", strconv.Itoa(o.Limit))
		}
		setIf(q, "after", o.After)
	}
	resp, err := c.call(ctx, request{method: http.MethodGet, path: "/admin/databases", query: q, idempotent: true}, &items)
	if err != nil {
		return nil, "", err
	}
	return items, resp.Header.Get("X-Next-Cursor"), nil
}

// Details is one database in detail.
type Details struct {
	Name         string     `json:"name"`
	Status       string     `json:"status"`
	ContainerID  *string    `json:"container_id"`
	CreatedAt    *time.Time `json:"created_at"`
	LastUsedAt   *time.Time `json:"last_used_at"`
	SizeBytes    int64      `json:"size_bytes"`
	FileBytes    int64      `json:"file_bytes"`
	WALBytes     int64      `json:"wal_bytes"`
	Tables       int        `json:"tables"`
	ExpiresAt    *time.Time `json:"expires_at"`
	Keys         KeyCounts  `json:"keys"`
	Damaged      bool       `json:"damaged,omitempty"`
	Damage       string     `json:"damage,omitempty"`
	DamagedSince *time.Time `json:"damaged_since,omitempty"`
}

// KeyCounts counts a database's API keys.
type KeyCounts struct {
	Total  int `json:"total"`
	Active int `json:"active"`
}

// Details describes one database.
func (c *Client) Details(ctx context.Context, name string) (*Details, error) {
	if err := need(name); err != nil {
		return nil, err
	}
	var out Details
	_, err := c.call(ctx, request{method: http.MethodGet, path: pathOf("admin", "databases", name), idempotent: true}, &out)
	return &out, err
}

// Delete removes the database, its keys and its data, for good.
func (c *Client) Delete(ctx context.Context, name string) (*Message, error) {
	if err := need(name); err != nil {
		return nil, err
	}
	var out Message
	_, err := c.call(ctx, request{method: http.MethodDelete, path: pathOf("admin", "databases", name), idempotent: true}, &out)
	return &out, err
}

// Integrity is the answer of an integrity check.
type Integrity struct {
	DBName   string   `json:"db_name"`
	OK       bool     `json:"ok"`
	Problems []string `json:"problems"`
}

// IntegrityCheck runs SQLite's integrity_check on the database.
func (c *Client) IntegrityCheck(ctx context.Context, name string) (*Integrity, error) {
	if err := need(name); err != nil {
		return nil, err
	}
	var out Integrity
	_, err := c.call(ctx, request{method: http.MethodPost, path: pathOf("admin", "databases", name, "integrity-check"),
		idempotent: true}, &out)
	return &out, err
}

// Key scopes.
const (
	ScopeReadOnly  = "read-only"
	ScopeReadWrite = "read-write"
)

// Key is an API key of a database. Token is set only in CreateKey's
// answer.
type Key struct {
	ID        string     `json:"id"`
	Token     string     `json:"key,omitempty"`
	Prefix    string     `json:"prefix"`
	DBName    string     `json:"db_name"`
	Scope     string     `json:"scope"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	Revoked   bool       `json:"revoked"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// CreateKey mints a key of the database: scope ScopeReadOnly or
// ScopeReadWrite, expiring after expiresIn (whole seconds; 0 never).
func (c *Client) CreateKey(ctx context.Context, db, scope string, expiresIn time.Duration) (*Key, error) {
	if err := need(db); err != nil {
		return nil, err
	}
	body := map[string]any{"scope": scope}
	if expiresIn > 0 {
		body["expires_in"] = seconds(expiresIn)
	}
	var out Key
	_, err := c.call(ctx, request{method: http.MethodPost, path: pathOf("admin", "databases", db, "keys"), json: body}, &out)
	return &out, err
}

// Keys lists the database's keys, revoked and expired ones included.
func (c *Client) Keys(ctx context.Context, db string) ([]Key, error) {
	if err := need(db); err != nil {
		return nil, err
	}
	var out []Key
	_, err := c.call(ctx, request{method: http.MethodGet, path: pathOf("admin", "databases", db, "keys"), idempotent: true}, &out)
	return out, err
}

// RevokeKey revokes a key at once (revoking a revoked key is fine).
func (c *Client) RevokeKey(ctx context.Context, db, id string) error {
	if err := need(db, id); err != nil {
		return err
	}
	_, err := c.call(ctx, request{method: http.MethodDelete, path: pathOf("admin", "databases", db, "keys", id), idempotent: true}, nil)
	return err
}

// Lease is the answer of SetLease.
type Lease struct {
	DBName    string     `json:"db_name"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// SetLease makes the database expire ttl from now (whole seconds,
// rounded up); ttl 0 removes its lease. Setting a lease again is
// harmless, so the call is retried like a read.
func (c *Client) SetLease(ctx context.Context, db string, ttl time.Duration) (*Lease, error) {
	if err := need(db); err != nil {
		return nil, err
	}
	body := map[string]any{"ttl": nil}
	if ttl > 0 {
		body["ttl"] = seconds(ttl)
	}
	var out Lease
	_, err := c.call(ctx, request{method: http.MethodPost, path: pathOf("admin", "databases", db, "lease"), json: body, idempotent: true}, &out)
	return &out, err
}

// Trashed is an expired database the trash holds.
type Trashed struct {
	Name      string    `json:"name"`
	ExpiredAt time.Time `json:"expired_at"`
	TrashedAt time.Time `json:"trashed_at"`
	PurgeAt   time.Time `json:"purge_at"`
	SizeBytes int64     `json:"size_bytes"`
}

// Trash lists the expired databases that can be restored.
func (c *Client) Trash(ctx context.Context) ([]Trashed, error) {
	var out []Trashed
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/admin/trash", idempotent: true}, &out)
	return out, err
}

// RestoreFromTrash brings an expired database back, with a new
// read-write key (Spawned.APIKey) and a new lease of ttl (0: none).
func (c *Client) RestoreFromTrash(ctx context.Context, name string, ttl time.Duration) (*Spawned, error) {
	if err := need(name); err != nil {
		return nil, err
	}
	r := request{method: http.MethodPost, path: pathOf("admin", "trash", name, "restore")}
	if ttl > 0 {
		r.json = map[string]any{"ttl": seconds(ttl)}
	}
	var out Spawned
	resp, err := c.call(ctx, r, &out)
	if err != nil {
		return nil, err
	}
	out.Created = resp.StatusCode == http.StatusCreated
	return &out, nil
}

// Health is the answer of GET /health (status "ok"). A failing check
// is an *Error (503 SERVICE_UNAVAILABLE).
type Health struct {
	Status  string         `json:"status"`
	Checks  map[string]any `json:"checks"`
	Version string         `json:"version"`
	UptimeS int64          `json:"uptime_s"`
	Damaged map[string]any `json:"damaged,omitempty"`
}

// Health asks the gateway whether it is ready.
func (c *Client) Health(ctx context.Context) (*Health, error) {
	var out Health
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/health", idempotent: true}, &out)
	return &out, err
}

// seconds is d in whole seconds, rounded up.
func seconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

func setIf(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

// Metrics returns the gateway's Prometheus exposition (GET /metrics,
// the admin key).
func (c *Client) Metrics(ctx context.Context) (string, error) {
	b, err := c.raw(ctx, "/metrics")
	return string(b), err
}

// OpenAPI returns the gateway's OpenAPI 3.1 document (GET /openapi.json,
// public).
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	return c.raw(ctx, "/openapi.json")
}

// raw GETs path and returns its body.
func (c *Client) raw(ctx context.Context, path string) ([]byte, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: path, idempotent: true})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
