// Command ceiling-engine is the third ceiling of the benchmark: the engine
// in-process, no HTTP. It loops one operation on prepared statements for a
// duration and prints one JSON object with the rate:
//
//	select  the point SELECT by primary key (reading the row's values), on
//	        -workers connections, one goroutine each
//	insert  a single-row autocommit INSERT through one writer connection
//	bulk    1,000-row INSERT transactions through one writer (ops = transactions)
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/praetorian/db-forge/bench/ceiling"
)

type result struct {
	Mode      string  `json:"mode"`
	Workers   int     `json:"workers"`
	Ops       int64   `json:"ops"`
	Seconds   float64 `json:"seconds"`
	OpsPerSec float64 `json:"ops_per_sec"`
	NsPerOp   float64 `json:"ns_per_op"`
	CPUPerOp  float64 `json:"cpu_us_per_op"` // process CPU (user + system) per op
}

// cpuTime is the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	path := flag.String("db", "", "database file (created and seeded if empty)")
	rows := flag.Int("rows", 10000, "rows of the table")
	mode := flag.String("mode", "select", "select, insert or bulk")
	workers := flag.Int("workers", 1, "goroutines, each with its own connection (select only)")
	duration := flag.Duration("duration", 3*time.Second, "measured time")
	warmup := flag.Duration("warmup", 300*time.Millisecond, "unmeasured time before")
	batch := flag.Int("batch", 1000, "rows per bulk transaction")
	cache := flag.String("cache", "", "wazero compilation cache directory")
	flag.Parse()
	res, err := run(*path, *rows, *mode, *workers, *batch, *duration, *warmup, *cache)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ceiling-engine:", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
}

func run(path string, rows int, mode string, workers, batch int, duration, warmup time.Duration, cache string) (result, error) {
	if path == "" {
		return result{}, fmt.Errorf("-db is required")
	}
	if err := ceiling.Init(cache); err != nil {
		return result{}, err
	}
	if mode != "select" {
		workers = 1
	}
	points := make([]*ceiling.Point, max(workers, 1))
	for i := range points {
		db, err := ceiling.Open(path)
		if err != nil {
			return result{}, err
		}
		if i == 0 {
			if err := ceiling.Seed(db, rows); err != nil {
				return result{}, err
			}
		}
		if points[i], err = ceiling.NewPoint(db); err != nil {
			return result{}, err
		}
		defer points[i].Close()
	}
	var op func(p *ceiling.Point, r *rand.Rand) error
	switch mode {
	case "select":
		op = func(p *ceiling.Point, r *rand.Rand) error {
			_, err := p.Select(1 + r.Int64N(int64(rows)))
			return err
		}
	case "insert":
		op = func(p *ceiling.Point, _ *rand.Rand) error { return p.Insert("x", 1.5) }
	case "bulk":
		op = func(p *ceiling.Point, _ *rand.Rand) error { return p.InsertBatch(batch) }
	default:
		return result{}, fmt.Errorf("mode %q: want select, insert or bulk", mode)
	}

	var measuring, stop atomic.Bool
	var ops atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	for i, p := range points {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 7))
			n := int64(0)
			for !stop.Load() {
				m := measuring.Load()
				if err := op(p, r); err != nil {
					errOnce.Do(func() { firstErr = err })
					stop.Store(true)
					return
				}
				if m {
					n++
				}
			}
			ops.Add(n)
		}()
	}
	time.Sleep(warmup)
	measuring.Store(true)
	start, cpu0 := time.Now(), cpuTime()
	time.Sleep(duration)
	stop.Store(true)
	wg.Wait()
	elapsed, cpu := time.Since(start).Seconds(), cpuTime()-cpu0
	if firstErr != nil {
		return result{}, firstErr
	}
	res := result{Mode: mode, Workers: len(points), Ops: ops.Load(), Seconds: elapsed}
	res.OpsPerSec = float64(res.Ops) / elapsed
	if res.Ops > 0 {
		res.NsPerOp = elapsed * 1e9 / float64(res.Ops) * float64(len(points))
		res.CPUPerOp = float64(cpu) / float64(time.Microsecond) / float64(res.Ops)
	}
	return res, nil
}
