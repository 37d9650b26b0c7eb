package app_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestIdempotencyAcrossKill kills the gateway process (SIGKILL) at random
// points while clients send idempotent inserts (single, and batches), restarts it, and retries
// every request whose answer was not received with the same key: each row
// exists exactly once, and every answer (first or replayed) is the same,
// down to the id the INSERT … RETURNING returned.
func TestIdempotencyAcrossKill(t *testing.T) {
	k := newKillable(t)
	c := idemClient{base: k.base, apiKey: testAdminKey, http: &http.Client{Timeout: 20 * time.Second}}
	k.start()
	expectAnswer(t, "spawn", c.send(t, "POST", "/admin/databases/spawn/kill", "", ""), 201, false)
	expectAnswer(t, "create", c.send(t, "POST", "/api/db/kill/query", "",
		`{"sql":"CREATE TABLE t(id INTEGER PRIMARY KEY, req TEXT NOT NULL)"}`), 200, false)

	// Every third request is a batch of two inserts (its answer and both
	// rows commit together); the others a single insert.
	body := func(i int) string {
		r := `"r` + strconv.Itoa(i)
		if i%3 == 0 {
			return `{"statements":[{"sql":"INSERT INTO t(req) VALUES (?) RETURNING id, req","params":[` + r + `"]},` +
				`{"sql":"INSERT INTO t(req) VALUES (?) RETURNING id, req","params":[` + r + `-b"]}]}`
		}
		return `{"sql":"INSERT INTO t(req) VALUES (?) RETURNING id, req","params":[` + r + `"]}`
	}
	path := func(i int) string {
		if i%3 == 0 {
			return "/api/db/kill/batch"
		}
		return "/api/db/kill/query"
	}
	key := func(i int) string { return "kill-" + strconv.Itoa(i) }
	var mu sync.Mutex
	answers := map[int]string{} // the answer each request got
	var pending []int           // sent, not answered
	next := 0
	retried := map[int]bool{}

	const kills, workers = 5, 4
	for round := range kills {
		ctx, stop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					mu.Lock()
					i := next
					next++
					mu.Unlock()
					a, err := c.try("POST", path(i), key(i), body(i))
					mu.Lock()
					if err != nil || a.status != 200 {
						pending = append(pending, i) // no answer, or the kill's 5xx
					} else {
						answers[i] = a.body
					}
					mu.Unlock()
				}
			}()
		}
		time.Sleep(time.Duration(100+rand.IntN(250)) * time.Millisecond)
		k.kill()
		stop()
		wg.Wait()
		k.start()
		// Retry what was not answered, with the same key.
		retry := pending
		pending = nil
		for _, i := range retry {
			a := c.send(t, "POST", path(i), key(i), body(i))
			if a.status != 200 {
				t.Fatalf("round %d: retry of %d: %d %s", round, i, a.status, a.body)
			}
			answers[i] = a.body
			retried[i] = true
		}
		t.Logf("round %d: %d requests so far, %d retried after the kill", round, next, len(retry))
	}
	// Requests once more (every retried one, and a sample of the rest):
	// a replay of the very answer each got.
	for i := range next {
		if !retried[i] && i%16 != 0 {
			continue
		}
		a := c.send(t, "POST", path(i), key(i), body(i))
		if a.status != 200 || !a.replayed || a.body != answers[i] {
			t.Fatalf("request %d: replay %d (replayed %v) %s; first answer %s", i, a.status, a.replayed, a.body, answers[i])
		}
	}
	// Each row exactly once.
	a := c.send(t, "POST", "/api/db/kill/query", "", `{"sql":"SELECT count(*) AS n, count(DISTINCT req) AS d FROM t"}`)
	// The answer's "meta" (durations, counters) varies; the rows do not.
	rows := next + (next+2)/3 // a batch wrote two
	want := fmt.Sprintf(`{"data":[{"n":%d,"d":%d}],"rows_affected":1`, rows, rows)
	if !strings.HasPrefix(a.body, want) {
		t.Fatalf("rows: %s, want %s", a.body, want)
	}
}
