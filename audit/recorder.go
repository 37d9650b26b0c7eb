package audit

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/praetorian/db-forge/forge"
)

// Config is the log's settings (FORGE_AUDIT_*).
type Config struct {
	// Reads records read statements too (best effort).
	Reads bool
	// Retention: records older than this are deleted; 0 keeps them by
	// count only.
	Retention time.Duration
	// MaxRows: each database keeps at most about this many records.
	MaxRows int64
	// MaxSQL caps the text of a statement kept (bytes); MaxError that of
	// a failure's message.
	MaxSQL, MaxError int
	// AfterCommit (FORGE_AUDIT=async): the engine hands a write's records
	// to Unwritten just after its commit instead of storing them in its
	// transaction; they are written best effort with the others.
	AfterCommit bool
	// Flush is how long a record waits, at most, before the best-effort
	// writer writes it (with all the others then waiting: a transaction
	// per database, of at most flushTxRecords records each).
	Flush time.Duration
	// Buffer bounds the records waiting to be written best effort: past
	// it they are dropped.
	Buffer int
}

func (c Config) withDefaults() Config {
	if c.MaxSQL <= 0 {
		c.MaxSQL = DefaultMaxSQL
	}
	if c.MaxError <= 0 {
		c.MaxError = DefaultMaxError
	}
	if c.MaxRows <= 0 {
		c.MaxRows = DefaultMaxRows
	}
	if c.Retention < 0 {
		c.Retention = 0
	}
	if c.Buffer <= 0 {
		c.Buffer = DefaultBuffer
	}
	if c.Flush <= 0 {
		c.Flush = DefaultFlush
	}
	return c
}

// Engine runs units of work on databases by name (package wasm's Engine).
type Engine interface {
	// Write runs fn in one write transaction of database db.
	Write(ctx context.Context, db string, fn func(forge.Tx) error) error
	// Read runs fn on a snapshot of database db.
	Read(ctx context.Context, db string, fn func(forge.Tx) error) error
}

// Old records are deleted by a commit at most once per prunePeriod per
// database: a bounded number of the oldest rows (each a transaction's
// records), twice the rows added since the last time (at least pruneMin,
// at most pruneMax), so that no commit pays for a large backlog and the
// log keeps to its bounds.
const (
	prunePeriod = time.Second
	pruneMin    = 64
	pruneMax    = 4096
)

// Recorder is the engine's Auditor (package wasm): it turns the engine's
// records into the statements that store them, and writes the records no
// committing transaction carries, best effort.
type Recorder struct {
	cfg Config
	e   Engine
	log *zap.Logger
	now func() time.Time

	mu  sync.Mutex
	dbs map[string]*dbState

	// The best-effort writer's buffer: the records waiting, per database
	// in the order they came (Unwritten), nwait of them. The writer takes
	// them all at once (flush) and writes them while the next ones wait.
	qmu     sync.Mutex
	waiting map[string][]forge.AuditRecord
	order   []string
	nwait   int
	closed  bool
	flushAt int                // records waiting that are written without waiting for Flush
	wake    chan struct{}      // the first records since the last flush wait
	full    chan struct{}      // flushAt records wait
	flushes chan chan struct{} // Flush's requests: closed once done
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once

	committed   atomic.Int64 // records stored with their transaction
	written     atomic.Int64 // records written best effort
	dropped     atomic.Int64 // records lost
	unsettled   atomic.Int64 // records taken by Unwritten, not yet written or lost
	lastDropLog atomic.Int64 // unix nanoseconds of the last drop logged
}

// dbState is what the recorder knows of one database's log: when its
// old records were last deleted, and how many rows were added since.
type dbState struct {
	pruned time.Time
	added  int
}

// The best-effort writer writes the records of a database in
// transactions of at most flushTxRecords records and about flushTxBytes
// of them (one row of the log), so that a transaction of its holds the
// database's write lock about as long as a small group commit does
// (docs/PERFORMANCE.md), however many records waited; writeTimeout
// bounds its wait for the lock.
const (
	flushTxRecords = 512
	flushTxBytes   = 64 << 10
	writeTimeout   = 5 * time.Second
)

// NewRecorder returns a recorder over e; Close stops its writer.
func NewRecorder(cfg Config, e Engine, log *zap.Logger) *Recorder {
	cfg = cfg.withDefaults()
	if log == nil {
		log = zap.NewNop()
	}
	r := &Recorder{
		cfg: cfg, e: e, log: log, now: time.Now,
		dbs:     make(map[string]*dbState),
		waiting: make(map[string][]forge.AuditRecord),
		flushAt: max(cfg.Buffer/2, 1),
		wake:    make(chan struct{}, 1),
		full:    make(chan struct{}, 1),
		flushes: make(chan chan struct{}),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go r.run()
	return r
}

// Audits tells whether database db's statements are recorded: not those
// of the gateway's own databases (names beginning with a dot).
func (r *Recorder) Audits(db string) bool { return !strings.HasPrefix(db, ".") }

// Reads tells whether reads are recorded.
func (r *Recorder) Reads() bool { return r.cfg.Reads }

// AtCommit returns the statements that store recs in database db's
// transaction, about to commit: table makes the log's table if it is not
// there; stmts store the records and now and then delete old ones
// (retention).
func (r *Recorder) AtCommit(db string, recs []forge.AuditRecord) (table forge.Statement, stmts []forge.Statement) {
	r.committed.Add(int64(len(recs)))
	return forge.Statement{SQL: createTable, Bookkeeping: true}, r.statements(db, recs)
}

func (r *Recorder) statements(db string, recs []forge.AuditRecord) []forge.Statement {
	if len(recs) == 0 {
		return nil
	}
	stmts := make([]forge.Statement, 0, 3)
	rows := 0
	for len(recs) > 0 {
		// A row holds at most about maxRowBytes of records: far below
		// SQLite's limit on a value (FORGE_SQL_MAX_LENGTH), whatever a
		// transaction ran (an import of a large script).
		n, size := 0, 0
		for n < len(recs) && (n == 0 || size < maxRowBytes) {
			size += r.size(&recs[n])
			n++
		}
		chunk := recs[:n]
		recs = recs[n:]
		b := encodeRecords(make([]byte, 0, min(size, maxRowBytes)), chunk, r.cfg.MaxSQL, r.cfg.MaxError)
		last := chunk[0].Time
		for i := range chunk {
			if chunk[i].Time.After(last) {
				last = chunk[i].Time
			}
		}
		stmts = append(stmts, forge.Statement{SQL: insertRow, Bookkeeping: true, Params: forge.Params{Positional: []forge.Value{
			forge.IntValue(last.UnixMicro()), forge.IntValue(int64(len(chunk))), forge.BlobValue(b),
		}}})
		rows++
	}
	return append(stmts, r.prune(db, rows)...)
}

// size is about how many bytes rec takes in a row, at most.
func (r *Recorder) size(rec *forge.AuditRecord) int {
	return 64 + min(len(rec.SQL), r.cfg.MaxSQL) + min(len(rec.Error), r.cfg.MaxError)
}

// maxRowBytes bounds the records of one row of the log.
const maxRowBytes = 256 << 10

// prune returns the statements that delete old records of db, when it
// is time to (once per prunePeriod).
func (r *Recorder) prune(db string, rows int) []forge.Statement {
	now := r.now()
	r.mu.Lock()
	st := r.dbs[db]
	if st == nil {
		st = &dbState{pruned: now}
		r.dbs[db] = st
	}
	st.added += rows
	if now.Sub(st.pruned) < prunePeriod {
		r.mu.Unlock()
		return nil
	}
	limit := int64(min(max(2*st.added, pruneMin), pruneMax))
	st.pruned, st.added = now, 0
	r.mu.Unlock()
	var out []forge.Statement
	if r.cfg.Retention > 0 {
		out = append(out, forge.Statement{SQL: expireOld, Bookkeeping: true, Params: forge.Params{Positional: []forge.Value{
			forge.IntValue(now.Add(-r.cfg.Retention).UnixMicro()), forge.IntValue(limit)}}})
	}
	return append(out, forge.Statement{SQL: expireMany, Bookkeeping: true, Params: forge.Params{Positional: []forge.Value{
		forge.IntValue(r.cfg.MaxRows), forge.IntValue(limit)}}})
}

// AfterCommit tells whether the records of a write that committed are
// handed to Unwritten after its commit (FORGE_AUDIT=async) rather than
// stored in its transaction by AtCommit's statements.
// Asked per database (db), as Audits is: the answer is the same for all.
func (r *Recorder) AfterCommit(db string) bool { return r.cfg.AfterCommit }

// Unwritten takes records no committing transaction carries (and, with
// AfterCommit, those of a write that committed), to write them best
// effort within Config.Flush: dropped (and counted, and logged) when
// Config.Buffer records wait already (one transaction's records, however
// many, are taken when none wait). It never blocks, and copies recs (the
// caller's again once it returns).
func (r *Recorder) Unwritten(db string, recs []forge.AuditRecord) {
	if len(recs) == 0 {
		return
	}
	r.qmu.Lock()
	if r.closed || r.nwait > 0 && r.nwait+len(recs) > r.cfg.Buffer {
		closed := r.closed
		r.qmu.Unlock()
		if closed {
			r.drop(db, len(recs), "the recorder is closed")
		} else {
			r.drop(db, len(recs), "the buffer is full")
		}
		return
	}
	first := r.nwait == 0
	q, ok := r.waiting[db]
	if !ok {
		r.order = append(r.order, db)
	}
	r.waiting[db] = append(q, recs...)
	r.nwait += len(recs)
	r.unsettled.Add(int64(len(recs)))
	full := r.nwait >= r.flushAt
	r.qmu.Unlock()
	if first {
		signal(r.wake)
	}
	if full {
		signal(r.full)
	}
}

// signal wakes the writer, if it is not woken already.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// drop counts n records lost, and logs it at most once a second.
func (r *Recorder) drop(db string, n int, why string) {
	total := r.dropped.Add(int64(n))
	now := time.Now().UnixNano()
	last := r.lastDropLog.Load()
	if now-last < int64(time.Second) || !r.lastDropLog.CompareAndSwap(last, now) {
		return
	}
	r.log.Warn("audit records dropped", zap.String("db", db), zap.Int("records", n),
		zap.String("why", why), zap.Int64("dropped_total", total))
}

// run writes what Unwritten took: once records wait, it waits
// Config.Flush more (or until the buffer is half full) and writes all
// those then waiting, a transaction per database (flush); those that
// come meanwhile wait for the next. A record waits at most about
// Config.Flush, and a write's commit does no more than append its
// records to the buffer.
func (r *Recorder) run() {
	defer close(r.done)
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		var asked chan struct{}
		select {
		case <-r.wake:
		case <-r.full:
		case asked = <-r.flushes:
		case <-r.stop:
			r.flush()
			return
		}
		if asked == nil {
			t.Reset(r.cfg.Flush)
			select {
			case <-t.C:
			case <-r.full:
			case asked = <-r.flushes:
			case <-r.stop:
			}
			t.Stop()
		}
		r.flush()
		if asked != nil {
			close(asked)
		}
	}
}

// Flush writes the records waiting now without waiting for Config.Flush,
// and returns once they are written (or lost), or when ctx ends.
func (r *Recorder) Flush(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case r.flushes <- done:
	case <-r.done:
		return nil // closed: Close wrote them
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flush writes the records waiting now.
func (r *Recorder) flush() {
	r.qmu.Lock()
	waiting, order := r.waiting, r.order
	if len(order) > 0 {
		r.waiting, r.order, r.nwait = make(map[string][]forge.AuditRecord, len(order)), nil, 0
	}
	r.qmu.Unlock()
	for _, db := range order {
		r.write(db, waiting[db])
	}
}

// write writes recs in database db: in transactions of at most
// flushTxRecords records and about flushTxBytes, their statements made
// before the transaction begins.
func (r *Recorder) write(db string, recs []forge.AuditRecord) {
	for len(recs) > 0 {
		n, size := 0, 0
		for n < len(recs) && n < flushTxRecords && size < flushTxBytes {
			size += r.size(&recs[n])
			n++
		}
		chunk := recs[:n]
		recs = recs[n:]
		stmts := r.statements(db, chunk)
		ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		err := r.e.Write(ctx, db, func(tx forge.Tx) error {
			if _, err := tx.Run(ctx, forge.Statement{SQL: createTable, Bookkeeping: true}, nil); err != nil {
				return err
			}
			for _, q := range stmts {
				if _, err := tx.Run(ctx, q, nil); err != nil {
					return err
				}
			}
			return nil
		})
		cancel()
		if err != nil {
			r.drop(db, n, "write failed: "+err.Error())
		} else {
			r.written.Add(int64(n))
		}
		r.unsettled.Add(-int64(n))
	}
}

// Close writes what is queued (within ctx) and stops the writer; later
// records are dropped.
func (r *Recorder) Close(ctx context.Context) error {
	r.once.Do(func() {
		r.qmu.Lock()
		r.closed = true
		r.qmu.Unlock()
		close(r.stop)
	})
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats are the recorder's counters since start.
type Stats struct {
	Committed int64 // records stored in their write's transaction
	Written   int64 // records written best effort (reads, rolled back, and AfterCommit's)
	Dropped   int64 // records lost (forge_audit_dropped_total)
	// Waiting: records taken to be written best effort, not yet written
	// (nor lost): those a crash now would lose (forge_audit_waiting).
	Waiting int64
}

// Stats reports the counters.
func (r *Recorder) Stats() Stats {
	return Stats{Committed: r.committed.Load(), Written: r.written.Load(), Dropped: r.dropped.Load(), Waiting: r.unsettled.Load()}
}
