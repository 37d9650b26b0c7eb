package docker

import (
	"context"
	"errors"
	"time"

	"github.com/docker/docker/api/types/events"
	"go.uber.org/zap"

	"github.com/praetorian/db-forge/forge"
)

// Reconcile makes every recorded instance's worker run and reports workers
// whose database is gone. It returns the number of workers it brought back.
func (b *Backend) Reconcile(ctx context.Context) (int, error) {
	workers, err := b.workers(ctx)
	if err != nil {
		return 0, err
	}
	names, err := b.vol.List()
	if err != nil {
		return 0, err
	}
	fixed := 0
	wanted := make(map[string]bool, len(names))
	for _, name := range names {
		_, ok, err := b.readRecord(name)
		if err != nil {
			b.log.Error("reconcile: unreadable instance record", zap.String("db", name), zap.Error(err))
			continue
		}
		if !ok {
			continue
		}
		wanted[name] = true
		if o := workers[name]; o.state == "running" || o.state == "restarting" {
			continue
		}
		did, err := b.reconcileOne(ctx, name)
		if errors.Is(err, forge.ErrBackendUnavailable) {
			return fixed, err
		}
		if err != nil {
			b.log.Error("reconcile: worker not restored", zap.String("db", name), zap.Error(err))
		}
		if did {
			fixed++
		}
	}
	for name, o := range workers {
		if !wanted[name] {
			b.log.Warn("orphan worker: its database has no instance record (make clean removes it)",
				zap.String("db", name), zap.String("container_id", o.id), zap.String("state", o.state))
		}
	}
	return fixed, nil
}

// reconcileOne restores one instance's worker, under the name's lock so that
// it never races a prune or delete. It reports whether it changed anything.
func (b *Backend) reconcileOne(ctx context.Context, name string) (bool, error) {
	unlock, err := b.locks.lock(ctx, name)
	if err != nil {
		return false, err
	}
	defer unlock()
	if _, ok, err := b.readRecord(name); err != nil || !ok {
		return false, err // pruned or deleted meanwhile
	}
	if ok, _ := b.vol.Exists(name); !ok {
		return false, nil
	}
	o, err := b.inspect(ctx, name)
	if err != nil {
		return false, err
	}
	if o.present && !o.ours {
		return false, errors.New("container name taken by a foreign container")
	}
	if o.state == "running" || o.state == "restarting" {
		return false, nil
	}
	if err := b.share(name); err != nil {
		return false, err
	}
	id, err := b.ensureWorker(ctx, name, o)
	if err != nil {
		return false, err
	}
	if o.present {
		b.log.Warn("reconcile: worker was stopped; started it again", zap.String("db", name), zap.String("container_id", id))
	} else {
		b.log.Warn("reconcile: worker had vanished; created a new one", zap.String("db", name), zap.String("container_id", id))
	}
	return true, nil
}

// Watch reconciles until ctx ends: once at start, after every event that
// may have taken a worker away (die, destroy, stop, oom), and every
// ResyncEvery. While Docker is down it retries with backoff, and reconciles
// in full as soon as Docker answers again.
func (b *Backend) Watch(ctx context.Context) {
	backoff := time.Second
	for ctx.Err() == nil {
		if _, err := b.Reconcile(ctx); err != nil {
			b.log.Warn("reconcile failed; retrying", zap.Error(err), zap.Duration("in", backoff))
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
		err := b.followEvents(ctx)
		if ctx.Err() != nil {
			return
		}
		b.log.Warn("docker event stream ended; reconnecting", zap.Error(err))
		if !sleep(ctx, backoff) {
			return
		}
	}
}

// followEvents handles events until the stream fails or ctx ends.
func (b *Backend) followEvents(ctx context.Context) error {
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := b.labelFilter()
	f.Add("type", string(events.ContainerEventType))
	for _, a := range []events.Action{events.ActionDie, events.ActionDestroy, events.ActionStop, events.ActionOOM} {
		f.Add("event", string(a))
	}
	if err := b.connect(ctx); err != nil {
		return err
	}
	msgs, errs := b.api.Events(ectx, events.ListOptions{Filters: f})
	resync := time.NewTicker(b.cfg.ResyncEvery)
	defer resync.Stop()
	pending := map[string]*time.Timer{}
	due := make(chan string, 64)
	defer func() {
		for _, t := range pending {
			t.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errs:
			return err
		case m := <-msgs:
			name := m.Actor.Attributes[LabelName]
			if name == "" || forge.ValidateName(name) != nil {
				continue
			}
			// Give Docker's own restart policy a moment before stepping in,
			// and fold a burst of events (stop, die, destroy) into one check.
			if t, ok := pending[name]; ok {
				t.Reset(time.Second)
				continue
			}
			pending[name] = time.AfterFunc(time.Second, func() {
				select {
				case due <- name:
				case <-ectx.Done():
				}
			})
		case name := <-due:
			delete(pending, name)
			if _, err := b.reconcileOne(ctx, name); err != nil {
				b.log.Error("reconcile after event failed", zap.String("db", name), zap.Error(err))
			}
		case <-resync.C:
			if _, err := b.Reconcile(ctx); errors.Is(err, forge.ErrBackendUnavailable) {
				return err
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
