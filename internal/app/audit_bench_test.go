package app

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/praetorian/db-forge/audit"
	"github.com/praetorian/db-forge/batch"
	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/gateway"
	"github.com/praetorian/db-forge/orchestrator/local"
	"github.com/praetorian/db-forge/tables"
	"github.com/praetorian/db-forge/volumes"
	"github.com/praetorian/db-forge/wasm"
)

// oneDB is a recorder that records one database only: the benchmark's
// "on" database, beside its "off" one in the same engine and gateway; and
// with async set, database "async" too, its records written after their
// commit (FORGE_AUDIT=async).
type oneDB struct {
	*audit.Recorder
	db    string
	async bool
}

func (o oneDB) Audits(db string) bool      { return db == o.db || o.async && db == "async" }
func (o oneDB) AfterCommit(db string) bool { return o.async && db == "async" }

// BenchmarkAudit is issue 14's cost goal for the statement audit log: it
// slows writes by less than 10 %. Sixteen clients send requests to a real
// gateway on a loopback TCP port, in rounds that alternate a phase on a
// database whose statements are recorded ("on") and a phase on one whose
// are not ("off"), same engine, same process, same moments of a noisy
// machine. "insert" is a single-row INSERT through /query (group commit
// merges the concurrent ones: the records of a group go in one INSERT
// before its COMMIT); "batch" is /batch of ten single-row INSERTs (one
// transaction, ten records). "ratio" is on/off throughput (goal ≥ 0.9);
// the CPU per request of the whole process is what the ratio follows on a
// 2-core machine. clients=1 sends one request at a time: no group
// commit, every INSERT pays a commit, and its record one more page in it.
// A third database, "async", is recorded as FORGE_AUDIT=async records:
// its phase's CPU includes the buffered writer's writing the phase's
// records, at once after it (Recorder.Flush; not in its throughput, as in
// a steady state the writer runs beside the writes).
//
//	go test -run=NONE -bench='^BenchmarkAudit$' -count=3 -benchtime=15x ./internal/app
func BenchmarkAudit(b *testing.B) {
	for _, c := range []struct {
		kind    string
		clients int
	}{{"insert", 16}, {"batch", 16}, {"insert", 1}} {
		b.Run(fmt.Sprintf("%s/clients=%d", c.kind, c.clients), func(b *testing.B) { benchAudit(b, c.kind, c.clients) })
	}
}

func benchAudit(b *testing.B, kind string, clients int) {
	const perPhase = 1600
	insert := []byte(`{"sql":"INSERT INTO kv (name, score) VALUES (?, ?)","params":["x", 1.5]}`)
	batchBody := []byte(`{"statements":[` +
		`{"sql":"INSERT INTO kv (name, score) VALUES (?, ?)","params":["a", 1]},` +
		`{"sql":"INSERT INTO kv (name, score) VALUES (?, ?)","params":["b", 2]},` +
		`{"sql":"INSERT INTO kv (name, score) VALUES (?, ?)","params":["c", 3]},` +
		`{"sql":"INSERT INTO kv (name, score) VALUES (?, ?)","params":["d", 4]},` +
		`{"sql":"INSERT INTO kv (name, score) VALUES (?, ?)","params":["e", 5]},` +
		`{"sql":"INSERT INTO kv (name, score) VALUES (?, ?)","params":["f", 6]},` +
		`{"sql":"INSERT INTO kv (name, score) VALUES (?, ?)","params":["g", 7]},` +
		`{"sql":"INSERT INTO kv (name, score) VALUES (?, ?)","params":["h", 8]},` +
		`{"sql":"INSERT INTO kv (name, score) VALUES (?, ?)","params":["i", 9]},` +
		`{"sql":"INSERT INTO kv (name, score) VALUES (?, ?)","params":["j", 10]}]}`)
	{
		{
			srv, rec := auditBenchServer(b)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			go func() { _ = srv.Serve(ln) }()
			b.Cleanup(func() { _ = srv.Shutdown(b.Context()) })
			client := &fasthttp.HostClient{Addr: ln.Addr().String(), MaxConns: clients}
			route, body := "query", insert
			if kind == "batch" {
				route, body = "batch", batchBody
			}
			phase := func(db string) time.Duration {
				var wg sync.WaitGroup
				var next atomic.Int64
				start := time.Now()
				for range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
						defer fasthttp.ReleaseRequest(req)
						defer fasthttp.ReleaseResponse(resp)
						req.Header.SetMethod("POST")
						req.SetRequestURI("http://bench/api/db/" + db + "/" + route)
						req.SetBody(body)
						for next.Add(1) <= perPhase {
							if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
								b.Errorf("%v %d %s", err, resp.StatusCode(), resp.Body())
								return
							}
						}
					}()
				}
				wg.Wait()
				return time.Since(start)
			}
			// settled has the buffered writer write every record it took
			// (async's, after its phase) at once.
			settled := func() {
				if err := rec.Flush(b.Context()); err != nil || rec.Stats().Waiting != 0 {
					b.Fatalf("flush: %v %+v", err, rec.Stats())
				}
			}
			wall := map[string]time.Duration{}
			cpu := map[string]time.Duration{}
			measured := func(db string) {
				c0 := cpuTime()
				wall[db] += phase(db)
				settled()
				cpu[db] += cpuTime() - c0
			}
			dbs := []string{"on", "off", "async"}
			for _, db := range dbs {
				phase(db)
			}
			settled()
			round := 0
			for b.Loop() {
				// Each database first, second and third in turn.
				for i := range dbs {
					measured(dbs[(i+round)%len(dbs)])
				}
				round++
			}
			n := float64(round * perPhase)
			for _, db := range dbs {
				b.ReportMetric(n/wall[db].Seconds(), db+"-req/s")
				b.ReportMetric(float64(cpu[db].Microseconds())/n, db+"-cpu-µs/req")
			}
			b.ReportMetric(wall["off"].Seconds()/wall["on"].Seconds(), "ratio")
			b.ReportMetric(wall["off"].Seconds()/wall["async"].Seconds(), "async-ratio")
			b.ReportMetric(0, "ns/op")
			if st := rec.Stats(); st.Committed == 0 || st.Written == 0 || st.Dropped != 0 {
				b.Errorf("recorder: %+v", st)
			}
		}
	}
}

// auditBenchServer is a gateway over an engine that records the
// statements of database "on" in their transactions, those of "async"
// after their commit, and not those of "off", each with a table kv of
// 10,000 rows.
func auditBenchServer(b *testing.B) (*gateway.Server, *audit.Recorder) {
	b.Helper()
	vol, err := volumes.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ref := &auditEngine{}
	rec := audit.NewRecorder(audit.Config{}, ref, nil)
	eng, err := wasm.New(wasm.Config{CacheDir: sharedCacheDir(), Audit: oneDB{rec, "on", true}}, vol.Resolve, nil)
	if err != nil {
		b.Fatal(err)
	}
	ref.Engine = eng
	b.Cleanup(func() { _ = rec.Close(b.Context()); _ = eng.Close(b.Context()) })
	opts := gateway.Options{Databases: vol, Audit: audit.NewService(eng)}
	srv := gateway.New(opts, gatewayEngine{eng, tables.New(eng), batch.New(eng, batch.Config{})}, local.New(vol), zap.NewNop())
	h := srv.Handler()
	for _, db := range []string{"on", "off", "async"} {
		do(b, h, "POST", "/admin/databases/spawn/"+db, "", "", 201)
		do(b, h, "POST", "/api/db/"+db+"/query", `{"sql":"CREATE TABLE kv (id INTEGER PRIMARY KEY, name TEXT, score REAL)"}`, "", 200)
		do(b, h, "POST", "/api/db/"+db+"/query",
			`{"sql":"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 10000) INSERT INTO kv SELECT i, 'name-' || i, i * 0.5 FROM n"}`, "", 200)
	}
	return srv, rec
}

// BenchmarkAuditEngine is BenchmarkAudit without HTTP: goroutines call
// the engine directly, so that the CPU per statement is the engine's (and
// the recorder's) alone. "query": single-row INSERTs through Query, from
// 16 goroutines (group commit) or 1 (every INSERT its own transaction,
// which the engine wraps in BEGIN IMMEDIATE … COMMIT to carry its
// record); "unit": Write units of ten single-row INSERTs (one
// transaction, one record of ten runs). Each request has a caller of its
// own (its request id), as the gateway's do, so that the records of a
// group are not merged into runs. "group" is the statements per group
// commit, "alone" the share that ran alone. "async" is recorded after
// its commits, as in BenchmarkAudit (the writer's CPU in its phase).
//
//	go test -run=NONE -bench='^BenchmarkAuditEngine$' -count=3 -benchtime=10x ./internal/app
func BenchmarkAuditEngine(b *testing.B) {
	for _, c := range []struct {
		kind    string
		workers int
	}{{"query", 16}, {"unit", 16}, {"query", 1}} {
		b.Run(fmt.Sprintf("%s/workers=%d", c.kind, c.workers), func(b *testing.B) { benchAuditEngine(b, c.kind == "unit", c.workers) })
	}
}

func benchAuditEngine(b *testing.B, unit bool, workers int) {
	perPhase := 3200
	if unit {
		perPhase = 640
	}
	vol, err := volumes.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ref := &auditEngine{}
	rec := audit.NewRecorder(audit.Config{}, ref, nil)
	eng, err := wasm.New(wasm.Config{CacheDir: sharedCacheDir(), Audit: oneDB{rec, "on", true}}, vol.Resolve, nil)
	if err != nil {
		b.Fatal(err)
	}
	ref.Engine = eng
	b.Cleanup(func() { _ = rec.Close(b.Context()); _ = eng.Close(b.Context()) })
	ctx := b.Context()
	dbs := []string{"on", "off", "async"}
	for _, db := range dbs {
		if _, err := vol.Create(db); err != nil {
			b.Fatal(err)
		}
		if _, err := eng.Query(ctx, db, forge.Statement{SQL: "CREATE TABLE kv (id INTEGER PRIMARY KEY, name TEXT, score REAL)"}, nil); err != nil {
			b.Fatal(err)
		}
	}
	q := forge.Statement{SQL: "INSERT INTO kv (name, score) VALUES (?, ?)", Meta: true,
		Params: forge.Params{Positional: []forge.Value{forge.TextValue("x"), forge.FloatValue(1.5)}}}
	phase := func(db string) time.Duration {
		var wg sync.WaitGroup
		var next atomic.Int64
		start := time.Now()
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next.Add(1); i <= int64(perPhase); i = next.Add(1) {
					// A caller per request, as the gateway's: a request id
					// of its own.
					cctx := forge.WithCaller(ctx, &forge.Caller{KeyID: "key_0123456789ab",
						RequestID: "0123456789ab-" + strconv.FormatInt(i, 10), Route: "/api/db/{db_name}/query"})
					var err error
					if unit {
						err = eng.Write(cctx, db, func(tx forge.Tx) error {
							for range 10 {
								if _, err := tx.Run(cctx, q, nil); err != nil {
									return err
								}
							}
							return nil
						})
					} else {
						_, err = eng.Query(cctx, db, q, nil)
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	settled := func() {
		if err := rec.Flush(ctx); err != nil || rec.Stats().Waiting != 0 {
			b.Fatalf("flush: %v %+v", err, rec.Stats())
		}
	}
	for _, db := range dbs {
		phase(db)
	}
	settled()
	wall := map[string]time.Duration{}
	cpu := map[string]time.Duration{}
	groups := map[string]int64{}
	grouped := map[string]int64{}
	round := 0
	for b.Loop() {
		for i := range dbs {
			db := dbs[(i+round)%len(dbs)]
			c0, s0 := cpuTime(), eng.Stats()
			wall[db] += phase(db)
			s1 := eng.Stats()
			settled()
			cpu[db] += cpuTime() - c0
			groups[db] += s1.WriteBatches - s0.WriteBatches
			grouped[db] += s1.BatchedWrites - s0.BatchedWrites
		}
		round++
	}
	n := float64(round * perPhase)
	for _, db := range dbs {
		b.ReportMetric(n/wall[db].Seconds(), db+"-op/s")
		b.ReportMetric(float64(cpu[db].Nanoseconds())/n/1000, db+"-cpu-µs/op")
		if !unit {
			b.ReportMetric(float64(grouped[db])/float64(max(groups[db], 1)), db+"-group")
			b.ReportMetric((n-float64(grouped[db]))/n, db+"-alone")
		}
	}
	b.ReportMetric(wall["off"].Seconds()/wall["on"].Seconds(), "ratio")
	b.ReportMetric(wall["off"].Seconds()/wall["async"].Seconds(), "async-ratio")
	b.ReportMetric(0, "ns/op")
}
