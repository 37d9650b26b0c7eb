package app

import (
	"context"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/praetorian/db-forge/gateway"
	"github.com/praetorian/db-forge/metrics"
	"github.com/praetorian/db-forge/volumes"
)

// reserveCheck is how often the volume's reserve is re-made once there is
// room for it again (docs/OPERATIONS.md, A full volume).
const reserveCheck = 10 * time.Second

// space is the data volume's reserve as the gateway uses it: released
// when a deleting statement meets a full volume, re-made by maintain.
type space struct {
	vol      *volumes.Layout
	reserve  *volumes.Reserve
	log      *zap.Logger
	released atomic.Int64 // releases that gave space back
}

func newSpace(vol *volumes.Layout, reserveMB int, log *zap.Logger) *space {
	s := &space{vol: vol, reserve: vol.Reserve(int64(reserveMB) << 20), log: log}
	s.maintain()
	if reserveMB > 0 && !s.reserve.Held() {
		free, _ := s.reserve.Free()
		log.Warn("volume full: no room for the reserve of the data volume; deleting data on a full volume may fail "+
			"until there is (GET /health says when)", zap.String("data_dir", vol.Root()), zap.Uint64("free_bytes", free),
			zap.Int64("reserve_bytes", s.reserve.Size()), zap.Uint64("needs_free_bytes", s.reserve.RemakeAt()))
	}
	return s
}

// release is the engine's Config.OnDiskFull (and the key store's): it
// gives the reserve back to the volume and says whether there is room to
// run the statement again.
func (s *space) release() bool {
	held := s.reserve.Held()
	room := s.reserve.Release()
	if held && !s.reserve.Held() {
		s.released.Add(1)
		s.log.Warn("volume full: released the reserve so that data can be deleted; it is made again once the volume has room",
			zap.String("data_dir", s.vol.Root()), zap.Int64("reserve_bytes", s.reserve.Size()))
	}
	return room
}

// maintain makes the reserve when it is missing and the volume has room.
func (s *space) maintain() {
	made, err := s.reserve.Maintain()
	if err != nil {
		s.log.Warn("reserve of the data volume not made", zap.Error(err))
	}
	if made {
		s.log.Info("reserve of the data volume made", zap.String("file", s.reserve.Path()),
			zap.Int64("reserve_bytes", s.reserve.Size()))
	}
}

// run re-makes the reserve every reserveCheck until ctx ends.
func (s *space) run(ctx context.Context) {
	if s.reserve.Size() == 0 {
		return
	}
	t := time.NewTicker(reserveCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.maintain()
		}
	}
}

// check is the data_dir check of GET /health: writable, not full (the
// error names the volume), and its free bytes.
func (s *space) check() gateway.Check {
	return gateway.Check{
		Name: "data_dir",
		Run:  func(context.Context) error { return s.vol.Check(s.reserve) },
		Figures: func() []gateway.Figure {
			sp, _ := s.vol.Space(s.reserve)
			held := int64(0)
			if sp.ReserveHeld {
				held = sp.ReserveSize
			}
			return []gateway.Figure{{Name: "free_bytes", Value: int64(sp.Free)}, {Name: "reserve_bytes", Value: held}}
		},
	}
}

// register adds the volume's figures to the metrics.
func (s *space) register(reg *metrics.Registry) {
	reg.Gauge("forge_volume_free_bytes", "Free bytes on the volume of the data directory (for the gateway's user).",
		func() float64 { f, _ := s.reserve.Free(); return float64(f) })
	reg.Gauge("forge_volume_reserve_held", "1 when the data volume's reserve (FORGE_DISK_RESERVE_MB) is held, 0 when it was released or could not be made.",
		func() float64 {
			if s.reserve.Held() {
				return 1
			}
			return 0
		})
	reg.Counter("forge_volume_reserve_released_total", "Times the reserve was released because a deleting statement met a full volume.",
		func() float64 { return float64(s.released.Load()) })
}
