package leases

import (
	"context"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Janitor expires the databases whose lease ran out, as soon as it does,
// and purges the trash of entries older than the retention. It sleeps
// until the earliest lease's end or the next sweep of the trash,
// whichever comes first, and wakes early when the table changes.
type Janitor struct {
	Table *Table
	// Expire expires one database (lifecycle.Service.Expire): it is
	// called for each database Due lists, and again later if it fails.
	Expire func(ctx context.Context, name string) error
	// Purge removes the trash's entries older than the retention.
	Purge func(ctx context.Context) error
	// Sweep is how often the trash is purged; default a minute.
	Sweep time.Duration
	// Retry is the wait after a failed expiry; default 5s.
	Retry time.Duration
	// Timeout bounds one expiry (it waits for the database's requests
	// and transactions in flight); default a minute. One that runs out
	// is retried.
	Timeout time.Duration
	Log     *zap.Logger

	expired, failed atomic.Int64
}

// Stats are the janitor's counters since its start.
type Stats struct {
	// Expired counts the databases moved to the trash; Failed the
	// attempts that failed (and were retried).
	Expired, Failed int64
}

// Stats reads the counters.
func (j *Janitor) Stats() Stats { return Stats{Expired: j.expired.Load(), Failed: j.failed.Load()} }

// Run works until ctx ends.
func (j *Janitor) Run(ctx context.Context) {
	sweep, retry := j.Sweep, j.Retry
	if sweep <= 0 {
		sweep = time.Minute
	}
	if retry <= 0 {
		retry = 5 * time.Second
	}
	timeout := j.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	log := j.Log
	if log == nil {
		log = zap.NewNop()
	}
	nextSweep := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		failed := false
		for _, name := range j.Table.Due() {
			if ctx.Err() != nil {
				return
			}
			ectx, cancel := context.WithTimeout(ctx, timeout)
			err := j.Expire(ectx, name)
			cancel()
			if err != nil {
				failed = true
				j.failed.Add(1)
				log.Error("lease ran out; the database could not be moved to the trash (retried)",
					zap.String("db", name), zap.Error(err))
			} else {
				j.expired.Add(1)
				log.Info("lease ran out; the database is in the trash", zap.String("db", name))
			}
		}
		now := time.Now()
		if !now.Before(nextSweep) && j.Purge != nil {
			if err := j.Purge(ctx); err != nil && ctx.Err() == nil {
				log.Error("trash purge failed (retried)", zap.Error(err))
			}
			nextSweep = now.Add(sweep)
		}
		wake := nextSweep
		if at, ok := j.Table.Next(); ok && at.Before(wake) {
			wake = at
		}
		if failed && wake.Before(now.Add(retry)) {
			wake = now.Add(retry)
		}
		timer.Reset(max(time.Until(wake), time.Millisecond))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-j.Table.Changed():
		}
	}
}
