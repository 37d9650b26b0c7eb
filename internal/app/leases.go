package app

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/praetorian/db-forge/gateway"
	"github.com/praetorian/db-forge/leases"
	"github.com/praetorian/db-forge/lifecycle"
	"github.com/praetorian/db-forge/metrics"
	"github.com/praetorian/db-forge/volumes"
)

// Leases: the table (package leases) is loaded from the records beside
// the databases; lifecycle expires and restores; the janitor runs the
// expiries as leases run out and purges the trash after
// FORGE_TRASH_RETENTION.

// startLeaseJanitor runs the janitor until ctx ends or the returned stop
// is called (which waits for it: it must be gone before the engine
// closes).
func startLeaseJanitor(ctx context.Context, t *leases.Table, life *lifecycle.Service, vol *volumes.Layout,
	retention time.Duration, log *zap.Logger) (j *leases.Janitor, stop func()) {
	j = &leases.Janitor{
		Table:  t,
		Expire: life.Expire,
		Purge: func(context.Context) error {
			purged, err := vol.PurgeRetained(time.Now().Add(-retention))
			for _, name := range purged {
				log.Info("expired database purged from the trash (FORGE_TRASH_RETENTION)", zap.String("db", name))
			}
			return err
		},
		Sweep: min(max(retention/4, 10*time.Millisecond), time.Minute),
		Log:   log,
	}
	jctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); j.Run(jctx) }()
	var once sync.Once
	return j, func() { once.Do(func() { cancel(); <-done }) }
}

// registerLeaseMetrics: the leases' gauges and the janitor's counters.
func registerLeaseMetrics(reg *metrics.Registry, t *leases.Table, j *leases.Janitor, vol *volumes.Layout) {
	reg.Gauge("forge_leases", "Databases with a lease now.", func() float64 { return float64(t.Len()) })
	reg.Counter("forge_leases_expired_total", "Databases whose lease ran out, moved to the trash.",
		func() float64 { return float64(j.Stats().Expired) })
	reg.Counter("forge_lease_expiry_failures_total", "Attempts to move an expired database to the trash that failed (retried).",
		func() float64 { return float64(j.Stats().Failed) })
	reg.Gauge("forge_trash_databases", "Expired databases in the trash, restorable (FORGE_TRASH_RETENTION).",
		func() float64 { return float64(vol.RetainedCount()) })
}

// trash is the gateway's Trash port: the data directory's trash, with
// each entry's purge time.
type trash struct {
	vol       *volumes.Layout
	retention time.Duration
}

func (t trash) Trashed(context.Context) ([]gateway.TrashEntry, error) {
	list, err := t.vol.Retained()
	if err != nil {
		return nil, err
	}
	out := make([]gateway.TrashEntry, len(list))
	for i, e := range list {
		out[i] = gateway.TrashEntry{Name: e.Name, ExpiredAt: e.ExpiredAt, TrashedAt: e.TrashedAt,
			PurgeAt: e.TrashedAt.Add(t.retention), SizeBytes: e.SizeBytes}
	}
	return out, nil
}
