package wasm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// Group commit (groupcommit.go), deterministically: the test holds the
// database's writer (a lease, through the writer queue's own methods)
// while the statements queue, then lets go, so that they run as one group.

type groupResult struct {
	res forge.Result
	err error
}

// inOneGroup runs stmts (each with its own context) as one group on
// database name and returns their answers in order; the writer is kept
// for hold more once they have all queued.
func inOneGroup(t *testing.T, e *Engine, name string, ctxs []context.Context, stmts []forge.Statement, hold time.Duration) []groupResult {
	t.Helper()
	return inOneGroupW(t, e, name, ctxs, nil, stmts, hold)
}

// inOneGroupW is inOneGroup with a row writer per statement (nil: none).
func inOneGroupW(t *testing.T, e *Engine, name string, ctxs []context.Context, ws []forge.RowWriter, stmts []forge.Statement, hold time.Duration) []groupResult {
	t.Helper()
	for _, s := range stmts {
		e.writes.add(s.SQL)
		e.groupable.add(s.SQL)
	}
	db, release := holdTheWriter(t, e, name)
	out := make([]groupResult, len(stmts))
	var wg sync.WaitGroup
	for i, s := range stmts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			if ctxs != nil && ctxs[i] != nil {
				ctx = ctxs[i]
			}
			var w forge.RowWriter
			if ws != nil {
				w = ws[i]
			}
			out[i].res, out[i].err = e.Query(ctx, name, s, w)
		}()
		// They queue in order; the first will lead the group.
		waitQueued(t, db, i+1)
	}
	time.Sleep(hold)
	release()
	wg.Wait()
	return out
}

// holdTheWriter leases database name's writer, as a long write would,
// until release.
func holdTheWriter(t *testing.T, e *Engine, name string) (*database, func()) {
	t.Helper()
	db, err := e.acquire(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	l := new(lease)
	if err := db.lease(context.Background(), l); err != nil {
		e.release(db)
		t.Fatal(err)
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			db.endLease(l)
			e.release(db)
		})
	}
	t.Cleanup(release)
	return db, release
}

// waitQueued waits until n requests wait for db's writer.
func waitQueued(t *testing.T, db *database, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		state, queued := db.wq.snapshot()
		if queued == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests wait for the writer (%s), want %d", queued, state, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func wstmt(sql string, args ...any) forge.Statement {
	vals := make([]forge.Value, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case int:
			vals[i] = forge.IntValue(int64(v))
		case string:
			vals[i] = forge.TextValue(v)
		}
	}
	return forge.Statement{SQL: sql, Params: forge.Params{Positional: vals}}
}

func values(t *testing.T, e *Engine, db string) string {
	t.Helper()
	rec, _ := query(t, e, db, "SELECT group_concat(v, ',') FROM (SELECT v FROM t ORDER BY v)", forge.Params{})
	return fmt.Sprint(rec.rows[0][0].Str)
}

func TestGroupCommitCommitsEachStatementOrItsOwnError(t *testing.T) {
	e, _, db := newDB(t, Config{})
	exec(t, e, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER UNIQUE);\nINSERT INTO t (v) VALUES (5)")
	before := e.Stats()
	const ins = "INSERT INTO t (v) VALUES (?)"
	got := inOneGroup(t, e, db, nil, []forge.Statement{
		wstmt(ins, 1),
		wstmt(ins, 5), // UNIQUE: fails alone
		wstmt(ins, 2),
		wstmt(ins, 3, 4), // wrong number of bindings
		wstmt("UPDATE t SET v = v + 10 WHERE v = ?", 2), // sees the group's own earlier insert
		wstmt("DELETE FROM t WHERE v = ?", 1),
	}, 0)
	want := []string{"", "UNIQUE constraint failed", "", "Incorrect number of bindings", "", ""}
	for i, w := range want {
		if w == "" && got[i].err != nil || w != "" && (got[i].err == nil || !strings.Contains(got[i].err.Error(), w)) {
			t.Errorf("statement %d: %v, want %q", i, got[i].err, w)
		}
	}
	if got[0].res.RowsAffected != 1 || got[4].res.RowsAffected != 1 || got[5].res.RowsAffected != 1 {
		t.Errorf("rows affected: %+v", got)
	}
	if v := values(t, e, db); v != "5,12" {
		t.Errorf("table holds %s, want 5,12", v)
	}
	s := e.Stats()
	if s.WriteBatches-before.WriteBatches != 1 || s.BatchedWrites-before.BatchedWrites != 6 || s.RedoneWrites != before.RedoneWrites {
		t.Errorf("stats %+v, before %+v: want one group of 6, none redone", s, before)
	}
}

// A statement whose failure rolls back the whole transaction takes the
// others' work with it: they run again alone, and all commit.
func TestGroupCommitLostTransactionRunsTheOthersAgain(t *testing.T) {
	for _, c := range []struct{ name, setup, culprit string }{
		{"insert or rollback", "", "INSERT OR ROLLBACK INTO t (v) VALUES (5)"},
		{"trigger raises rollback", "CREATE TRIGGER no99 BEFORE INSERT ON t WHEN new.v = 99 BEGIN SELECT RAISE(ROLLBACK, 'no 99'); END",
			"INSERT INTO t (v) VALUES (99)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, _, db := newDB(t, Config{})
			exec(t, e, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER UNIQUE);\nINSERT INTO t (v) VALUES (5)")
			if c.setup != "" {
				exec(t, e, db, c.setup)
			}
			before := e.Stats()
			const ins = "INSERT INTO t (v) VALUES (?)"
			got := inOneGroup(t, e, db, nil, []forge.Statement{wstmt(ins, 1), wstmt(ins, 2), wstmt(c.culprit), wstmt(ins, 3)}, 0)
			for i, r := range got {
				if (i == 2) != (r.err != nil) {
					t.Errorf("statement %d: %v", i, r.err)
				}
			}
			if v := values(t, e, db); v != "1,2,3,5" {
				t.Errorf("table holds %s, want 1,2,3,5", v)
			}
			if n := e.Stats().RedoneWrites - before.RedoneWrites; n != 3 {
				t.Errorf("redone %d, want 3", n)
			}
		})
	}
}

// A request whose deadline passes before its group runs times out without
// running; the others commit. A follower times out in the queue; a leader
// while it waits for the writer, and hands the lead on.
func TestGroupCommitTimeouts(t *testing.T) {
	for _, c := range []struct {
		name  string
		short int // the statement with the short deadline
		want  string
	}{{"follower in the queue", 1, "1,3"}, {"leader waiting for the writer", 0, "2,3"}} {
		t.Run(c.name, func(t *testing.T) {
			e, _, db := newDB(t, Config{})
			exec(t, e, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER UNIQUE)")
			short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			ctxs := make([]context.Context, 3)
			ctxs[c.short] = short
			const ins = "INSERT INTO t (v) VALUES (?)"
			// Hold the writer past the short deadline before the group runs.
			got := inOneGroup(t, e, db, ctxs, []forge.Statement{wstmt(ins, 1), wstmt(ins, 2), wstmt(ins, 3)}, 600*time.Millisecond)
			for i, r := range got {
				if i == c.short && !errors.Is(r.err, forge.ErrTimeout) || i != c.short && r.err != nil {
					t.Errorf("statement %d: %v", i, r.err)
				}
			}
			if v := values(t, e, db); v != c.want {
				t.Errorf("table holds %s, want %s", v, c.want)
			}
		})
	}
}

// What may join a group is what SQLite prepares as plain DML without
// result rows.
func TestGroupCommitableStatements(t *testing.T) {
	e, _, db := newDB(t, Config{})
	exec(t, e, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v)")
	cases := []struct {
		sql  string
		want bool
	}{
		{"INSERT INTO t (v) VALUES (1)", true},
		{"insert   into t(v) values (2)", true},
		{"REPLACE INTO t (id, v) VALUES (1, 1)", true},
		{"UPDATE t SET v = 3 WHERE id = 1", true},
		{"DELETE FROM t WHERE id = 99", true},
		{"INSERT INTO t (v) SELECT v FROM t WHERE id = 1", true},
		{"WITH x(a) AS (SELECT 7) INSERT INTO t (v) SELECT a FROM x", true},
		{"INSERT OR ROLLBACK INTO t (v) VALUES (4)", true}, // undone as a whole: see above
		{"INSERT INTO t (v) VALUES (5) RETURNING id", false},
		{"SELECT * FROM t", false},
		{"BEGIN", false},
		{"SAVEPOINT s", false},
		{"PRAGMA user_version = 3", false},
		{"CREATE TABLE u (x)", false},
		{"CREATE INDEX ti ON t (v)", false},
		{"ANALYZE", false},
	}
	db0, err := e.acquire(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer e.release(db0)
	var l lease
	if err := db0.lease(context.Background(), &l); err != nil {
		t.Fatal(err)
	}
	defer db0.endLease(&l)
	c := l.conn
	for _, tc := range cases {
		st, err := c.prepare(tc.sql)
		if err != nil {
			t.Errorf("%s: %v", tc.sql, err)
			continue
		}
		if st.groupable != tc.want {
			t.Errorf("%s: groupable %v, want %v", tc.sql, st.groupable, tc.want)
		}
	}
}

// Many writers at once on one database: every statement is answered and
// committed exactly once (run with -race).
func TestGroupCommitConcurrentWriters(t *testing.T) {
	e, _, db := newDB(t, Config{})
	exec(t, e, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, w INTEGER, i INTEGER, UNIQUE (w, i))")
	const writers, each = 16, 100
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				res, err := e.Query(context.Background(), db, wstmt("INSERT INTO t (w, i) VALUES (?, ?)", w, i), nil)
				if err == nil && res.RowsAffected != 1 {
					err = fmt.Errorf("rows affected %d", res.RowsAffected)
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := queryInt(t, e, db, "SELECT count(*) FROM t"); n != writers*each {
		t.Errorf("%d rows, want %d", n, writers*each)
	}
	s := e.Stats()
	t.Logf("groups %d, grouped writes %d, redone %d", s.WriteBatches, s.BatchedWrites, s.RedoneWrites)
}

// MaxWriteBatch 1 turns group commit off: nothing queues.
func TestGroupCommitOff(t *testing.T) {
	e, _, db := newDB(t, Config{MaxWriteBatch: 1})
	exec(t, e, db, "CREATE TABLE t (v)")
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				query(t, e, db, "INSERT INTO t (v) VALUES (1)", forge.Params{})
			}
		}()
	}
	wg.Wait()
	if s := e.Stats(); s.WriteBatches != 0 || s.BatchedWrites != 0 {
		t.Errorf("stats %+v with MaxWriteBatch 1", s)
	}
	if n := queryInt(t, e, db, "SELECT count(*) FROM t"); n != 160 {
		t.Errorf("%d rows", n)
	}
}

// A statement that traps its instance inside a group loses the group's
// transaction: the instance is replaced, the culprit gets its fault, the
// others run again alone and commit.
func TestGroupCommitFaultAnswersOnlyTheCulprit(t *testing.T) {
	e, _, db := newDB(t, Config{Limits: Limits{ExprDepth: 1000}})
	exec(t, e, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER UNIQUE)")
	const ins = "INSERT INTO t (v) VALUES (?)"
	got := inOneGroup(t, e, db, nil, []forge.Statement{
		wstmt(ins, 1), wstmt("INSERT INTO t (v) SELECT 1" + strings.Repeat("+1", 400)), wstmt(ins, 2),
	}, 0)
	if got[0].err != nil || got[2].err != nil || !errors.Is(got[1].err, forge.ErrEngineFault) {
		t.Fatalf("answers %+v: want only the middle one to fault", got)
	}
	if v := values(t, e, db); v != "1,2" {
		t.Errorf("table holds %s, want 1,2", v)
	}
	if s := e.Stats(); s.Faults < 2 || s.RedoneWrites != 3 {
		t.Errorf("stats %+v: want the group's instance and the culprit's discarded, all three redone", s)
	}
}

// A write past the size quota fails alone; the rest of its group commits.
func TestGroupCommitDatabaseFull(t *testing.T) {
	e, _, db := newDB(t, Config{MaxDBBytes: 128 << 10})
	exec(t, e, db, "CREATE TABLE t (v)")
	small, big := wstmt("INSERT INTO t (v) VALUES (randomblob(1000))"), wstmt("INSERT INTO t (v) VALUES (randomblob(300000))")
	got := inOneGroup(t, e, db, nil, []forge.Statement{small, big, small}, 0)
	if got[0].err != nil || got[2].err != nil || !errors.Is(got[1].err, forge.ErrDatabaseFull) {
		t.Fatalf("answers %+v", got)
	}
	if n := queryInt(t, e, db, "SELECT count(*) FROM t"); n != 2 {
		t.Errorf("%d rows, want 2", n)
	}
}

// Texts never seen before that read as DML go to the queue at once: an
// agent that inlines its values still gets group commit. One that turns
// out not to be groupable (RETURNING) runs alone and streams its rows.
func TestGroupCommitNewTextsAndReturning(t *testing.T) {
	e, _, db := newDB(t, Config{})
	exec(t, e, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER UNIQUE)")
	rec := &recorder{}
	got := inOneGroupW(t, e, db, nil, []forge.RowWriter{nil, rec, nil, nil}, []forge.Statement{
		{SQL: "INSERT INTO t (v) VALUES (1)"},
		{SQL: "insert into t (v) values (2) returning id, v"},
		{SQL: "/* agent */ INSERT INTO t (v) VALUES (3)"},
		{SQL: "UPDATE nosuch SET v = 1"},
	}, 0)
	if got[0].err != nil || got[1].err != nil || got[2].err != nil || got[3].err == nil {
		t.Fatalf("answers %+v", got)
	}
	checkRows(t, "RETURNING", rec.rows, rows(row(3, 2))) // runs after the group: id 3
	if !got[1].res.ReturnsRows || got[1].res.RowsAffected != 1 {
		t.Errorf("RETURNING result %+v", got[1].res)
	}
	if v := values(t, e, db); v != "1,2,3" {
		t.Errorf("table holds %s", v)
	}
	if s := e.Stats(); s.WriteBatches != 1 || s.RedoneWrites != 1 {
		t.Errorf("stats %+v: want one group, the RETURNING statement run again alone", s)
	}
}

func TestLooksLikeDML(t *testing.T) {
	cases := map[string]bool{
		"INSERT INTO t VALUES (1)": true, "  insert into t values (1)": true, "Update t SET v=1": true,
		"DELETE FROM t": true, "REPLACE INTO t VALUES (1)": true, "-- c\nINSERT INTO t VALUES (1)": true,
		"/* c */INSERT INTO t VALUES (1)": true, "\n\tDELETE\nFROM t": true,
		"SELECT 1": false, "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x": false, "BEGIN": false,
		"INSERTED": false, "insert_x": false, "": false, "-- only a comment": false,
		"/* unterminated": false, "PRAGMA user_version=1": false, "UPDATEX t": false,
		// A bare keyword is a syntax error either way: routed to the queue,
		// SQLite refuses it there, as it would elsewhere.
		"INSERT": true,
	}
	for sql, want := range cases {
		if got := looksLikeDML(sql); got != want {
			t.Errorf("looksLikeDML(%q) = %v, want %v", sql, got, want)
		}
	}
}

// TestQueuedWriteKeepsItsOwnDeadline: a write queued behind a leader that
// waits for the writer (held here, as a long write would) answers at its own
// deadline, not at the leader's (issue 17, bug 1: a write sent with 100 ms
// answered after 2 s). It leaves the queue, so nothing of it runs later.
func TestQueuedWriteKeepsItsOwnDeadline(t *testing.T) {
	e, _, db := newDB(t, Config{MaxQueryTimeout: time.Minute})
	exec(t, e, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER UNIQUE)")
	const ins = "INSERT INTO t (v) VALUES (?)"
	e.writes.add(ins)
	e.groupable.add(ins)
	d, release := holdTheWriter(t, e, db) // a long write holds the writer

	leaderCtx, cancelLeader := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelLeader()
	leader := make(chan error, 1)
	go func() { _, err := e.Query(leaderCtx, db, wstmt(ins, 1), nil); leader <- err }()
	waitQueued(t, d, 1)
	shortCtx, cancelShort := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancelShort()
	short := make(chan error, 1)
	go func() { _, err := e.Query(shortCtx, db, wstmt(ins, 2), nil); short <- err }()
	select {
	case err := <-short:
		if !errors.Is(err, forge.ErrTimeout) {
			t.Fatalf("short write: %v, want ErrTimeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the short write waited for the leader, past its own deadline")
	}
	release()
	if err := <-leader; err != nil {
		t.Fatal(err)
	}
	if v := values(t, e, db); v != "1" {
		t.Errorf("table holds %s, want 1 (the timed-out write must not run)", v)
	}
}
