package wasm

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// BenchmarkAuditRowCost is what storing a transaction's audit records
// costs SQLite alone (no engine, no recorder): a lone single-row INSERT
// in autocommit ("autocommit", a lone write when the log is off), in
// BEGIN IMMEDIATE … COMMIT ("none", the engine's wrap; "parsedcommit":
// its COMMIT parsed each time, by Conn.Exec, as the engine's units and
// wrapped writes did), the same with the audit log's
// INSERT of one row of records into its own table (package audit's
// insertRow, a 100-byte blob: "row"), and with a second row into the
// client's table instead ("samepage": a statement that dirties no other
// page). row − samepage is the log's one more page per commit: one more
// WAL frame (its checksum, two more pwrites, its wal-index entry).
// Phases of each alternate, so that all meet the same moments of a shared
// machine; cpu-µs/op is the process's user+system CPU per transaction.
//
//	go test -run=NONE -bench='^BenchmarkAuditRowCost$' -benchtime=5x ./wasm
func BenchmarkAuditRowCost(b *testing.B) {
	const perPhase = 4000
	db, err := sqlite3.Open(filepath.Join(b.TempDir(), "x.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;" +
		"CREATE TABLE kv (id INTEGER PRIMARY KEY, name TEXT, score REAL);" +
		"CREATE TABLE _forge_audit (id INTEGER PRIMARY KEY, at_us INTEGER NOT NULL, n INTEGER NOT NULL, seq INTEGER NOT NULL, records BLOB NOT NULL)"); err != nil {
		b.Fatal(err)
	}
	prep := func(s string) *sqlite3.Stmt {
		st, _, err := db.Prepare(s)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = st.Close() })
		return st
	}
	begin, commit := prep("BEGIN IMMEDIATE"), prep("COMMIT")
	ins := prep("INSERT INTO kv (name, score) VALUES (?, ?)")
	variants := []struct {
		name string
		st   *sqlite3.Stmt
		bare bool // no BEGIN … COMMIT: the INSERT in autocommit
	}{
		{"autocommit", nil, true},
		{"none", nil, false},
		{"parsedcommit", nil, false},
		{"row", prep("INSERT INTO _forge_audit (at_us, n, seq, records) VALUES (?1, ?2, " +
			"?2 + coalesce((SELECT seq FROM _forge_audit ORDER BY id DESC LIMIT 1), 0), ?3)"), false},
		{"samepage", prep("INSERT INTO kv (name, score) VALUES (?3, ?2 + ?1)"), false},
	}
	var parsed bool // COMMIT by Conn.Exec, parsed each time
	blob := make([]byte, 100)
	for i := range blob {
		blob[i] = byte(i * 7)
	}
	phase := func(aud *sqlite3.Stmt, bare bool) {
		for range perPhase {
			if bare {
				_ = ins.BindText(1, "x")
				_ = ins.BindFloat(2, 1.5)
				if err := ins.Exec(); err != nil {
					b.Fatal(err)
				}
				continue
			}
			if err := begin.Exec(); err != nil {
				b.Fatal(err)
			}
			_ = ins.BindText(1, "x")
			_ = ins.BindFloat(2, 1.5)
			if err := ins.Exec(); err != nil {
				b.Fatal(err)
			}
			if aud != nil {
				_ = aud.BindInt64(1, time.Now().UnixMicro())
				_ = aud.BindInt64(2, 1)
				_ = aud.BindBlob(3, blob)
				if err := aud.Exec(); err != nil {
					b.Fatal(err)
				}
			}
			if parsed {
				if err := db.Exec("COMMIT"); err != nil {
					b.Fatal(err)
				}
				continue
			}
			if err := commit.Exec(); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, v := range variants {
		parsed = v.name == "parsedcommit"
		phase(v.st, v.bare) // warm up
	}
	cpu := make([]time.Duration, len(variants))
	sys := make([]time.Duration, len(variants))
	round := 0
	for b.Loop() {
		round++
		for k := range variants {
			i := (k + round) % len(variants)
			u0, s0 := rusage()
			parsed = variants[i].name == "parsedcommit"
			phase(variants[i].st, variants[i].bare)
			u1, s1 := rusage()
			cpu[i] += u1 - u0 + s1 - s0
			sys[i] += s1 - s0
		}
	}
	n := float64(round * perPhase)
	for i, v := range variants {
		b.ReportMetric(float64(cpu[i].Nanoseconds())/n/1000, v.name+"-cpu-µs/op")
		b.ReportMetric(float64(sys[i].Nanoseconds())/n/1000, v.name+"-sys-µs/op")
	}
	b.ReportMetric(0, "ns/op")
}

// rusage is the process's user and system CPU time so far.
func rusage() (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}
