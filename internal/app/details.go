package app

import (
	"context"
	"errors"
	"io/fs"
	"os"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/gateway"
	"github.com/praetorian/db-forge/volumes"
	"github.com/praetorian/db-forge/wasm"
)

// details answers GET /admin/databases/{db_name} from the data directory
// (the files' sizes and times) and the engine (the tables, the last use).
type details struct {
	vol *volumes.Layout
	eng *wasm.Engine
}

// countTables counts a database's own tables: not views, not SQLite's,
// not DB-Forge's bookkeeping (forge.ReservedPrefix).
const countTables = `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name NOT LIKE '` +
	forge.ReservedPrefix + `%'`

func (d details) Details(ctx context.Context, name string) (gateway.DatabaseDetails, error) {
	path, err := d.vol.Resolve(name)
	if err != nil {
		return gateway.DatabaseDetails{}, err
	}
	var out gateway.DatabaseDetails
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return out, forge.ErrDatabaseNotFound
		}
		return out, err
	}
	out.FileBytes = fi.Size()
	modified := fi.ModTime()
	if wal, err := os.Stat(path + "-wal"); err == nil {
		out.WALBytes = wal.Size()
		if wal.ModTime().After(modified) {
			modified = wal.ModTime()
		}
	}
	out.LastUsedAt = modified
	if t, ok := d.eng.LastUsed(name); ok && t.After(modified) {
		out.LastUsedAt = t
	}
	var n oneInt
	if _, err := d.eng.Query(ctx, name, forge.Statement{SQL: countTables, ReadOnly: true}, &n); err != nil {
		return out, err
	}
	out.Tables = int(n.v)
	return out, nil
}

// oneInt keeps the first column of the last row.
type oneInt struct{ v int64 }

func (o *oneInt) Columns([]string) error { return nil }
func (o *oneInt) Row(r forge.Row) error  { o.v = r.Int(0); return nil }
