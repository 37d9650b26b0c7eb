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
// compactly (compact.go).
//
// It knows the engine only through the Engine interface it declares, and
// knows no HTTP: an answer is a status, a content type and a body that the
// caller made.
package idem

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// Table is the bookkeeping table of idempotency records, created in a
// database by its first idempotent write.
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

// The engine's own statements on Table (forge.Statement.Bookkeeping).
const (
	createTable = "CREATE TABLE IF NOT EXISTS " + Table + " (" +
		"key_scope TEXT NOT NULL, key TEXT NOT NULL, request_hash BLOB NOT NULL, " +
		"status INTEGER NOT NULL, content_type TEXT NOT NULL, body BLOB NOT NULL, " +
		"created_at INTEGER NOT NULL, PRIMARY KEY (key_scope, key))"
	selectOne = "SELECT request_hash, status, content_type, body FROM " + Table +
		" WHERE key_scope = ?1 AND key = ?2 AND created_at >= ?3"
	insertOne = insertHead + "(?1, ?2, ?3, ?4, ?5, ?6, ?7)"
	// insertHead is insertOne up to its values, for atCommitInserter.
	insertHead = "INSERT OR REPLACE INTO " + Table +
		" (key_scope, key, request_hash, status, content_type, body, created_at) VALUES "
	// Records are added in time order, so rowids are too (a new row's is
	// the largest plus one): the oldest are the first rowids, and the
	// expired ones among the first ?2 go. (A table made before this had
	// an index on created_at, which nothing needs now; it stays.)
	expire = "DELETE FROM " + Table + " WHERE rowid IN (SELECT rowid FROM " + Table +
		" ORDER BY rowid LIMIT ?2) AND created_at < ?1"
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
	// table: whether Table is there, as far as this process knows.
	table tableState
	// known: the keys that may have a record (known.go).
	known known
}

// tableState: whether a database has Table. Only this service makes the
// table (client SQL cannot: forge.ReservedPrefix), so a database seen
// without it stays without it until this service makes it; a table seen
// is looked up, and a look-up that finds no table (a database deleted and
// spawned again) is a look-up that finds no record.
type tableState uint8

const (
	tableUnknown tableState = iota
	tableAbsent             // a read found no table, and none was made since
	tablePresent            // made, or seen, by this process
)

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
) (a forge.Answer, replayed bool, err error) {
	var failed forge.Answer
	may := s.mayHave(ctx, db, k)
	err = s.e.WriteShared(ctx, db, func(tx forge.Tx) error {
		a, replayed, failed = forge.Answer{}, false, forge.Answer{} // a unit may run twice
		var rec record
		var found bool
		if may {
			var err error
			if rec, found, err = s.lookup(ctx, tx, db, k); err != nil {
				return err
			}
		}
		if found {
			if !bytes.Equal(rec.hash, k.Hash[:]) {
				return forge.ErrIdempotencyKeyReused
			}
			a, replayed = rec.Answer, true
			return nil
		}
		ans, err := fn(tx)
		if err != nil {
			failed = ans
			return err
		}
		if ans.Status == 0 {
			return nil
		}
		if err := s.insert(ctx, tx, db, k, ans); err != nil {
			return err
		}
		a = ans
		return nil
	})
	if err != nil {
		if failed.Status != 0 && ctx.Err() == nil {
			// Best effort: without the record a retry runs again, which
			// for an answer that wrote nothing is the same.
			_ = s.e.WriteShared(ctx, db, func(tx forge.Tx) error {
				if _, found, err := s.lookup(ctx, tx, db, k); err != nil || found {
					return err
				}
				return s.insert(ctx, tx, db, k, failed)
			})
		}
		return forge.Answer{}, false, err
	}
	return a, replayed, nil
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
	if !s.mayHave(ctx, db, k) {
		// No record of k: the read runs as any read.
		a, err = read(nil)
		if errors.Is(err, forge.ErrReadOnly) {
			return s.do(ctx, db, k, write)
		}
		return a, false, err
	}
	a, replayed, writes, err := s.readUnit(ctx, db, k, read)
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
func (s *Service) readUnit(ctx context.Context, db string, k forge.IdempotencyKey,
	read func(forge.Tx) (forge.Answer, error),
) (a forge.Answer, replayed, writes bool, err error) {
	absent := s.tableAbsent(db)
	err = s.e.Read(ctx, db, func(tx forge.Tx) error {
		var r recordReader
		if !absent {
			var err error
			r, err = s.find(ctx, tx, k)
			var se *forge.SQLError
			if errors.As(err, &se) { // no table: no record
				s.setTable(db, tableAbsent)
			} else if err != nil {
				return err
			}
		}
		if r.found {
			if !bytes.Equal(r.rec.hash, k.Hash[:]) {
				return forge.ErrIdempotencyKeyReused
			}
			a, replayed = r.rec.Answer, true
			return nil
		}
		var err error
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

// lookup finds k's record of the last TTL. A database without the table
// gets it (the unit's transaction makes it with the write or not at all).
func (s *Service) lookup(ctx context.Context, tx forge.Tx, db string, k forge.IdempotencyKey) (record, bool, error) {
	r, err := s.find(ctx, tx, k)
	var se *forge.SQLError
	if errors.As(err, &se) {
		// No table yet ("no such table"): the first idempotent write
		// of this database makes it.
		s.setTable(db, tablePresent) // before it can commit
		if _, err := tx.Run(ctx, forge.Statement{SQL: createTable, Bookkeeping: true}, nil); err != nil {
			return record{}, false, fmt.Errorf("idempotency table: %w", err)
		}
		return record{}, false, nil
	}
	if err != nil {
		return record{}, false, err
	}
	return r.rec, r.found, nil
}

// find runs selectOne for k: an SQL error when the table is not there.
func (s *Service) find(ctx context.Context, tx forge.Tx, k forge.IdempotencyKey) (recordReader, error) {
	var r recordReader
	q := forge.Statement{SQL: selectOne, Bookkeeping: true, Params: forge.Params{Positional: []forge.Value{
		forge.TextValue(k.Scope), forge.TextValue(k.Key), forge.IntValue(s.now().Add(-s.ttl).UnixMilli()),
	}}}
	_, err := tx.Run(ctx, q, &r)
	return r, err
}

// insert records a's answer for k, and, at most once per expirePeriod
// per database, deletes expired records. The table is made if it is not
// there (a unit that did not look k up did not make it).
func (s *Service) insert(ctx context.Context, tx forge.Tx, db string, k forge.IdempotencyKey, a forge.Answer) error {
	now := s.now()
	s.noteRecord(db, k)
	ct, body := compact(a.ContentType, a.Body)
	q := forge.Statement{SQL: insertOne, Bookkeeping: true, Params: forge.Params{Positional: []forge.Value{
		forge.TextValue(k.Scope), forge.TextValue(k.Key), forge.BlobValue(k.Hash[:]),
		forge.IntValue(int64(a.Status)), forge.TextValue(ct), forge.BlobValue(body),
		forge.IntValue(now.UnixMilli()),
	}}}
	var err error
	present := s.tablePresent(db)
	if ac, ok := tx.(atCommitInserter); ok && present {
		// The table is there (as far as this process knows: if it is
		// not, the group's INSERT fails and the unit runs again alone,
		// where the INSERT runs at once and the table is made below).
		err = ac.InsertAtCommit(ctx, insertHead, q.Params.Positional)
	} else {
		_, err = tx.Run(ctx, q, nil)
	}
	var se *forge.SQLError
	if errors.As(err, &se) { // no table: make it
		s.setTable(db, tablePresent) // before it can commit
		if _, err := tx.Run(ctx, forge.Statement{SQL: createTable, Bookkeeping: true}, nil); err != nil {
			return fmt.Errorf("idempotency table: %w", err)
		}
		_, err = tx.Run(ctx, q, nil)
	}
	if err != nil {
		return err
	}
	if !present {
		s.setTable(db, tablePresent)
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

// mayHave tells whether k may have a record on db (known.go), loading
// db's keys first if that is due.
func (s *Service) mayHave(ctx context.Context, db string, k forge.IdempotencyKey) bool {
	may, load := s.mayHaveRecord(db, k)
	if load {
		s.loadKnown(ctx, db)
		may, _ = s.mayHaveRecord(db, k)
	}
	return may
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

// setTable notes what a unit saw of db's table: absent only if nothing
// was known (a table made meanwhile stays present).
func (s *Service) setTable(db string, t tableState) {
	s.mu.Lock()
	d := s.state(db)
	if t == tablePresent || d.table == tableUnknown {
		d.table = t
	}
	s.mu.Unlock()
}

// tablePresent tells whether db is known to have Table.
func (s *Service) tablePresent(db string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.dbs[db]
	return d != nil && d.table == tablePresent
}

// tableAbsent tells whether db is known to have no Table.
func (s *Service) tableAbsent(db string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.dbs[db]
	return d != nil && d.table == tableAbsent
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

// recordReader keeps the one row of selectOne.
type recordReader struct {
	rec   record
	found bool
}

func (r *recordReader) Columns([]string) error { return nil }

func (r *recordReader) Row(row forge.Row) error {
	r.found = true
	ct, body := expand(string(row.Text(2)), row.Blob(3))
	r.rec = record{
		hash: bytes.Clone(row.Blob(0)),
		Answer: forge.Answer{
			Status:      int(row.Int(1)),
			ContentType: ct,
			Body:        bytes.Clone(body),
		},
	}
	return nil
}
