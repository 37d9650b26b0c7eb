// Package diff compares a database with a checkpoint of it, or with
// another database, row by row: per table, the rows inserted, deleted and
// updated (matched by primary key, or rowid), with their values before
// and after, and the schema's changes.
//
// Both sides are read snapshots iterated together in key order (a merge
// join of two cursors): nothing of a table is held in memory but the two
// current rows, so a diff of two large tables that differ in a few rows
// costs two sequential scans. It knows no HTTP and no SQLite type; it
// declares the port it needs (Opener: a read snapshot of a live database
// or of a checkpoint's file).
package diff

import (
	"context"
	"fmt"
	"strings"

	"github.com/praetorian/db-forge/forge"
)

// Rows steps the rows of one statement.
type Rows interface {
	// Next steps to the next row: false at the end or on an error.
	Next() bool
	// Row is the current row, valid until the next Next or Close.
	Row() forge.Row
	// Columns are the statement's result columns.
	Columns() []string
	Err() error
	Close()
}

// Source is a read snapshot of one side of a diff. One Rows at a time.
type Source interface {
	// Query runs a statement that only reads, args bound by position.
	Query(sql string, args ...forge.Value) (Rows, error)
	Close()
}

// Opener opens the sides of a diff.
type Opener interface {
	// OpenDatabase is a snapshot of database db as it is now
	// (forge.ErrDatabaseNotFound when it does not exist).
	OpenDatabase(ctx context.Context, db string) (Source, error)
	// OpenCheckpoint is checkpoint name of database db
	// (forge.ErrCheckpointNotFound when it has none of that name).
	OpenCheckpoint(ctx context.Context, db, name string) (Source, error)
}

// Config are a Service's limits. Zero values take the defaults noted.
type Config struct {
	// DefaultLimit is the rows of a page when the query names none
	// (default 100); MaxLimit the most a query may ask (default 1,000).
	DefaultLimit, MaxLimit int
	// MaxBytes caps the values of one page, roughly (default 4 MiB): a
	// page ends after the row that reaches it.
	MaxBytes int
}

func (c Config) withDefaults() Config {
	if c.DefaultLimit <= 0 {
		c.DefaultLimit = 100
	}
	if c.MaxLimit <= 0 {
		c.MaxLimit = 1000
	}
	c.DefaultLimit = min(c.DefaultLimit, c.MaxLimit)
	if c.MaxBytes <= 0 {
		c.MaxBytes = 4 << 20
	}
	return c
}

// Service computes diffs.
type Service struct {
	o   Opener
	cfg Config
}

// New makes a Service.
func New(o Opener, cfg Config) *Service { return &Service{o: o, cfg: cfg.withDefaults()} }

// MaxLimit is the largest page a query may ask for.
func (s *Service) MaxLimit() int { return s.cfg.MaxLimit }

// Against kinds.
const (
	AgainstCheckpoint = "checkpoint"
	AgainstDB         = "db"
)

// ParseAgainst reads the "against" parameter: "checkpoint:<name>" or
// "db:<name>". The name is checked by whoever opens it.
func ParseAgainst(s string) (kind, name string, err error) {
	kind, name, ok := strings.Cut(s, ":")
	if !ok || name == "" || kind != AgainstCheckpoint && kind != AgainstDB {
		return "", "", invalid(`Query parameter "against" must be "checkpoint:<name>" or "db:<name>".`)
	}
	return kind, name, nil
}

// invalid is the client's mistake in a diff's query (400 INVALID_VALUE).
func invalid(format string, args ...any) error {
	return forge.Inputf("INVALID_VALUE", format, args...)
}

// Diff compares database db (after) with q's other side (before).
func (s *Service) Diff(ctx context.Context, db string, q forge.DiffQuery) (forge.Diff, error) {
	against := q.AgainstKind + ":" + q.AgainstName
	var pos position
	if q.Cursor != "" {
		if q.Summary {
			return forge.Diff{}, invalid(`A summary is one page: "cursor" is for pages of rows.`)
		}
		var err error
		if pos, err = DecodeCursor(q.Cursor, against); err != nil {
			return forge.Diff{}, err
		}
	}
	limit := q.Limit
	if limit <= 0 {
		limit = s.cfg.DefaultLimit
	}
	if limit > s.cfg.MaxLimit {
		return forge.Diff{}, invalid(`Query parameter "limit" must be from 1 to %d.`, s.cfg.MaxLimit)
	}
	if q.AgainstKind == AgainstDB && q.AgainstName == db {
		return forge.Diff{}, invalid("A database compared with itself has no changes: name a checkpoint or another database.")
	}
	after, err := s.o.OpenDatabase(ctx, db)
	if err != nil {
		return forge.Diff{}, err
	}
	defer after.Close()
	var before Source
	switch q.AgainstKind {
	case AgainstCheckpoint:
		before, err = s.o.OpenCheckpoint(ctx, db, q.AgainstName)
	case AgainstDB:
		before, err = s.o.OpenDatabase(ctx, q.AgainstName)
	default:
		err = invalid(`Query parameter "against" must be "checkpoint:<name>" or "db:<name>".`)
	}
	if err != nil {
		return forge.Diff{}, err
	}
	defer before.Close()
	r := &run{ctx: ctx, before: before, after: after, summary: q.Summary, limit: limit,
		maxBytes: s.cfg.MaxBytes, against: against, pos: pos}
	return r.diff()
}

// run is one diff's state.
type run struct {
	ctx           context.Context
	before, after Source
	summary       bool
	limit         int
	maxBytes      int
	against       string
	pos           position // where this page starts

	out       forge.Diff
	lastTable string        // the table of the last row listed (folded)
	lastKey   []forge.Value // and its key
	rows      int           // rows listed in this page
	bytes     int
	stopped   bool // the page is full
}

func (r *run) diff() (forge.Diff, error) {
	bs, err := readSchema(r.before)
	if err != nil {
		return forge.Diff{}, fmt.Errorf("diff: read the schema before: %w", err)
	}
	as, err := readSchema(r.after)
	if err != nil {
		return forge.Diff{}, fmt.Errorf("diff: read the schema now: %w", err)
	}
	if r.pos.table == "" {
		r.out.Schema = compareSchema(bs, as)
	}
	for _, name := range tableNames(bs, as) {
		if r.pos.table != "" && name < r.pos.table {
			continue
		}
		if err := r.ctx.Err(); err != nil {
			return forge.Diff{}, ctxError(err)
		}
		bt, at := bs.tables[name], as.tables[name]
		var resume []forge.Value
		if name == r.pos.table {
			resume = r.pos.key
		}
		if err := r.table(name, bt, at, resume); err != nil {
			return forge.Diff{}, err
		}
		if r.stopped {
			break
		}
	}
	return r.out, nil
}

func ctxError(err error) error {
	if err == context.DeadlineExceeded {
		return forge.ErrTimeout
	}
	return forge.ErrCanceled
}

// ParseAgainst is the package's ParseAgainst (the gateway's port).
func (s *Service) ParseAgainst(against string) (kind, name string, err error) {
	return ParseAgainst(against)
}
