// Package snapshot moves data in and out of databases and rewinds them:
// exports (a consistent copy of the file, or an SQL dump), imports (a
// database spawned from a SQLite file or an SQL script; CSV or an SQL
// script into a database), and checkpoints (named copies a database can be
// restored to). It knows no HTTP and imports forge and sqlbuild only; it
// declares the slices of the engine and of the data directory it needs
// (internal/app passes *wasm.Engine and *volumes.Layout). Why it is built
// so: DESIGN.md.
package snapshot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/sqlbuild"
)

// Engine is the slice of the SQL engine (package wasm's *Engine, through
// a small adapter) that copies and units of work need.
type Engine interface {
	// CopyTo writes a transactionally consistent copy of db to dest, a
	// rollback-journal file; export leaves out the bookkeeping tables.
	// Writers go on meanwhile.
	CopyTo(ctx context.Context, db, dest string, export bool) error
	// Scan is a read unit bounded by ctx only (a dump).
	Scan(ctx context.Context, db string, fn func(forge.Tx) error) error
	Read(ctx context.Context, db string, fn func(forge.Tx) error) error
	Write(ctx context.Context, db string, fn func(forge.Tx) error) error
	// Frozen calls fn with db's file while it alone holds the database
	// and no write can start; an error when the log cannot be folded in
	// at once.
	Frozen(ctx context.Context, db string, fn func(path string) error) error
	// Exclusive runs fn while db has no open connection and none can open.
	Exclusive(ctx context.Context, db string, fn func() error) error
	IntegrityCheck(ctx context.Context, db string) ([]string, error)
}

// FileStreamer is what an Engine may also do: give database db's file as
// of one snapshot, streamed from the live file without a scratch copy,
// the snapshot held until the reader is closed. ok false (and no error):
// it cannot for this database (bookkeeping tables to leave out, ...);
// ExportFile then copies.
type FileStreamer interface {
	StreamFile(ctx context.Context, db string) (r io.ReadCloser, size int64, ok bool, err error)
}

// Files is the slice of the data directory (package volumes' *Layout)
// that copies need.
type Files interface {
	Path(name string) (string, error)
	Exists(name string) (bool, error)
	CheckpointDir(name string) (string, error)
	ScratchDir() (string, error)
	// WriteSidecar replaces a small record beside database name.
	WriteSidecar(name, key string, data []byte) error
}

// Config are a Service's limits. Zero values take the defaults noted.
type Config struct {
	// MaxDBBytes is the largest database file an import may bring
	// (the engine's per-database quota); default 1 GiB.
	MaxDBBytes int64
	// MaxCheckpoints is the checkpoints a database may have, automatic
	// ones included; default 16.
	MaxCheckpoints int
	// MaxCheckpointBytes is the bytes its checkpoints may take in all;
	// default 4 GiB.
	MaxCheckpointBytes int64
	// MaxStatementBytes bounds one statement of an imported script
	// (the engine's SQL length limit); default 100,000.
	MaxStatementBytes int
	// Settle folds a database file's write-ahead log into it while no
	// connection is open (wasm.Settle); nil does nothing.
	Settle func(path string) error
	// Pacer, when set, paces exports (the file as it is sent, the SQL
	// dump as it is written) so that they give way to other requests.
	Pacer Pacer
}

func (c Config) withDefaults() Config {
	if c.MaxDBBytes <= 0 {
		c.MaxDBBytes = 1 << 30
	}
	if c.MaxCheckpoints <= 0 {
		c.MaxCheckpoints = 16
	}
	if c.MaxCheckpointBytes <= 0 {
		c.MaxCheckpointBytes = 4 << 30
	}
	if c.MaxStatementBytes <= 0 {
		c.MaxStatementBytes = 100_000
	}
	if c.Settle == nil {
		c.Settle = func(string) error { return nil }
	}
	return c
}

// Service runs exports, imports and checkpoints.
type Service struct {
	e   Engine
	f   Files
	cfg Config
	// locks orders the checkpoint operations of one database.
	locks forge.NameLocks
	// reflink: 0 not known yet, 1 the volume clones files, 2 it does not.
	reflink atomic.Int32
	seq     atomic.Uint64 // makes scratch names unique
}

// New makes a Service.
func New(e Engine, f Files, cfg Config) *Service {
	return &Service{e: e, f: f, cfg: cfg.withDefaults()}
}

// ExportFile makes a consistent copy of database db without its
// bookkeeping tables, and returns it open for reading with its size:
// the live file as of a snapshot held until the reader is closed, when
// the engine can (FileStreamer: a database without bookkeeping tables);
// else a scratch file already unlinked, which goes when the reader is
// closed, or with the process. Its WriteTo is paced (Config.Pacer) under
// ctx, which must therefore last until the reader is closed.
func (s *Service) ExportFile(ctx context.Context, db string) (io.ReadCloser, int64, error) {
	if fs, ok := s.e.(FileStreamer); ok {
		if r, size, ok, err := fs.StreamFile(ctx, db); ok || err != nil {
			if err != nil {
				return nil, 0, err
			}
			return s.paced(ctx, r), size, nil
		}
	}
	dir, err := s.f.ScratchDir()
	if err != nil {
		return nil, 0, err
	}
	tmp := filepath.Join(dir, "export-"+strconv.FormatInt(time.Now().UnixNano(), 36)+"-"+strconv.FormatUint(s.seq.Add(1), 36)+".db")
	if err := s.e.CopyTo(ctx, db, tmp, true); err != nil {
		return nil, 0, err
	}
	f, err := os.Open(tmp)
	_ = os.Remove(tmp)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, 0, err
	}
	return s.paced(ctx, f), fi.Size(), nil
}

// ExportSQL writes the SQL dump of database db (Dump) to w, from one
// snapshot; writers go on meanwhile. Its writes are paced
// (Config.Pacer).
func (s *Service) ExportSQL(ctx context.Context, db string, w io.Writer) error {
	if s.cfg.Pacer != nil {
		w = writerOnly{newPacedWriter(ctx, w, s.cfg.Pacer)}
	}
	return s.e.Scan(ctx, db, func(tx forge.Tx) error { return Dump(ctx, tx, w) })
}

// discard is a RowWriter that drops rows (a script's SELECT).
type discard struct{}

func (discard) Columns([]string) error { return nil }
func (discard) Row(forge.Row) error    { return nil }

// ImportSQL runs the SQL script body in database db, in one transaction
// under the SQL sandbox of every request: all of it or nothing. The
// script's own BEGIN and COMMIT are skipped; a failed statement is a
// forge.StatementError that says which (its index among the script's
// statements, from 0).
func (s *Service) ImportSQL(ctx context.Context, db string, body []byte) (forge.Imported, error) {
	var out forge.Imported
	err := s.e.Write(ctx, db, func(tx forge.Tx) error {
		out = forge.Imported{}
		sc := NewScript(body, s.cfg.MaxStatementBytes)
		for {
			stmt, ok, err := sc.Next()
			if err != nil {
				return err
			}
			if !ok {
				return nil
			}
			switch classify(stmt) {
			case stmtSkip:
				continue
			case stmtRollback:
				return forge.Inputf(forge.CodeInvalidSQLScript,
					"Statement %d is a ROLLBACK: the script says it failed (the sqlite3 shell ends a dump so after errors); nothing was imported.", sc.n-1)
			}
			if _, err := tx.Run(ctx, forge.Statement{SQL: stmt}, discard{}); err != nil {
				return &forge.StatementError{Index: sc.n - 1, Err: err}
			}
			out.Statements++
		}
	})
	return out, err
}

// ImportCSV inserts the records of the CSV body into table of database
// db, in one transaction: all of them or none. The header names the
// columns. A table that does not exist is created, with the types
// InferTypes states; into one that exists, each field is bound as text
// and the column's affinity converts it. An empty field is NULL.
func (s *Service) ImportCSV(ctx context.Context, db, table string, body []byte) (forge.Imported, error) {
	if err := sqlbuild.ValidateExistingIdentifier("table", table); err != nil {
		return forge.Imported{}, err
	}
	cols, _, err := InferTypes(body) // the whole body is checked before anything is written
	if err != nil {
		return forge.Imported{}, err
	}
	var out forge.Imported
	err = s.e.Write(ctx, db, func(tx forge.Tx) error {
		out = forge.Imported{Table: table}
		found := ""
		if _, err := tx.Run(ctx, forge.Statement{SQL: sqlbuild.TableInfoSQL,
			Params: forge.Params{Positional: []forge.Value{forge.TextValue(table)}}},
			rowFunc(func(r forge.Row) error {
				found = string(r.Text(1))
				return nil
			})); err != nil {
			return err
		}
		types := make([]string, len(cols)) // "": the table's affinity decides
		switch found {
		case "":
			if err := sqlbuild.ValidateNewIdentifier("table", table); err != nil {
				return err
			}
			if _, err := tx.Run(ctx, forge.Statement{SQL: createTable(table, cols)}, nil); err != nil {
				return err
			}
			for i, c := range cols {
				types[i] = c.Type
			}
			out.Created, out.Columns = true, cols
		case "table", "virtual":
		default:
			return forge.Inputf(forge.CodeInvalidCSV, "%q is a %s, not a table.", table, found)
		}
		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = c.Name
		}
		ins := sqlbuild.Insert(table, names)
		c, err := NewCSV(body)
		if err != nil {
			return err
		}
		params := make([]forge.Value, len(cols))
		for {
			rec, ok, err := c.Next()
			if err != nil {
				return err
			}
			if !ok {
				return nil
			}
			for i, v := range rec {
				params[i] = csvValue(v, types[i])
			}
			if _, err := tx.Run(ctx, forge.Statement{SQL: ins, Params: forge.Params{Positional: params}}, nil); err != nil {
				line, _ := c.r.FieldPos(0)
				var se *forge.SQLError
				if errors.As(err, &se) { // the answer's detail names the line
					return &forge.SQLError{Message: fmt.Sprintf("CSV line %d: %s", line, se.Message), Code: se.Code}
				}
				return fmt.Errorf("CSV line %d: %w", line, err)
			}
			out.Rows++
		}
	})
	return out, err
}

// createTable is the CREATE TABLE of a table a CSV import makes.
func createTable(table string, cols []forge.ColumnType) string {
	b := []byte("CREATE TABLE " + sqlbuild.Quote(table) + " (")
	for i, c := range cols {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, sqlbuild.Quote(c.Name)...)
		b = append(b, ' ')
		b = append(b, c.Type...)
	}
	return string(append(b, ')'))
}

// FillFromFile makes the new, empty database db (a spawn's, not used by
// anyone yet) the SQLite file body: the header is checked (ValidateFile),
// the file takes the database's place, and the engine opens it (with the
// gateway's journal mode, WAL) and runs integrity_check. The file's
// bookkeeping tables (forge.ReservedPrefix: an audit log, idempotency
// records — a file copied out of a data directory holds them) are
// dropped, as a branch's are: their rows would pass for this gateway's
// bookkeeping. Any other object with a reserved name (an index on a
// client table, a view, a trigger) is refused. On error the caller
// removes the database (the spawn is undone). Whatever the file's schema
// holds (triggers, views) runs under the SQL sandbox when used, as any
// client SQL.
func (s *Service) FillFromFile(ctx context.Context, db string, body []byte) error {
	if _, err := ValidateFile(body, int64(len(body)), s.cfg.MaxDBBytes); err != nil {
		return err
	}
	path, err := s.f.Path(db)
	if err != nil {
		return err
	}
	tmp := path + ".import"
	if err := writeFile(tmp, body); err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := s.e.Exclusive(ctx, db, func() error { return installFile(tmp, path) }); err != nil {
		return err
	}
	problems, err := s.e.IntegrityCheck(ctx, db)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return forge.Inputf(forge.CodeInvalidDatabaseFile, "Not a usable SQLite database file: integrity_check found %s", problems[0])
	}
	var tables bool
	if err := s.e.Read(ctx, db, func(tx forge.Tx) error {
		var reserved string
		_, err := tx.Run(ctx, forge.Statement{SQL: "SELECT type, name, tbl_name FROM sqlite_schema"}, rowFunc(func(r forge.Row) error {
			kind, name, table := string(r.Text(0)), string(r.Text(1)), string(r.Text(2))
			switch {
			case kind == "table" && forge.IsReserved(name):
				tables = true
			case forge.IsReserved(table) && kind == "index":
				// goes with its table
			case (forge.IsReserved(name) || forge.IsReserved(table)) && reserved == "":
				reserved = name
			}
			return nil
		}))
		if err == nil && reserved != "" {
			err = forge.Inputf(forge.CodeInvalidDatabaseFile,
				"The file's schema names %q: names beginning with %s are reserved to the gateway's bookkeeping.", reserved, forge.ReservedPrefix)
		}
		return err
	}); err != nil || !tables {
		return err
	}
	return s.e.Write(ctx, db, dropReserved(ctx))
}

// installFile makes the complete file tmp the database file path, in a
// callback of Exclusive (no connection open): the old file's log, shared
// memory and journal go, tmp takes its place by rename, and the directory
// is synced so that the rename lasts.
func installFile(tmp, path string) error {
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		_ = os.Remove(path + suffix)
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func writeFile(p string, data []byte) error {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o660)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		_ = os.Remove(p)
		return err
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// FillFromDatabase makes the new, empty database db (a spawn's, not
// used by anyone yet) a branch: a copy of database from as it is now, or
// of its checkpoint when checkpoint is not "". The copy is made as a
// checkpoint's is (a clone where the volume makes them, else the backup
// API; writers of from go on), the bookkeeping tables are dropped from it
// (they are from's), and the branch records its parent in its sidecar
// record "branch".
func (s *Service) FillFromDatabase(ctx context.Context, db, from, checkpoint string) error {
	if ok, err := s.f.Exists(from); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("branch from %s: %w", from, forge.ErrDatabaseNotFound)
	}
	path, err := s.f.Path(db)
	if err != nil {
		return err
	}
	tmp := path + ".branch"
	removeAll(tmp)
	defer removeAll(tmp)
	if checkpoint == "" {
		if err := s.copyLive(ctx, from, tmp); err != nil {
			return err
		}
	} else {
		if err := ValidateCheckpointName(checkpoint); err != nil {
			return err
		}
		dir, err := s.f.CheckpointDir(from)
		if err != nil {
			return err
		}
		unlock, err := s.locks.Lock(ctx, from)
		if err != nil {
			return err
		}
		recs, err := list(dir)
		if err == nil && !slices.ContainsFunc(recs, func(r record) bool { return r.Name == checkpoint }) {
			err = fmt.Errorf("checkpoint %s of %s: %w", checkpoint, from, forge.ErrCheckpointNotFound)
		}
		if err == nil {
			err = copyFile(filepath.Join(dir, checkpoint+".db"), tmp)
		}
		unlock()
		if err != nil {
			return err
		}
	}
	if err := s.e.Exclusive(ctx, db, func() error { return installFile(tmp, path) }); err != nil {
		return err
	}
	if err := s.e.Write(ctx, db, dropReserved(ctx)); err != nil {
		return err
	}
	rec, err := json.Marshal(map[string]any{"from": from, "checkpoint": checkpoint, "created_at": time.Now().UTC()})
	if err != nil {
		return err
	}
	return s.f.WriteSidecar(db, "branch", rec)
}

// dropReserved drops the bookkeeping tables (forge.ReservedPrefix) of the
// database the unit writes.
func dropReserved(ctx context.Context) func(forge.Tx) error {
	return func(tx forge.Tx) error {
		var names []string
		if _, err := tx.Run(ctx, forge.Statement{SQL: "SELECT name FROM sqlite_schema WHERE type = 'table'"},
			rowFunc(func(r forge.Row) error {
				if n := string(r.Text(0)); forge.IsReserved(n) {
					names = append(names, n)
				}
				return nil
			})); err != nil {
			return err
		}
		for _, n := range names {
			if _, err := tx.Run(ctx, forge.Statement{SQL: "DROP TABLE " + sqlbuild.Quote(n), Bookkeeping: true}, nil); err != nil {
				return err
			}
		}
		return nil
	}
}
