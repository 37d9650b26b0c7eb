package app

import (
	"context"

	"go.uber.org/zap"

	"github.com/praetorian/db-forge/audit"
	"github.com/praetorian/db-forge/config"
	"github.com/praetorian/db-forge/metrics"
	"github.com/praetorian/db-forge/wasm"
)

// auditEngine is the recorder's Engine: the engine, set once it is made
// (the engine is made with the recorder as its Auditor). The recorder
// only uses it for records the engine hands it, so after that.
type auditEngine struct{ *wasm.Engine }

// newRecorder makes the audit log's recorder (FORGE_AUDIT), nil when it
// is off; async writes a write's records after its commit.
func newRecorder(cfg config.Config, log *zap.Logger) (*audit.Recorder, *auditEngine) {
	ref := &auditEngine{}
	if cfg.Audit == "off" {
		return nil, ref
	}
	return audit.NewRecorder(audit.Config{
		Reads:       cfg.AuditReads == "on",
		Retention:   cfg.AuditRetention,
		MaxRows:     int64(cfg.AuditMaxRows),
		MaxSQL:      cfg.AuditMaxSQL,
		AfterCommit: cfg.Audit == "async",
		Flush:       cfg.AuditFlush,
		Buffer:      cfg.AuditBuffer,
	}, ref, log), ref
}

// closeRecorder writes the records still queued, within ctx.
func closeRecorder(ctx context.Context, r *audit.Recorder) {
	if r != nil {
		_ = r.Close(ctx)
	}
}

func registerAuditMetrics(reg *metrics.Registry, r *audit.Recorder) {
	if r == nil {
		return
	}
	reg.Counter("forge_audit_committed_total", "Audit records stored in the same transaction as their write (FORGE_AUDIT=on).",
		func() float64 { return float64(r.Stats().Committed) })
	reg.Counter("forge_audit_written_total", "Audit records written best effort after their statement by the buffered writer (reads, rolled-back writes, and with FORGE_AUDIT=async every write).",
		func() float64 { return float64(r.Stats().Written) })
	reg.Counter("forge_audit_dropped_total", "Audit records lost: best-effort records (reads, rolled-back writes, FORGE_AUDIT=async's writes) dropped when the buffer was full or their write failed.",
		func() float64 { return float64(r.Stats().Dropped) })
	reg.Gauge("forge_audit_waiting", "Audit records taken by the buffered writer and not yet written: those a crash now would lose (FORGE_AUDIT_FLUSH, FORGE_AUDIT_BUFFER).",
		func() float64 { return float64(r.Stats().Waiting) })
}
