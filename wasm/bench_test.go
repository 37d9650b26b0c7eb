package wasm

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/praetorian/db-forge/forge"
)

// sinkWriter reads every value of every row, as a response encoder would,
// without keeping anything.
type sinkWriter struct {
	cols  int
	bytes int
}

func (w *sinkWriter) Columns(names []string) error {
	w.cols = len(names)
	return nil
}

func (w *sinkWriter) Row(r forge.Row) error {
	for i := range w.cols {
		switch r.Kind(i) {
		case forge.Integer:
			w.bytes += int(r.Int(i) & 1)
		case forge.Float:
			w.bytes += int(r.Float(i)) & 1
		case forge.Text:
			w.bytes += len(r.Text(i))
		case forge.Blob:
			w.bytes += len(r.Blob(i))
		}
	}
	return nil
}

const benchRows = 10_000

// seedTable creates t(id INTEGER PRIMARY KEY, name TEXT, score REAL) with
// ids 1..n.
func seedTable(b *testing.B, e *Engine, db string, n int) {
	b.Helper()
	exec(b, e, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL)")
	query(b, e, db, `INSERT INTO t(id, name, score)
		SELECT x, 'name-' || x, x * 0.5 FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) SELECT x FROM c)`,
		pos(forge.IntValue(int64(n))))
}

func BenchmarkPointSelect(b *testing.B) {
	e, _, db := newDB(b, Config{})
	seedTable(b, e, db, benchRows)
	const sql = "SELECT id, name, score FROM t WHERE id = ?"
	ctx := context.Background()

	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		rng := rand.New(rand.NewPCG(1, 1))
		w := &sinkWriter{}
		p := forge.Params{Positional: make([]forge.Value, 1)}
		for b.Loop() {
			p.Positional[0] = forge.IntValue(1 + rng.Int64N(benchRows))
			res, err := e.Query(ctx, db, forge.Statement{SQL: sql, Params: p}, w)
			if err != nil || res.RowsAffected != 1 {
				b.Fatalf("%+v, %v", res, err)
			}
		}
	})

	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		var seed atomic.Uint64
		b.RunParallel(func(pb *testing.PB) {
			rng := rand.New(rand.NewPCG(seed.Add(1), 2))
			w := &sinkWriter{}
			p := forge.Params{Positional: make([]forge.Value, 1)}
			for pb.Next() {
				p.Positional[0] = forge.IntValue(1 + rng.Int64N(benchRows))
				res, err := e.Query(ctx, db, forge.Statement{SQL: sql, Params: p}, w)
				if err != nil || res.RowsAffected != 1 {
					b.Errorf("%+v, %v", res, err)
					return
				}
			}
		})
	})
}

func BenchmarkInsertAutocommit(b *testing.B) {
	e, _, db := newDB(b, Config{})
	exec(b, e, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL)")
	ctx := context.Background()
	p := forge.Params{Positional: make([]forge.Value, 2)}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		p.Positional[0] = forge.TextValue("name")
		p.Positional[1] = forge.FloatValue(float64(i))
		res, err := e.Query(ctx, db, forge.Statement{SQL: "INSERT INTO t(name, score) VALUES (?, ?)", Params: p}, nil)
		if err != nil || res.RowsAffected != 1 {
			b.Fatalf("%+v, %v", res, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkInsertConcurrent is single-row INSERTs from 16 goroutines on
// one database: with group commit (batch=64) they share transactions,
// with batch=1 each is its own.
func BenchmarkInsertConcurrent(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			e, _, db := newDB(b, Config{MaxWriteBatch: batch})
			exec(b, e, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL)")
			b.ReportAllocs()
			b.SetParallelism(8) // 16 goroutines on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				p := forge.Params{Positional: []forge.Value{forge.TextValue("name"), forge.FloatValue(1.5)}}
				for pb.Next() {
					res, err := e.Query(context.Background(), db, forge.Statement{SQL: "INSERT INTO t(name, score) VALUES (?, ?)", Params: p}, nil)
					if err != nil || res.RowsAffected != 1 {
						b.Errorf("%+v, %v", res, err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			if s := e.Stats(); s.BatchedWrites > 0 {
				b.ReportMetric(float64(s.BatchedWrites)/float64(s.WriteBatches), "rows/batch")
			}
		})
	}
}

func BenchmarkInsertRows1000(b *testing.B) {
	e, _, db := newDB(b, Config{})
	exec(b, e, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, data BLOB)")
	ctx := context.Background()
	recs := make([]forge.Record, 1000)
	for i := range recs {
		recs[i] = forge.Record{
			{Column: "name", Value: forge.TextValue(fmt.Sprintf("name-%d", i))},
			{Column: "score", Value: forge.FloatValue(float64(i) / 3)},
			{Column: "data", Value: forge.BlobValue([]byte{byte(i), 0, byte(i >> 8)})},
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		n, err := routes(e).InsertRows(ctx, db, "t", recs)
		if err != nil || n != int64(len(recs)) {
			b.Fatalf("%d, %v", n, err)
		}
	}
	b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkOpenManyDatabases: every request names a database the LRU has
// closed, so each one pays a cold open (a new wasm instance, the file, WAL
// setup) and an eviction.
func BenchmarkOpenManyDatabases(b *testing.B) {
	const (
		maxOpen = 4
		nDBs    = 32
	)
	e, layout := newTestEngine(b, Config{MaxOpen: maxOpen})
	names := make([]string, nDBs)
	for i := range names {
		names[i] = fmt.Sprintf("many%02d", i)
		createDB(b, layout, names[i])
		exec(b, e, names[i], "CREATE TABLE t(v);\nINSERT INTO t VALUES (1)")
	}
	ctx := context.Background()
	w := &sinkWriter{}
	before := e.Stats()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		res, err := e.Query(ctx, names[i%nDBs], forge.Statement{SQL: "SELECT v FROM t"}, w)
		if err != nil || res.RowsAffected != 1 {
			b.Fatalf("%+v, %v", res, err)
		}
		i++
	}
	after := e.Stats()
	b.ReportMetric(float64(after.Opened-before.Opened)/float64(b.N), "opens/op")
}
