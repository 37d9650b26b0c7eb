// Package batch runs several statements sent together (the batch route)
// over the engine's units of work: in one transaction, where all of them
// apply or none does, or each on its own; and, for both, dry runs, which
// run the statements and commit nothing. It knows the engine only through
// the Engine interface it declares, so it imports forge alone.
package batch

import (
	"context"
	"errors"

	"github.com/praetorian/db-forge/forge"
)

// CodeTooManyStatements: a batch holds more statements than
// Config.MaxStatements.
const CodeTooManyStatements = "TOO_MANY_STATEMENTS"

// Engine runs statements and units of work on databases by name (package
// wasm's Engine).
type Engine interface {
	// Query runs one statement on its own (its own transaction).
	Query(ctx context.Context, db string, q forge.Statement, w forge.RowWriter) (forge.Result, error)
	// Read runs fn on a snapshot of db; fn's statements may only read.
	Read(ctx context.Context, db string, fn func(forge.Tx) error) error
	// Write runs fn in one transaction on db's writer, committed if fn
	// returns nil and rolled back otherwise.
	Write(ctx context.Context, db string, fn func(forge.Tx) error) error
}

// Config bounds batches.
type Config struct {
	// MaxStatements is the most statements one batch may hold
	// (FORGE_MAX_BATCH_STATEMENTS); 0 = DefaultMaxStatements.
	MaxStatements int
}

// DefaultMaxStatements is Config.MaxStatements when it is not set.
const DefaultMaxStatements = 1000

// Service runs batches.
type Service struct {
	e   Engine
	max int
}

// New returns the batch logic over e.
func New(e Engine, cfg Config) *Service {
	if cfg.MaxStatements <= 0 {
		cfg.MaxStatements = DefaultMaxStatements
	}
	return &Service{e: e, max: cfg.MaxStatements}
}

// errDryRun rolls back a dry run's unit of work once its statements ran.
var errDryRun = errors.New("dry run: roll back")

// Batch runs b on database db, handing each statement's outcome to out.
//
// In one transaction (b.Separate unset) the statements run in one unit of
// work, a read unit for a read-only batch, else a write unit: the first
// statement that fails ends the batch, nothing of it is committed, and
// Batch returns a *forge.StatementError that says which statement it was
// and wraps its error. Separate statements each run as a request's one
// statement would, and each failure goes to out; Batch itself fails only
// when out says so, or when the database itself is wrong (not found, a bad
// name), which no later statement would find otherwise.
//
// A dry run runs the same statements in a unit of work that always rolls
// back.
func (s *Service) Batch(ctx context.Context, db string, b forge.Batch, out forge.BatchOutput) error {
	if len(b.Statements) > s.max {
		return forge.Inputf(CodeTooManyStatements,
			"The batch holds %d statements; at most %d are allowed (FORGE_MAX_BATCH_STATEMENTS).", len(b.Statements), s.max)
	}
	if b.ReadOnly {
		for i := range b.Statements {
			b.Statements[i].ReadOnly = true
		}
	}
	if b.DryRun {
		ctx = forge.DryRun(ctx) // not in the audit log either
	}
	if b.Separate {
		return s.separate(ctx, db, b, out)
	}
	var changes forge.Changes
	listed := false // the unit could list its changes
	err := s.unit(ctx, db, b.ReadOnly, b.DryRun, func(tx forge.Tx) error {
		track := s.track(tx, b)
		listed = track != nil || b.ReadOnly
		if err := run(ctx, tx, b, out); err != nil {
			return err
		}
		var err error
		if track != nil {
			changes, err = track.Changes(ctx)
		}
		return err
	})
	if err == nil && b.DryRun && b.MaxChanges > 0 && listed {
		out.Changes(-1, changes)
	}
	return err
}

// InTx runs the statements of b, a batch in one transaction, on tx, a
// unit of work of the caller's (an idempotent batch's, whose record
// commits with it): as Batch would in its own unit, except that the unit
// is not Batch's to commit or roll back. b.Separate and b.DryRun are the
// caller's to refuse: each needs units of Batch's own.
func (s *Service) InTx(ctx context.Context, tx forge.Tx, b forge.Batch, out forge.BatchOutput) error {
	if len(b.Statements) > s.max {
		return forge.Inputf(CodeTooManyStatements,
			"The batch holds %d statements; at most %d are allowed (FORGE_MAX_BATCH_STATEMENTS).", len(b.Statements), s.max)
	}
	if b.Separate || b.DryRun {
		return errors.New("batch: InTx runs a batch in one transaction that commits")
	}
	if b.ReadOnly {
		for i := range b.Statements {
			b.Statements[i].ReadOnly = true
		}
	}
	return run(ctx, tx, b, out)
}

// run runs b's statements in order on tx, each outcome to out; the
// first failure ends it as a *forge.StatementError.
func run(ctx context.Context, tx forge.Tx, b forge.Batch, out forge.BatchOutput) error {
	out.Reset()
	for i, q := range b.Statements {
		res, err := tx.Run(ctx, q, out.Rows(i))
		if err != nil {
			return &forge.StatementError{Index: i, Err: err}
		}
		if err := out.Done(i, res, nil); err != nil {
			return err
		}
	}
	return nil
}

// track starts recording the rows a dry run's unit changes, if its batch
// asks for their list and the unit may write (a read unit changes
// nothing: its list is empty). A unit that cannot list them (a savepoint
// of an interactive transaction: txn.Within) answers nil, and its dry run
// gives no list at all rather than an empty one.
func (s *Service) track(tx forge.Tx, b forge.Batch) forge.ChangeTracker {
	if !b.DryRun || b.MaxChanges <= 0 || b.ReadOnly {
		return nil
	}
	t, ok := tx.(forge.ChangeTracker)
	if !ok {
		return nil
	}
	t.TrackChanges(b.MaxChanges)
	return t
}

// unit runs fn in a read unit (readOnly) or a write unit; a dry run's
// write unit is rolled back however fn ends.
func (s *Service) unit(ctx context.Context, db string, readOnly, dryRun bool, fn func(forge.Tx) error) error {
	if readOnly {
		return s.e.Read(ctx, db, fn)
	}
	if !dryRun {
		return s.e.Write(ctx, db, fn)
	}
	err := s.e.Write(ctx, db, func(tx forge.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errDryRun
	})
	if errors.Is(err, errDryRun) {
		return nil
	}
	return err
}

// separate runs each statement of b on its own.
func (s *Service) separate(ctx context.Context, db string, b forge.Batch, out forge.BatchOutput) error {
	out.Reset()
	for i, q := range b.Statements {
		var res forge.Result
		var changes forge.Changes
		var err error
		listed := false
		if b.DryRun {
			err = s.unit(ctx, db, q.ReadOnly, true, func(tx forge.Tx) error {
				track := s.track(tx, b)
				listed = track != nil || q.ReadOnly
				var err error
				if res, err = tx.Run(ctx, q, out.Rows(i)); err == nil && track != nil {
					changes, err = track.Changes(ctx)
				}
				return err
			})
		} else {
			res, err = s.e.Query(ctx, db, q, out.Rows(i))
		}
		if errors.Is(err, forge.ErrDatabaseNotFound) || errors.Is(err, forge.ErrInvalidName) {
			return err
		}
		if err := out.Done(i, res, err); err != nil {
			return err
		}
		if err == nil && b.DryRun && b.MaxChanges > 0 && listed {
			out.Changes(i, changes)
		}
	}
	return nil
}
