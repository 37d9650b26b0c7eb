package gateway

import (
	"bufio"
	"context"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/praetorian/db-forge/forge"
)

// Data that moves and time that rewinds (package snapshot): exports,
// imports, spawns from a file or a script, checkpoints. The routes are in
// the table of routes.go; this file holds their port, binders and
// handlers.

// Moves is the port of exports, imports and checkpoints (package
// snapshot's *Service).
type Moves interface {
	// ExportFile returns a consistent copy of db's file, open, and its size.
	ExportFile(ctx context.Context, db string) (io.ReadCloser, int64, error)
	// ExportSQL writes db's SQL dump to w.
	ExportSQL(ctx context.Context, db string, w io.Writer) error
	ImportSQL(ctx context.Context, db string, body []byte) (forge.Imported, error)
	ImportCSV(ctx context.Context, db, table string, body []byte) (forge.Imported, error)
	// FillFromFile makes a spawn's new, empty database the SQLite file body.
	FillFromFile(ctx context.Context, db string, body []byte) error
	// FillFromDatabase makes a spawn's new, empty database a copy of
	// database from (or of its checkpoint, when checkpoint is not "").
	FillFromDatabase(ctx context.Context, db, from, checkpoint string) error
	Checkpoints(ctx context.Context, db string) ([]forge.Checkpoint, error)
	CreateCheckpoint(ctx context.Context, db, name string) (forge.Checkpoint, error)
	// RestoreCheckpoint returns the automatic checkpoint of the state it replaced.
	RestoreCheckpoint(ctx context.Context, db, name string) (forge.Checkpoint, error)
	DeleteCheckpoint(ctx context.Context, db, name string) error
}

func hasMoves(s *Server) bool { return s.opts.Moves != nil }

// Media types of the routes.
const (
	mediaSQLite = "application/vnd.sqlite3"
	mediaSQL    = "application/sql"
	mediaCSV    = "text/csv"
)

// CodeUnsupportedMediaType: a body of a type the route does not take.
const CodeUnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"

func unsupportedMedia(detail string) *apiError {
	return newError(fasthttp.StatusUnsupportedMediaType, CodeUnsupportedMediaType, detail)
}

// mediaType is the request's Content-Type without parameters, lower
// case; an error when the body is encoded (Content-Encoding): a
// compressed body is refused, never inflated (no decompression bomb).
func mediaType(rc *fasthttp.RequestCtx) (string, error) {
	if enc := strings.TrimSpace(string(rc.Request.Header.Peek(fasthttp.HeaderContentEncoding))); enc != "" && !strings.EqualFold(enc, "identity") {
		return "", unsupportedMedia("Content-Encoding " + strconv.Quote(enc) + " is not accepted: send the body as it is.")
	}
	ct := string(rc.Request.Header.ContentType())
	ct, _, _ = strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(ct)), nil
}

// spawnSource is what a spawn makes its database from.
type spawnSource uint8

const (
	spawnEmpty  spawnSource = iota // the seed's spawn: an empty database
	spawnFile                      // a SQLite file (application/vnd.sqlite3)
	spawnScript                    // an SQL script (application/sql)
	spawnBranch                    // a copy of another database: {"from": …, "checkpoint": …}
)

// spawnSourceOf is the spawn's source by its Content-Type: the two media
// types of imports; a JSON object with a "from" member, a branch (its
// parent and checkpoint); anything else (none, other JSON, ...) is the
// seed's spawn, whose body is ignored as it always was. A JSON object
// with "from" or "ttl" is read strictly (decodeSpawnBody).
func spawnSourceOf(rc *fasthttp.RequestCtx) (src spawnSource, parent, checkpoint string, ttl time.Duration, err error) {
	mt, err := mediaType(rc)
	if err != nil {
		return spawnEmpty, "", "", 0, err
	}
	switch mt {
	case mediaSQLite, "application/x-sqlite3":
		return spawnFile, "", "", 0, nil
	case mediaSQL:
		return spawnScript, "", "", 0, nil
	case "", "application/json":
		return decodeSpawnBody(rc.PostBody())
	}
	return spawnEmpty, "", "", 0, nil
}

// decodeSpawnBody reads a spawn's JSON body: {"from": "<db>",
// "checkpoint": "<name>" | null} asks for a branch, {"ttl": seconds |
// null} for a lease (with or without "from"); such a body is read
// strictly. A body with neither member (or not JSON at all) is ignored,
// as the seed's spawn always ignored its body.
func decodeSpawnBody(body []byte) (spawnSource, string, string, time.Duration, error) {
	if len(body) == 0 {
		return spawnEmpty, "", "", 0, nil
	}
	v, err := parseJSON(body)
	if err != nil || v.kind != jObject || !slices.ContainsFunc(v.obj, func(m jmember) bool { return m.key == "from" || m.key == "ttl" }) {
		return spawnEmpty, "", "", 0, nil
	}
	src := spawnEmpty
	var parent, checkpoint string
	var ttl time.Duration
	for _, m := range v.obj {
		switch m.key {
		case "from":
			if m.val.kind != jString {
				return spawnEmpty, "", "", 0, invalidShape("Field \"from\" must be a database name, not %s.", m.val.kind)
			}
			if err := forge.ValidateName(m.val.s); err != nil {
				return spawnEmpty, "", "", 0, err
			}
			src, parent = spawnBranch, m.val.s
		case "checkpoint":
			switch m.val.kind {
			case jNull:
			case jString:
				checkpoint = m.val.s
				if checkpoint == "" {
					return spawnEmpty, "", "", 0, forge.Inputf(forge.CodeInvalidCheckpoint, `Field "checkpoint" is empty: name a checkpoint, or leave the field out to copy the database as it is now.`)
				}
			default:
				return spawnEmpty, "", "", 0, invalidShape("Field \"checkpoint\" must be a string, not %s.", m.val.kind)
			}
		case "ttl":
			if ttl, err = decodeTTL(m.val); err != nil {
				return spawnEmpty, "", "", 0, err
			}
		default:
			return spawnEmpty, "", "", 0, unknownField("the spawn body", m.key)
		}
	}
	if src != spawnBranch && checkpoint != "" {
		return spawnEmpty, "", "", 0, invalidShape(`Field "checkpoint" names a checkpoint of the database in "from": give "from" with it.`)
	}
	return src, parent, checkpoint, ttl, nil
}

// spawnFrom runs a spawn from a file or a script.
func (s *Server) spawnFrom(ctx context.Context, rc *fasthttp.RequestCtx, req spawnRequest) error {
	if s.opts.Moves == nil {
		return unsupportedMedia("This gateway does not import databases.")
	}
	body := rc.PostBody()
	fill := func(ctx context.Context) error { return s.opts.Moves.FillFromFile(ctx, req.db, body) }
	switch req.source {
	case spawnScript:
		fill = func(ctx context.Context) error {
			_, err := s.opts.Moves.ImportSQL(ctx, req.db, body)
			return err
		}
	case spawnBranch:
		fill = func(ctx context.Context) error {
			return s.opts.Moves.FillFromDatabase(ctx, req.db, req.parent, req.checkpoint)
		}
	}
	sp, err := s.life.SpawnLeased(ctx, req.db, req.ttl, fill)
	if err != nil {
		return err
	}
	fields := []string{"db_name", req.db, "container_id", sp.Instance.ContainerID}
	if sp.Key != nil {
		fields = append(fields, "api_key", sp.Key.Reveal())
	}
	if req.source == spawnBranch {
		fields = append(fields, "from", req.parent)
		if req.checkpoint != "" {
			fields = append(fields, "checkpoint", req.checkpoint)
		}
	}
	if !sp.ExpiresAt.IsZero() {
		fields = append(fields, "expires_at", sp.ExpiresAt.UTC().Format(time.RFC3339))
	}
	writeJSON(rc, fasthttp.StatusCreated, messageBody("Database instance spawned successfully.", fields...))
	return nil
}

// exportRequest: GET /api/db/{db_name}/export?format=sqlite|sql.
type exportRequest struct {
	db     string
	format string
}

func bindExport(rc *fasthttp.RequestCtx) (exportRequest, error) {
	db, err := dbName(rc)
	if err != nil {
		return exportRequest{}, err
	}
	req := exportRequest{db: db, format: "sqlite"}
	var bad error
	rc.QueryArgs().VisitAll(func(k, v []byte) {
		switch string(k) {
		case "format":
			switch string(v) {
			case "sqlite", "sql":
				req.format = string(v)
			default:
				bad = invalidValue(`Query parameter "format" must be "sqlite" or "sql".`)
			}
		default:
			if bad == nil {
				bad = invalidValue("Unknown query parameter %q; the export takes \"format\".", string(k))
			}
		}
	})
	return req, bad
}

// exportContext is the context of an export's work: the export timeout,
// under the server's context (not the request's query timeout: a large
// database takes longer than a query).
func (s *Server) exportContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.base, s.opts.ExportTimeout)
}

// export answers with a copy of the database: the file, its snapshot
// taken before the answer starts (so a failure is a plain error answer)
// and streamed from the live file under that snapshot, or from a scratch
// copy when the database has bookkeeping tables to leave out; or the SQL dump, streamed as it is made from one
// snapshot (a failure after the first byte ends the dump with a comment
// and without its COMMIT, so that it replays nothing).
func (s *Server) export(_ context.Context, rc *fasthttp.RequestCtx, req exportRequest) error {
	rc.Response.Header.Set("Cache-Control", "no-store")
	if req.format == "sqlite" {
		// The context lasts until the answer is sent: the stream's pacing
		// waits under it.
		ctx, cancel := s.exportContext()
		f, size, err := s.opts.Moves.ExportFile(ctx, req.db)
		if err != nil {
			cancel()
			return err
		}
		rc.SetStatusCode(fasthttp.StatusOK)
		rc.SetContentType(mediaSQLite)
		rc.Response.Header.Set("Content-Disposition", `attachment; filename="`+req.db+`.db"`)
		// Closed by fasthttp once sent (or failed): the snapshot ends.
		rc.SetBodyStream(&closeThen{ReadCloser: f, then: cancel}, int(size))
		return nil
	}
	if s.opts.Databases != nil {
		if ok, err := s.opts.Databases.Exists(req.db); err != nil {
			return err
		} else if !ok {
			return forge.ErrDatabaseNotFound
		}
	}
	db, log, id := req.db, s.log, requestID(rc)
	rc.SetStatusCode(fasthttp.StatusOK)
	rc.SetContentType(mediaSQL + "; charset=utf-8")
	rc.Response.Header.Set("Content-Disposition", `attachment; filename="`+req.db+`.sql"`)
	rc.SetBodyStreamWriter(func(w *bufio.Writer) {
		ctx, cancel := s.exportContext()
		defer cancel()
		if err := s.opts.Moves.ExportSQL(ctx, db, w); err != nil {
			log.Warn("sql export failed", zap.String("request_id", id), zap.String("db", db), zap.Error(err))
			_, _ = w.WriteString("\n-- export failed: " + strings.ReplaceAll(toAPIError(err).detail, "\n", " ") + "\n")
		}
	})
	return nil
}

// importRequest: POST /api/db/{db_name}/import (text/csv with ?table=,
// or application/sql).
type importRequest struct {
	db, table string
	csv       bool
}

func bindImport(rc *fasthttp.RequestCtx) (importRequest, error) {
	db, err := dbName(rc)
	if err != nil {
		return importRequest{}, err
	}
	mt, err := mediaType(rc)
	if err != nil {
		return importRequest{db: db}, err
	}
	req := importRequest{db: db}
	var bad error
	rc.QueryArgs().VisitAll(func(k, v []byte) {
		if string(k) == "table" {
			req.table = string(v)
		} else if bad == nil {
			bad = invalidValue("Unknown query parameter %q; the import takes \"table\".", string(k))
		}
	})
	if bad != nil {
		return req, bad
	}
	switch mt {
	case mediaCSV:
		req.csv = true
		if req.table == "" {
			return req, invalidShape(`A CSV import needs the query parameter "table": the table its rows go into.`)
		}
	case mediaSQL:
		if req.table != "" {
			return req, invalidValue(`An SQL script names its own tables: "table" is for CSV imports.`)
		}
	default:
		return req, unsupportedMedia(`Content-Type must be "text/csv" (with ?table=) or "application/sql".`)
	}
	return req, nil
}

// importData runs an import in one transaction.
func (s *Server) importData(ctx context.Context, rc *fasthttp.RequestCtx, req importRequest) error {
	if !req.csv {
		out, err := s.opts.Moves.ImportSQL(ctx, req.db, rc.PostBody())
		if err != nil {
			return err
		}
		b := []byte(`{"message":"Import completed.","statements":`)
		b = strconv.AppendInt(b, out.Statements, 10)
		writeJSON(rc, fasthttp.StatusOK, append(b, '}'))
		return nil
	}
	out, err := s.opts.Moves.ImportCSV(ctx, req.db, req.table, rc.PostBody())
	if err != nil {
		return err
	}
	b := []byte(`{"message":"Import completed.","table":`)
	b = appendString(b, out.Table)
	b = append(b, `,"created":`...)
	b = strconv.AppendBool(b, out.Created)
	b = append(b, `,"rows_affected":`...)
	b = strconv.AppendInt(b, out.Rows, 10)
	if out.Created {
		b = append(b, `,"columns":[`...)
		for i, c := range out.Columns {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = appendString(b, c.Name)
			b = append(b, `,"type":`...)
			b = appendString(b, c.Type)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	writeJSON(rc, fasthttp.StatusOK, append(b, '}'))
	return nil
}

// checkpointRequest: the checkpoint routes; name from the body (create,
// optional) or the path.
type checkpointRequest struct{ db, name string }

func bindCreateCheckpoint(rc *fasthttp.RequestCtx) (checkpointRequest, error) {
	db, err := dbName(rc)
	if err != nil {
		return checkpointRequest{}, err
	}
	req := checkpointRequest{db: db}
	body := rc.PostBody()
	if len(strings.TrimSpace(string(body))) == 0 {
		return req, nil
	}
	v, err := parseBody(body)
	if err != nil {
		return req, err
	}
	for _, m := range v.obj {
		switch m.key {
		case "name":
			switch m.val.kind {
			case jNull:
			case jString:
				if m.val.s == "" {
					return req, forge.Inputf(forge.CodeInvalidCheckpoint, `Field "name" is empty: give a name, or leave the field out for one made of the time.`)
				}
				req.name = m.val.s
			default:
				return req, invalidShape("Field \"name\" must be a string, not %s.", m.val.kind)
			}
		default:
			return req, unknownField("the checkpoint body", m.key)
		}
	}
	return req, nil
}

func bindCheckpoint(rc *fasthttp.RequestCtx) (checkpointRequest, error) {
	db, err := dbName(rc)
	name, _ := rc.UserValue("checkpoint").(string)
	return checkpointRequest{db: db, name: name}, err
}

func appendCheckpoint(b []byte, c forge.Checkpoint) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, c.Name)
	b = append(b, `,"created_at":"`...)
	b = c.CreatedAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","size_bytes":`...)
	b = strconv.AppendInt(b, c.SizeBytes, 10)
	b = append(b, `,"auto":`...)
	b = strconv.AppendBool(b, c.Auto)
	return append(b, '}')
}

func (s *Server) createCheckpoint(ctx context.Context, rc *fasthttp.RequestCtx, req checkpointRequest) error {
	c, err := s.opts.Moves.CreateCheckpoint(ctx, req.db, req.name)
	if err != nil {
		return err
	}
	writeJSON(rc, fasthttp.StatusCreated, appendCheckpoint(nil, c))
	return nil
}

func (s *Server) listCheckpoints(ctx context.Context, rc *fasthttp.RequestCtx, req dbRequest) error {
	cs, err := s.opts.Moves.Checkpoints(ctx, req.db)
	if err != nil {
		return err
	}
	b := []byte(`{"checkpoints":[`)
	for i, c := range cs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCheckpoint(b, c)
	}
	writeJSON(rc, fasthttp.StatusOK, append(b, "]}"...))
	return nil
}

func (s *Server) restoreCheckpoint(ctx context.Context, rc *fasthttp.RequestCtx, req checkpointRequest) error {
	undo, err := s.opts.Moves.RestoreCheckpoint(ctx, req.db, req.name)
	if err != nil {
		return err
	}
	b := messageBody("Database restored to the checkpoint.", "db_name", req.db, "checkpoint", req.name)
	b = append(b[:len(b)-1], `,"undo_checkpoint":`...)
	b = appendCheckpoint(b, undo)
	writeJSON(rc, fasthttp.StatusOK, append(b, '}'))
	return nil
}

func (s *Server) deleteCheckpoint(ctx context.Context, rc *fasthttp.RequestCtx, req checkpointRequest) error {
	if err := s.opts.Moves.DeleteCheckpoint(ctx, req.db, req.name); err != nil {
		return err
	}
	writeJSON(rc, fasthttp.StatusOK, messageBody("Checkpoint deleted.", "db_name", req.db, "checkpoint", req.name))
	return nil
}

// closeThen is an export's body: its reader, sent by the reader's
// WriterTo (or by the connection's ReadFrom for a file: sendfile), and a
// function run once it is closed.
type closeThen struct {
	io.ReadCloser
	then func()
}

func (c *closeThen) WriteTo(w io.Writer) (int64, error) {
	if f, ok := c.ReadCloser.(*os.File); ok {
		if rf, ok := w.(io.ReaderFrom); ok {
			return rf.ReadFrom(f)
		}
	}
	if wt, ok := c.ReadCloser.(io.WriterTo); ok {
		return wt.WriteTo(w)
	}
	return io.Copy(w, c.ReadCloser)
}

func (c *closeThen) Close() error {
	err := c.ReadCloser.Close()
	c.then()
	return err
}
