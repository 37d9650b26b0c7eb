package audit

import (
	"strconv"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// BenchmarkAtCommit is the recorder's share of a commit that carries
// records: encoding a transaction's records into the statements that
// store them (the statements' run is the engine's). "1": a lone write;
// "14": a group commit of 14 single-row INSERTs, a caller each; "512":
// a transaction of the buffered writer (FORGE_AUDIT=async), a caller
// each.
func BenchmarkAtCommit(b *testing.B) {
	for _, n := range []int{1, 14, 512} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			r := NewRecorder(Config{}, nil, nil)
			b.Cleanup(func() { _ = r.Close(b.Context()) })
			recs := make([]forge.AuditRecord, n)
			now := time.Now()
			for i := range recs {
				recs[i] = forge.AuditRecord{Time: now.Add(time.Duration(i) * time.Microsecond),
					Caller: &forge.Caller{KeyID: "key_0123456789ab", RequestID: "0123456789ab-" + strconv.Itoa(1000+i), Route: "/api/db/{db_name}/query"},
					SQL:    "INSERT INTO kv (name, score) VALUES (?, ?)", Params: 2, Rows: 1, Runs: 1,
					Duration: 3 * time.Microsecond, Outcome: forge.AuditOK}
			}
			b.ReportAllocs()
			for b.Loop() {
				r.AtCommit("db", recs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
		})
	}
}
