// Package idem runs writes under idempotency keys, above the engine's
// units of work: the first completed answer to a request is recorded in
// the database it wrote, in the same transaction as its write, so that a
// retry with the same key gets that answer again and writes nothing. The
// records live in a bookkeeping table of each database (Table), which
// client SQL cannot touch (the sandbox refuses forge.ReservedPrefix).
//
// A record's unit shares group commit with other writes (the engine's
// WriteShared); a key known to have no record is not looked up (known.go);
// a request that only reads records nothing (DoRead); records are stored
// compactly (compact.go), in time order without a per-key index: the
// in-memory key set says where a key's record is (known.go).
//
// It knows the engine only through the Engine interface it declares, and
// knows no HTTP: an answer is a status, a content type and a body that the
// caller made.
package idem

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// LogTable is the bookkeeping table of idempotency records, created in a
// database by its first idempotent write. Its rows are in time order by
// their id (the rowid, given by this service), and it has no index on the
// key: an index entry per record landed in its own leaf of the key's
// B-tree and cost a keyed write more than the record itself. A key's
// record is found through the key set in memory (known.go), which maps a
// key to its record's id; while that set is not complete (being loaded,
// or past maxKnown keys) a key is looked up by a scan from the newest
// record back, which an index on the key (made once a database passes
// maxKnown keys) turns into a seek.
const LogTable = forge.ReservedPrefix + "idempotency_log"

// Table is the records table before LogTable (a primary key on the key):
// still read, never written. Its records expire as the TTL says; the
// table stays until the database is deleted.
const Table = forge.ReservedPrefix + "idempotency"

// DefaultTTL is how long a record is kept: a retry later than that runs
// anew.
const DefaultTTL = 24 * time.Hour

// Expired records are deleted by a write at most once per expirePeriod
// per database (a DELETE in every write cost as much as the record): up
// to twice the records added since the last time, and at least
// expireMin, at most expireMax, so that no write pays for a large backlog
// and the table keeps to about the records of one TTL.
const (
	expirePeriod = time.Second
	expireMin    = 16
	expireMax    = 4096
)

// The engine's own statements on the tables (forge.Statement.Bookkeeping).
const (
	// A record's row is its id, its key (scope, a NUL, key: storedKey),
	// its request hash and answer in one BLOB (packRecord), and its time:
	// each bound value costs the INSERT at commit a copy into SQLite's
	// memory, so few of them.
	createLog = "CREATE TABLE IF NOT EXISTS " + LogTable + " (" +
		"id INTEGER PRIMARY KEY, k BLOB NOT NULL, rec BLOB NOT NULL, created_at INTEGER NOT NULL)"
	// createLogIndex: for a database past maxKnown keys.
	createLogIndex = "CREATE INDEX IF NOT EXISTS " + LogTable + "_k ON " + LogTable + " (k)"
	selectByID     = "SELECT k, rec FROM " + LogTable + " WHERE id = ?1 AND created_at >= ?2"
	selectByKey    = "SELECT k, rec FROM " + LogTable + " WHERE k = ?1 AND created_at >= ?2 ORDER BY id DESC LIMIT 1"
	selectLegacy   = "SELECT key_scope, key, request_hash, status, content_type, body FROM " + Table +
		" WHERE key_scope = ?1 AND key = ?2 AND created_at >= ?3"
	selectMaxID = "SELECT coalesce(max(id), 0) FROM " + LogTable
	insertOne   = insertHead + "(?1, ?2, ?3, ?4)"
	// insertHead is insertOne up to its values, for atCommitInserter.
	insertHead = "INSERT INTO " + LogTable +
		" (id, k, rec, created_at) VALUES "
	// Records are added in time order, so ids are too: the oldest are
	// the first ids, and the expired ones among the first ?2 go.
	expire = "DELETE FROM " + LogTable + " WHERE id IN (SELECT id FROM " + LogTable +
		" ORDER BY id LIMIT ?2) AND created_at < ?1"
)

// Engine runs units of work on databases by name (package wasm's Engine).
type Engine interface {
	// WriteShared runs a write unit that may share its transaction (and
	// its commit) with other writes; fn may be called more than once.
	WriteShared(ctx context.Context, db string, fn func(forge.Tx) error) error
	// Read runs a unit that may only read, on a snapshot.
	Read(ctx context.Context, db string, fn func(forge.Tx) error) error
}

// atCommitInserter is what a write unit's Tx of package wasm offers to
// insert a row of bookkeeping with its transaction's commit: in a unit
// that shares group commit, all the group's records go in one INSERT just
// before the COMMIT, instead of one INSERT in each unit's savepoint; in
// any other unit the INSERT runs at once. Either way the record commits
// with its write or not at all. A Tx without it gets the plain INSERT.
type atCommitInserter interface {
	InsertAtCommit(ctx context.Context, head string, vals []forge.Value) error
}

// Service runs idempotent writes. Its in-progress set is the process's:
// after a restart nothing is in progress, and the records on disk say
// what was answered.
type Service struct {
	e   Engine
	ttl time.Duration
	now func() time.Time

	runMu   sync.Mutex
	running map[claimID]struct{} // the requests in flight

	mu  sync.RWMutex
	dbs map[string]*dbState // per database (one small entry each, kept)
}

// claimID names a request in flight: its database, scope and key.
type claimID struct{ db, scope, key string }

// dbState is what the service knows of one database's records.
type dbState struct {
	// expired is when its expired records were last deleted, added how
	// many records were added since.
	expired time.Time
	added   int
	// nextID is the id of its next record; 0: not read yet from LogTable
	// (which a unit that reads it makes if it is not there).
	nextID int64
	// wantIndex: past maxKnown keys, LogTable needs its key index; made
	// by the next record's unit (indexed).
	wantIndex, indexed bool
	// legacyAbsent: a look-up found no Table (which nothing makes now).
	legacyAbsent bool
	// known: the keys that may have a record, and where (known.go).
	known known
}

// New returns the service over e, keeping records for ttl (0: DefaultTTL).
func New(e Engine, ttl time.Duration) *Service {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Service{e: e, ttl: ttl, now: time.Now, running: make(map[claimID]struct{}), dbs: make(map[string]*dbState)}
}

// Claim marks k as in progress on db until release is called:
// forge.ErrIdempotencyInProgress if it already is. Do claims for itself;
// a route whose answer is not recorded in a database (spawn) claims alone.
func (s *Service) Claim(db string, k forge.IdempotencyKey) (release func(), err error) {
	id, err := s.claim(db, k)
	if err != nil {
		return nil, err
	}
	return func() { s.unclaim(id) }, nil
}

func (s *Service) claim(db string, k forge.IdempotencyKey) (claimID, error) {
	id := claimID{db, k.Scope, k.Key}
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if _, ok := s.running[id]; ok {
		return claimID{}, forge.ErrIdempotencyInProgress
	}
	s.running[id] = struct{}{}
	return id, nil
}

func (s *Service) unclaim(id claimID) {
	s.runMu.Lock()
	delete(s.running, id)
	s.runMu.Unlock()
}

// Do runs fn once for k on db, in one write unit with the record of its
// answer:
//
//   - a record of k within the TTL with the same request hash: its answer,
//     replayed = true, and fn does not run;
//   - a record with another hash: forge.ErrIdempotencyKeyReused;
//   - k in progress in this process: forge.ErrIdempotencyInProgress;
//   - otherwise fn runs; the answer it returns is recorded in the same
//     transaction as fn's statements (a zero Answer: nothing to record, as
//     for a statement that only read). When fn fails, its unit rolls back;
//     an answer it returns with its error (a completed answer that says
//     what the database holds, such as a constraint's refusal) is then
//     recorded in a small unit of its own, and the error returned.
func (s *Service) Do(ctx context.Context, db string, k forge.IdempotencyKey,
	fn func(forge.Tx) (forge.Answer, error),
) (a forge.Answer, replayed bool, err error) {
	id, err := s.claim(db, k)
	if err != nil {
		return forge.Answer{}, false, err
	}
	defer s.unclaim(id)
	return s.do(ctx, db, k, fn)
}

// do is Do once k is claimed.
func (s *Service) do(ctx context.Context, db string, k forge.IdempotencyKey,
	fn func(forge.Tx) (forge.Answer, error),
) (forge.Answer, bool, error) {
	u := &writeUnit{s: s, ctx: ctx, db: db, k: k, fn: fn}
	u.may, u.at = s.mayHave(ctx, db, k)
	err := s.e.WriteShared(ctx, db, u.run)
	if err != nil {
		if u.failed.Status != 0 && ctx.Err() == nil {
			// Best effort: without the record a retry runs again, which
			// for an answer that wrote nothing is the same.
			may, at := s.mayHave(ctx, db, k)
			_ = s.e.WriteShared(ctx, db, func(tx forge.Tx) error {
				if may {
					if _, found, err := s.find(ctx, tx, db, k, at); err != nil || found {
						return err
					}
				}
				return s.insert(ctx, tx, db, k, u.failed)
			})
		}
		return forge.Answer{}, false, err
	}
	return u.a, u.replayed, nil
}

// writeUnit is do's unit of work and what it found (one allocation for
// all that its callback keeps).
type writeUnit struct {
	s   *Service
	ctx context.Context
	db  string
	k   forge.IdempotencyKey
	fn  func(forge.Tx) (forge.Answer, error)
	may bool  // k may have a record,
	at  int64 // there (known.go)
	// a and replayed: the answer; failed: fn's answer with its error.
	a, failed forge.Answer
	replayed  bool
}

func (u *writeUnit) run(tx forge.Tx) error {
	u.a, u.replayed, u.failed = forge.Answer{}, false, forge.Answer{} // a unit may run twice
	if u.may {
		rec, found, err := u.s.find(u.ctx, tx, u.db, u.k, u.at)
		if err != nil {
			return err
		}
		if found {
			if !bytes.Equal(rec.hash, u.k.Hash[:]) {
				return forge.ErrIdempotencyKeyReused
			}
			u.a, u.replayed = rec.Answer, true
			return nil
		}
	}
	ans, err := u.fn(tx)
	if err != nil {
		u.failed = ans
		return err
	}
	if ans.Status == 0 {
		return nil
	}
	if err := u.s.insert(u.ctx, tx, u.db, u.k, ans); err != nil {
		return err
	}
	u.a = ans
	return nil
}

// DoRead is Do for a request that may only read. read is tried first on
// a read unit (a snapshot on a reader, beside the writer's queue):
//
//   - a record of k (a key first used for a write, or for a failure that
//     was recorded): replayed or forge.ErrIdempotencyKeyReused, as Do;
//   - k in progress: forge.ErrIdempotencyInProgress, as Do;
//   - otherwise read's answer, or its error, recorded nowhere: a read has
//     nothing to repeat, and a retry reads again.
//
// read returns forge.ErrReadOnly (as the read unit's Tx does for a
// statement that writes) when it cannot answer by reading alone; write
// then runs as Do runs fn, in a write unit with its record. When k is
// known to have no record (known.go), read is called with a nil Tx: it
// reads on its own, as a request without a key would.
func (s *Service) DoRead(ctx context.Context, db string, k forge.IdempotencyKey,
	read, write func(forge.Tx) (forge.Answer, error),
) (a forge.Answer, replayed bool, err error) {
	id, err := s.claim(db, k)
	if err != nil {
		return forge.Answer{}, false, err
	}
	defer s.unclaim(id)
	may, at := s.mayHave(ctx, db, k)
	if !may {
		// No record of k: the read runs as any read.
		a, err = read(nil)
		if errors.Is(err, forge.ErrReadOnly) {
			return s.do(ctx, db, k, write)
		}
		return a, false, err
	}
	a, replayed, writes, err := s.readUnit(ctx, db, k, at, read)
	if err != nil {
		return forge.Answer{}, false, err
	}
	if writes {
		return s.do(ctx, db, k, write)
	}
	return a, replayed, nil
}

// readUnit is DoRead's read unit: k's look-up, then read, unless k has a
// record; writes: read said forge.ErrReadOnly. (Apart from DoRead, so
// that what its closure captures is not moved to the heap on DoRead's
// common path.)
func (s *Service) readUnit(ctx context.Context, db string, k forge.IdempotencyKey, at int64,
	read func(forge.Tx) (forge.Answer, error),
) (a forge.Answer, replayed, writes bool, err error) {
	err = s.e.Read(ctx, db, func(tx forge.Tx) error {
		rec, found, err := s.find(ctx, tx, db, k, at)
		if err != nil {
			return err
		}
		if found {
			if !bytes.Equal(rec.hash, k.Hash[:]) {
				return forge.ErrIdempotencyKeyReused
			}
			a, replayed = rec.Answer, true
			return nil
		}
		a, err = read(tx)
		if errors.Is(err, forge.ErrReadOnly) {
			writes = true
			return nil
		}
		return err
	})
	return a, replayed, writes, err
}

// record is a stored answer with the hash of its request.
type record struct {
	forge.Answer
	hash []byte
}

// find looks k's record of the last TTL up on tx, where the key set
// says it is (at, known.go): by its id in LogTable; in Table; or, when
// the set does not know (at 0), by a scan of LogTable from the newest
// record back, then in Table. A table that is not there has no record.
//
// A key whose record is not at its id has none: a key's id is noted only
// for a record made while it had none (a unit of this process, claimed,
// after its look-up), so the id noted last is its only live record, or
// its unit rolled back and it has none.
func (s *Service) find(ctx context.Context, tx forge.Tx, db string, k forge.IdempotencyKey, at int64) (record, bool, error) {
	cutoff := forge.IntValue(s.now().Add(-s.ttl).UnixMilli())
	r := recordReader{scope: k.Scope, key: k.Key}
	if at > 0 {
		err := s.query(ctx, tx, selectByID, &r, forge.IntValue(at), cutoff)
		if err != nil || r.found || !r.other {
			return r.rec, r.found, err
		}
		// Another key's record: two keys of one 128-bit hash. Scan.
	}
	if at >= 0 {
		r = recordReader{scope: k.Scope, key: k.Key}
		err := s.query(ctx, tx, selectByKey, &r, forge.BlobValue(storedKey(nil, k)), cutoff)
		if err != nil || r.found {
			return r.rec, r.found, err
		}
	}
	if s.noLegacy(db) {
		return record{}, false, nil
	}
	r = recordReader{scope: k.Scope, key: k.Key, legacy: true}
	_, err := tx.Run(ctx, forge.Statement{SQL: selectLegacy, Bookkeeping: true, Params: forge.Params{
		Positional: []forge.Value{forge.TextValue(k.Scope), forge.TextValue(k.Key), cutoff}}}, &r)
	var se *forge.SQLError
	if errors.As(err, &se) { // never made, and never made now
		s.mu.Lock()
		s.state(db).legacyAbsent = true
		s.mu.Unlock()
		return record{}, false, nil
	}
	return r.rec, r.found, err
}

// noLegacy tells whether db is known to have no Table.
func (s *Service) noLegacy(db string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.dbs[db]
	return d != nil && d.legacyAbsent
}

// query runs one look-up of find: a table that is not there (an SQL
// error) finds nothing.
func (s *Service) query(ctx context.Context, tx forge.Tx, sql string, r *recordReader, args ...forge.Value) error {
	_, err := tx.Run(ctx, forge.Statement{SQL: sql, Bookkeeping: true, Params: forge.Params{Positional: args}}, r)
	var se *forge.SQLError
	if errors.As(err, &se) {
		return nil
	}
	if err == nil {
		err = r.err
	}
	return err
}

// insert records a's answer for k, and, at most once per expirePeriod
// per database, deletes expired records. LogTable is made if it is not
// there.
func (s *Service) insert(ctx context.Context, tx forge.Tx, db string, k forge.IdempotencyKey, a forge.Answer) error {
	now := s.now()
	id, fresh, err := s.newID(ctx, tx, db)
	if err != nil {
		return err
	}
	s.noteRecord(db, k, id)
	sk := storedKey(make([]byte, 0, len(k.Scope)+1+len(k.Key)+recordHead+len(a.ContentType)+len(a.Body)), k)
	rec := packRecord(sk[len(sk):], k, a)
	vals := []forge.Value{forge.IntValue(id), forge.BlobValue(sk), forge.BlobValue(rec), forge.IntValue(now.UnixMilli())}
	if ac, ok := tx.(atCommitInserter); ok && !fresh {
		// The table is there (as far as this process knows: if it is
		// not, the group's INSERT fails and the unit runs again alone,
		// where the INSERT runs at once and the table is made below).
		err = ac.InsertAtCommit(ctx, insertHead, vals)
	} else {
		_, err = tx.Run(ctx, forge.Statement{SQL: insertOne, Bookkeeping: true, Params: forge.Params{Positional: vals}}, nil)
	}
	if err != nil && !fresh && isSQLError(err) { // the table went (its file was replaced): make it
		s.resetID(db)
		if id, _, err = s.newID(ctx, tx, db); err != nil {
			return err
		}
		s.noteRecord(db, k, id)
		vals[0] = forge.IntValue(id)
		_, err = tx.Run(ctx, forge.Statement{SQL: insertOne, Bookkeeping: true, Params: forge.Params{Positional: vals}}, nil)
	}
	if err != nil {
		return err
	}
	if s.indexDue(db) {
		if _, err := tx.Run(ctx, forge.Statement{SQL: createLogIndex, Bookkeeping: true}, nil); err != nil {
			return fmt.Errorf("idempotency index: %w", err)
		}
	}
	if limit := s.expireDue(db, now); limit > 0 {
		if _, err := tx.Run(ctx, forge.Statement{SQL: expire, Bookkeeping: true, Params: forge.Params{
			Positional: []forge.Value{forge.IntValue(now.Add(-s.ttl).UnixMilli()), forge.IntValue(int64(limit))},
		}}, nil); err != nil {
			return err
		}
	}
	return nil
}

// newID gives the id of a new record of db: the next after the largest in
// LogTable, which it reads, and makes the table, the first time (fresh).
// A unit that made the table and rolled back leaves an id the process
// believes in without a table: the next record's INSERT fails, and is
// made again as the first (insert).
func (s *Service) newID(ctx context.Context, tx forge.Tx, db string) (id int64, fresh bool, err error) {
	s.mu.Lock()
	d := s.state(db)
	if d.nextID > 0 {
		id = d.nextID
		d.nextID++
		s.mu.Unlock()
		return id, false, nil
	}
	s.mu.Unlock()
	var r intReader
	_, err = tx.Run(ctx, forge.Statement{SQL: selectMaxID, Bookkeeping: true}, &r)
	var se *forge.SQLError
	if errors.As(err, &se) { // no table yet: the first idempotent write of this database makes it
		if _, err := tx.Run(ctx, forge.Statement{SQL: createLog, Bookkeeping: true}, nil); err != nil {
			return 0, false, fmt.Errorf("idempotency table: %w", err)
		}
		r.n, err = 0, nil
	}
	if err != nil {
		return 0, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d = s.state(db)
	if d.nextID <= r.n {
		d.nextID = r.n + 1
	}
	id = d.nextID
	d.nextID++
	return id, true, nil
}

// resetID forgets db's next id: its table is to be read (or made) again.
func (s *Service) resetID(db string) {
	s.mu.Lock()
	s.state(db).nextID = 0
	s.mu.Unlock()
}

// indexDue tells whether db's LogTable is to get its key index now (once).
func (s *Service) indexDue(db string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.state(db)
	if !d.wantIndex || d.indexed {
		return false
	}
	d.indexed = true
	return true
}

// isSQLError tells an SQL error (here: a table that is not there).
func isSQLError(err error) bool {
	var se *forge.SQLError
	return errors.As(err, &se)
}

// intReader keeps the one integer of a one-row result.
type intReader struct{ n int64 }

func (r *intReader) Columns([]string) error  { return nil }
func (r *intReader) Row(row forge.Row) error { r.n = row.Int(0); return nil }

// mayHave tells whether k may have a record on db, and where (at,
// known.go), loading db's keys first if that is due.
func (s *Service) mayHave(ctx context.Context, db string, k forge.IdempotencyKey) (may bool, at int64) {
	may, at, load := s.mayHaveRecord(db, k)
	if load {
		s.loadKnown(ctx, db)
		may, at, _ = s.mayHaveRecord(db, k)
	}
	return may, at
}

// state is db's entry; s.mu must be held.
func (s *Service) state(db string) *dbState {
	d := s.dbs[db]
	if d == nil {
		d = &dbState{}
		s.dbs[db] = d
	}
	return d
}

// expireDue counts a record added to db and tells how many expired
// records to delete with it: 0 when db's were deleted less than
// expirePeriod ago. (A unit that rolls back after it was told to delete
// leaves them for the next period: the count only bounds the work.)
func (s *Service) expireDue(db string, now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.state(db)
	d.added++
	if now.Sub(d.expired) < expirePeriod && now.After(d.expired) {
		return 0
	}
	n := min(max(2*d.added, expireMin), expireMax)
	d.expired, d.added = now, 0
	return n
}

// storedKey appends k's stored form to dst: its scope, a NUL, its key
// (a key is visible ASCII; a scope holds no NUL).
func storedKey(dst []byte, k forge.IdempotencyKey) []byte {
	dst = append(dst, k.Scope...)
	dst = append(dst, 0)
	return append(dst, k.Key...)
}

// recordHead bounds the bytes of a packed record before its content type
// and body.
const recordHead = len(forge.IdempotencyKey{}.Hash) + 2*binary.MaxVarintLen64

// packRecord appends a record's rec to dst: k's request hash, a's status
// and the length of its stored content type as uvarints, that content
// type, and its stored body (compact.go).
func packRecord(dst []byte, k forge.IdempotencyKey, a forge.Answer) []byte {
	dst = append(dst, k.Hash[:]...)
	dst = binary.AppendUvarint(dst, uint64(a.Status))
	if a.ContentType == jsonType {
		if out, ok := appendCompact(append(dst, 0), a.Body); ok {
			return out
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(a.ContentType)))
	dst = append(dst, a.ContentType...)
	return append(dst, a.Body...)
}

// errBadRecord: a rec that packRecord did not make.
var errBadRecord = errors.New("idempotency record unreadable")

// unpackRecord reads a rec of packRecord.
func unpackRecord(rec []byte) (record, error) {
	n := len(forge.IdempotencyKey{}.Hash)
	if len(rec) < n {
		return record{}, errBadRecord
	}
	r := record{hash: bytes.Clone(rec[:n])}
	rec = rec[n:]
	status, w := binary.Uvarint(rec)
	if w <= 0 {
		return record{}, errBadRecord
	}
	rec = rec[w:]
	ctLen, w := binary.Uvarint(rec)
	if w <= 0 || uint64(len(rec)-w) < ctLen {
		return record{}, errBadRecord
	}
	ct, body := expand(string(rec[w:w+int(ctLen)]), rec[w+int(ctLen):])
	r.Answer = forge.Answer{Status: int(status), ContentType: ct, Body: bytes.Clone(body)}
	return r, nil
}

// recordReader keeps the one row of a look-up of k (scope, key): found,
// or other when the row is another key's. legacy: a row of Table.
type recordReader struct {
	scope, key string
	legacy     bool
	rec        record
	found      bool
	other      bool
	err        error
}

func (r *recordReader) Columns([]string) error { return nil }

func (r *recordReader) Row(row forge.Row) error {
	if r.legacy {
		if string(row.Text(0)) != r.scope || string(row.Text(1)) != r.key {
			r.other = true
			return nil
		}
		r.found = true
		ct, body := expand(string(row.Text(4)), row.Blob(5))
		r.rec = record{
			hash:   bytes.Clone(row.Blob(2)),
			Answer: forge.Answer{Status: int(row.Int(3)), ContentType: ct, Body: bytes.Clone(body)},
		}
		return nil
	}
	k := row.Blob(0)
	if len(k) != len(r.scope)+1+len(r.key) || string(k[:len(r.scope)]) != r.scope ||
		k[len(r.scope)] != 0 || string(k[len(r.scope)+1:]) != r.key {
		r.other = true
		return nil
	}
	r.rec, r.err = unpackRecord(row.Blob(1))
	r.found = r.err == nil
	return nil
}
