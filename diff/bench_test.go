package diff_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/praetorian/db-forge/diff"
	"github.com/praetorian/db-forge/forge"
)

// BenchmarkDiffMillionRows diffs a table of 1,000,000 rows against its
// checkpoint after 100 rows changed (40 updated, 30 deleted, 30
// inserted): the target is < 2 s. summary counts them; page
// lists them (one page of up to 1,000 rows).
func BenchmarkDiffMillionRows(b *testing.B) {
	v := newEnv(b)
	v.create(b, "db")
	v.exec(b, "db", `CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL);
INSERT INTO t(id, name, score) SELECT x, 'name-' || x, x * 0.5 FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) SELECT x FROM c)`)
	v.checkpoint(b, "db", "before")
	v.exec(b, "db", `UPDATE t SET score = -1 WHERE id % 25000 = 7;
DELETE FROM t WHERE id % 25000 = 100 AND id < 750000;
INSERT INTO t(id, name, score) SELECT 1000000 + x, 'new', 0 FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 30) SELECT x FROM c)`)
	// The yardstick of the same run: one scan of one side, as the diff
	// reads it (this machine's timings move with its load; the ratio
	// diff/scan does not).
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			src, err := v.OpenDatabase(context.Background(), "db")
			if err != nil {
				b.Fatal(err)
			}
			rows, err := src.Query("SELECT id, * FROM t ORDER BY id")
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for rows.Next() {
				if rows.Row().Kind(1) == forge.Integer {
					n++
				}
			}
			if err := rows.Err(); err != nil || n < 1_000_000 {
				b.Fatal(n, err)
			}
			rows.Close()
			src.Close()
		}
	})
	s := diff.New(v, diff.Config{MaxLimit: 1000})
	for _, mode := range []struct {
		name    string
		summary bool
	}{{"summary", true}, {"page", false}} {
		b.Run(mode.name, func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b)()
			var changed int64
			for b.Loop() {
				d, err := s.Diff(context.Background(), "db", forge.DiffQuery{AgainstKind: "checkpoint", AgainstName: "before",
					Summary: mode.summary, Limit: 1000})
				if err != nil {
					b.Fatal(err)
				}
				changed = 0
				for _, t := range d.Tables {
					changed += t.Inserted + t.Deleted + t.Updated
				}
			}
			if changed != 100 {
				b.Fatalf("%d rows changed, want 100", changed)
			}
			b.ReportMetric(2_000_000*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// reportCPU reports the process's CPU time (user and system, getrusage)
// per operation from now until the returned function runs: the diff's two
// sides run on goroutines of their own, so its wall time depends on how
// many cores are free on a shared machine, and its CPU time much less.
func reportCPU(b *testing.B) func() {
	c0 := cpuTime()
	return func() { b.ReportMetric((cpuTime()-c0).Seconds()/float64(b.N), "cpu-s/op") }
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
