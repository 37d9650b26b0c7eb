package wasm

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/ncruces/go-sqlite3"
)

// BenchmarkEnginePage is issue 12's page against a point SELECT with
// nothing but the engine: one connection of go-sqlite3 (no gateway, no
// pool, no encoder), statements prepared once, on the table of
// internal/app's BenchmarkRowsPage (1,000,000 rows, an index on cat, a
// value's 100 rows inserted together). Each request kind is timed by the
// thread's CPU time (the goroutine is locked to its thread), so the
// figures hold on a busy machine. It is the floor of what the rows
// route's page can cost: "step" steps the 50 rows without reading them,
// "read" also reads each row's values as the engine does (ColumnsRaw,
// one call into the instance a row); page1 is the same SELECT with LIMIT 1
// (the index descent alone) and ids50 the 50 rowids from the index alone.
func BenchmarkEnginePage(b *testing.B) {
	db, err := sqlite3.Open(filepath.Join(b.TempDir(), "page.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(db.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-512;" +
		"CREATE TABLE big (id INTEGER PRIMARY KEY, cat INTEGER, name TEXT, score REAL)"))
	const rows = 1_000_000
	for lo := 0; lo < rows; lo += 25_000 {
		must(db.Exec(fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT %d UNION ALL SELECT i+1 FROM n WHERE i < %d) INSERT INTO big SELECT i, (i - 1) / 100, 'name-' || i, i * 0.5 FROM n`, lo+1, lo+25_000)))
	}
	must(db.Exec("CREATE INDEX big_cat ON big(cat)"))
	prep := func(sql string) *sqlite3.Stmt {
		st, _, err := db.Prepare(sql)
		must(err)
		b.Cleanup(func() { st.Close() })
		return st
	}
	point := prep("SELECT * FROM big WHERE id = ?")
	page := prep("SELECT * FROM big WHERE cat = ? ORDER BY rowid LIMIT 50")
	page1 := prep("SELECT * FROM big WHERE cat = ? ORDER BY rowid LIMIT 1")
	ids := prep("SELECT id FROM big WHERE cat = ? ORDER BY rowid LIMIT 50")
	vals := make([]any, 4)
	run := func(st *sqlite3.Stmt, arg int64, read bool) int {
		must(st.BindInt64(1, arg))
		n := 0
		for st.Step() {
			n++
			if read {
				must(st.ColumnsRaw(vals[:st.ColumnCount()]...))
			}
		}
		must(st.Reset())
		return n
	}
	for _, mode := range []string{"step", "read"} {
		b.Run(mode, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			read := mode == "read"
			var cpu [4]time.Duration
			for b.Loop() {
				c0 := threadCPU()
				run(point, 1+rand.Int64N(rows), read)
				c1 := threadCPU()
				if run(page, rand.Int64N(rows/100), read) != 50 {
					b.Fatal("page: not 50 rows")
				}
				c2 := threadCPU()
				run(page1, rand.Int64N(rows/100), read)
				c3 := threadCPU()
				run(ids, rand.Int64N(rows/100), read)
				c4 := threadCPU()
				cpu[0], cpu[1], cpu[2], cpu[3] = cpu[0]+c1-c0, cpu[1]+c2-c1, cpu[2]+c3-c2, cpu[3]+c4-c3
			}
			n := float64(b.N)
			b.ReportMetric(float64(cpu[0].Nanoseconds())/n, "cpu-ns/point")
			b.ReportMetric(float64(cpu[1].Nanoseconds())/n, "cpu-ns/page50")
			b.ReportMetric(float64(cpu[2].Nanoseconds())/n, "cpu-ns/page1")
			b.ReportMetric(float64(cpu[3].Nanoseconds())/n, "cpu-ns/ids50")
			b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "page50/point")
		})
	}
}

// threadCPU is the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID,
// exact, where getrusage's split into user and system time moves in
// lumps): lock the goroutine to its thread first.
func threadCPU() time.Duration {
	const clockThreadCPUTime = 3
	var ts syscall.Timespec
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}
