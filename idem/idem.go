// Package idem runs writes under idempotency keys, above the engine's
// units of work: the first completed answer to a request is recorded in
// the database it wrote, in the same transaction as its write, so that a
// retry with the same key gets that answer again and writes nothing. The
// records live in a bookkeeping table of each database (Table), which
// client SQL cannot touch (the sandbox refuses forge.ReservedPrefix).
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

// expireLimit bounds the expired records one write deletes, so that no
// write pays for a backlog; each write adds one record and removes up to
// this many old ones, which keeps the table to the records of one TTL.
const expireLimit = "16"

// The engine's own statements on Table (forge.Statement.Bookkeeping).
const (
	createTable = "CREATE TABLE IF NOT EXISTS " + Table + " (" +
		"key_scope TEXT NOT NULL, key TEXT NOT NULL, request_hash BLOB NOT NULL, " +
		"status INTEGER NOT NULL, content_type TEXT NOT NULL, body BLOB NOT NULL, " +
		"created_at INTEGER NOT NULL, PRIMARY KEY (key_scope, key))"
	createIndex = "CREATE INDEX IF NOT EXISTS " + Table + "_created ON " + Table + " (created_at)"
	selectOne   = "SELECT request_hash, status, content_type, body FROM " + Table +
		" WHERE key_scope = ?1 AND key = ?2 AND created_at >= ?3"
	insertOne = "INSERT OR REPLACE INTO " + Table +
		" (key_scope, key, request_hash, status, content_type, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
	expire = "DELETE FROM " + Table + " WHERE rowid IN (SELECT rowid FROM " + Table +
		" WHERE created_at < ?1 ORDER BY created_at LIMIT " + expireLimit + ")"
)

// Engine runs write units on databases by name (package wasm's Engine).
type Engine interface {
	Write(ctx context.Context, db string, fn func(forge.Tx) error) error
}

// Service runs idempotent writes. Its in-progress set is the process's:
// after a restart nothing is in progress, and the records on disk say
// what was answered.
type Service struct {
	e   Engine
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	running map[string]struct{} // db, scope and key of the requests in flight
}

// New returns the service over e, keeping records for ttl (0: DefaultTTL).
func New(e Engine, ttl time.Duration) *Service {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Service{e: e, ttl: ttl, now: time.Now, running: make(map[string]struct{})}
}

// Claim marks k as in progress on db until release is called:
// forge.ErrIdempotencyInProgress if it already is. Do claims for itself;
// a route whose answer is not recorded in a database (spawn) claims alone.
func (s *Service) Claim(db string, k forge.IdempotencyKey) (release func(), err error) {
	id := db + "\x00" + k.Scope + "\x00" + k.Key
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.running[id]; ok {
		return nil, forge.ErrIdempotencyInProgress
	}
	s.running[id] = struct{}{}
	return func() {
		s.mu.Lock()
		delete(s.running, id)
		s.mu.Unlock()
	}, nil
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
	release, err := s.Claim(db, k)
	if err != nil {
		return forge.Answer{}, false, err
	}
	defer release()
	var failed forge.Answer
	err = s.e.Write(ctx, db, func(tx forge.Tx) error {
		a, replayed, failed = forge.Answer{}, false, forge.Answer{} // a unit may run twice
		rec, found, err := s.lookup(ctx, tx, k)
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
		ans, err := fn(tx)
		if err != nil {
			failed = ans
			return err
		}
		if ans.Status == 0 {
			return nil
		}
		if err := s.insert(ctx, tx, k, ans); err != nil {
			return err
		}
		a = ans
		return nil
	})
	if err != nil {
		if failed.Status != 0 && ctx.Err() == nil {
			// Best effort: without the record a retry runs again, which
			// for an answer that wrote nothing is the same.
			_ = s.e.Write(ctx, db, func(tx forge.Tx) error {
				if _, found, err := s.lookup(ctx, tx, k); err != nil || found {
					return err
				}
				return s.insert(ctx, tx, k, failed)
			})
		}
		return forge.Answer{}, false, err
	}
	return a, replayed, nil
}

// record is a stored answer with the hash of its request.
type record struct {
	forge.Answer
	hash []byte
}

// lookup finds k's record of the last TTL. A database without the table
// gets it (the unit's transaction makes it with the write or not at all).
func (s *Service) lookup(ctx context.Context, tx forge.Tx, k forge.IdempotencyKey) (record, bool, error) {
	var r recordReader
	q := forge.Statement{SQL: selectOne, Bookkeeping: true, Params: forge.Params{Positional: []forge.Value{
		forge.TextValue(k.Scope), forge.TextValue(k.Key), forge.IntValue(s.now().Add(-s.ttl).UnixMilli()),
	}}}
	_, err := tx.Run(ctx, q, &r)
	var se *forge.SQLError
	if errors.As(err, &se) {
		// No table yet ("no such table"): the first idempotent write
		// of this database makes it.
		for _, sql := range []string{createTable, createIndex} {
			if _, err := tx.Run(ctx, forge.Statement{SQL: sql, Bookkeeping: true}, nil); err != nil {
				return record{}, false, fmt.Errorf("idempotency table: %w", err)
			}
		}
		return record{}, false, nil
	}
	if err != nil {
		return record{}, false, err
	}
	return r.rec, r.found, nil
}

// insert records a's answer for k, and deletes a few expired records.
func (s *Service) insert(ctx context.Context, tx forge.Tx, k forge.IdempotencyKey, a forge.Answer) error {
	now := s.now()
	if _, err := tx.Run(ctx, forge.Statement{SQL: expire, Bookkeeping: true, Params: forge.Params{
		Positional: []forge.Value{forge.IntValue(now.Add(-s.ttl).UnixMilli())},
	}}, nil); err != nil {
		return err
	}
	_, err := tx.Run(ctx, forge.Statement{SQL: insertOne, Bookkeeping: true, Params: forge.Params{Positional: []forge.Value{
		forge.TextValue(k.Scope), forge.TextValue(k.Key), forge.BlobValue(k.Hash[:]),
		forge.IntValue(int64(a.Status)), forge.TextValue(a.ContentType), forge.BlobValue(a.Body),
		forge.IntValue(now.UnixMilli()),
	}}}, nil)
	return err
}

// recordReader keeps the one row of selectOne.
type recordReader struct {
	rec   record
	found bool
}

func (r *recordReader) Columns([]string) error { return nil }

func (r *recordReader) Row(row forge.Row) error {
	r.found = true
	r.rec = record{
		hash: bytes.Clone(row.Blob(0)),
		Answer: forge.Answer{
			Status:      int(row.Int(1)),
			ContentType: string(row.Text(2)),
			Body:        bytes.Clone(row.Blob(3)),
		},
	}
	return nil
}
