// Package ceiling is what the ceiling programs share: the same SQLite
// engine the gateway runs (ncruces/go-sqlite3 on wazero, same memory cap,
// WAL, synchronous=NORMAL), the benchmark table, and the bare point SELECT
// and INSERT, with none of the gateway's generality.
package ceiling

import (
	"fmt"
	"strconv"
	"time"

	"github.com/ncruces/go-sqlite3"
	_ "github.com/ncruces/go-sqlite3/embed" // the SQLite wasm binary
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/praetorian/db-forge/bench"
)

// The scenarios' statements, shared with the load generator.
const (
	CreateSQL = bench.CreateSQL
	SeedSQL   = bench.SeedSQL
	SelectSQL = bench.SelectSQL
	InsertSQL = bench.InsertSQL
)

// Init starts the process's wasm runtime as the gateway does: 256 MiB of
// linear memory per instance, core features v2, and a compilation cache
// in cacheDir ("" for none).
func Init(cacheDir string) error {
	cfg := wazero.NewRuntimeConfig().WithMemoryLimitPages(4096).WithCoreFeatures(api.CoreFeaturesV2)
	if cacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(cacheDir)
		if err != nil {
			return err
		}
		cfg = cfg.WithCompilationCache(cache)
	}
	sqlite3.RuntimeConfig = cfg
	return sqlite3.Initialize()
}

// Open opens (creating) the database at path in WAL mode with
// synchronous=NORMAL and a 5 s busy timeout, like the gateway's connections.
func Open(path string) (*sqlite3.Conn, error) {
	db, err := sqlite3.Open(path)
	if err != nil {
		return nil, err
	}
	if err := db.BusyTimeout(5 * time.Second); err != nil {
		return nil, err
	}
	if err := db.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// Seed creates kv with ids 1..rows if it is empty.
func Seed(db *sqlite3.Conn, rows int) error {
	if err := db.Exec(CreateSQL); err != nil {
		return err
	}
	st, _, err := db.Prepare("SELECT count(*) FROM kv")
	if err != nil {
		return err
	}
	st.Step()
	n := st.ColumnInt(0)
	_ = st.Close()
	if n > 0 {
		return nil
	}
	st, _, err = db.Prepare(SeedSQL)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.BindInt(1, rows); err != nil {
		return err
	}
	return st.Exec()
}

// Point is one connection with the scenario's statements prepared once.
type Point struct {
	db     *sqlite3.Conn
	sel    *sqlite3.Stmt
	ins    *sqlite3.Stmt
	begin  *sqlite3.Stmt
	commit *sqlite3.Stmt
}

// NewPoint prepares the statements on db.
func NewPoint(db *sqlite3.Conn) (*Point, error) {
	p := &Point{db: db}
	for _, s := range []struct {
		sql string
		dst **sqlite3.Stmt
	}{{SelectSQL, &p.sel}, {InsertSQL, &p.ins}, {"BEGIN IMMEDIATE", &p.begin}, {"COMMIT", &p.commit}} {
		st, _, err := db.Prepare(s.sql)
		if err != nil {
			return nil, fmt.Errorf("prepare %q: %w", s.sql, err)
		}
		*s.dst = st
	}
	return p, nil
}

// SelectJSON runs the point SELECT for id and appends the row to b as the
// gateway's JSON answer, {"data":[{...}],"rows_affected":1}.
func (p *Point) SelectJSON(b []byte, id int64) ([]byte, error) {
	defer p.sel.Reset()
	if err := p.sel.BindInt64(1, id); err != nil {
		return b, err
	}
	b = append(b, `{"data":[`...)
	n := 0
	for p.sel.Step() {
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, p.sel.ColumnInt64(0), 10)
		b = append(b, `,"name":"`...)
		b = append(b, p.sel.ColumnRawText(1)...) // "name-N": nothing to escape
		b = append(b, `","score":`...)
		b = strconv.AppendFloat(b, p.sel.ColumnFloat(2), 'f', -1, 64)
		b = append(b, '}')
		n++
	}
	b = append(b, `],"rows_affected":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, '}')
	return b, p.sel.Err()
}

// Select runs the point SELECT for id and reads the row's values, without
// encoding them: the engine's own cost.
func (p *Point) Select(id int64) (sum int, err error) {
	defer p.sel.Reset()
	if err := p.sel.BindInt64(1, id); err != nil {
		return 0, err
	}
	for p.sel.Step() {
		sum += int(p.sel.ColumnInt64(0)) + len(p.sel.ColumnRawText(1)) + int(p.sel.ColumnFloat(2))
	}
	return sum, p.sel.Err()
}

// Insert inserts one row (autocommit when outside a transaction).
func (p *Point) Insert(name string, score float64) error {
	defer p.ins.Reset()
	if err := p.ins.BindText(1, name); err != nil {
		return err
	}
	if err := p.ins.BindFloat(2, score); err != nil {
		return err
	}
	return p.ins.Exec()
}

// InsertBatch inserts n rows in one transaction, as the rows route does.
func (p *Point) InsertBatch(n int) error {
	if err := p.begin.Exec(); err != nil {
		return err
	}
	_ = p.begin.Reset()
	for i := range n {
		if err := p.Insert("bulk", float64(i)*0.5); err != nil {
			_ = p.db.Exec("ROLLBACK")
			return err
		}
	}
	err := p.commit.Exec()
	_ = p.commit.Reset()
	return err
}

// Close finalizes the statements and closes the connection.
func (p *Point) Close() error {
	for _, st := range []*sqlite3.Stmt{p.sel, p.ins, p.begin, p.commit} {
		_ = st.Close()
	}
	return p.db.Close()
}
