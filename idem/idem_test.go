package idem_test

import (
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/idem"
	"github.com/praetorian/db-forge/volumes"
	"github.com/praetorian/db-forge/wasm"
)

// newEngine is a real engine over a fresh data directory with database
// "db" holding table t.
func newEngine(t *testing.T) *wasm.Engine {
	t.Helper()
	vol, err := volumes.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e, err := wasm.New(wasm.Config{CacheDir: filepath.Join(os.TempDir(), "db-forge-test-wasm-cache")}, vol.Resolve, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	if _, err := vol.Create("db"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Query(context.Background(), "db", forge.Statement{SQL: "CREATE TABLE t (v)"}, nil); err != nil {
		t.Fatal(err)
	}
	return e
}

func key(k string, body string) forge.IdempotencyKey {
	out := forge.IdempotencyKey{Scope: "s", Key: k}
	copy(out.Hash[:], body)
	return out
}

// insertV is a request's work: insert v, answer "v".
func insertV(v string, calls *int) func(forge.Tx) (forge.Answer, error) {
	return func(tx forge.Tx) (forge.Answer, error) {
		*calls++
		_, err := tx.Run(context.Background(), forge.Statement{SQL: "INSERT INTO t VALUES (?)",
			Params: forge.Params{Positional: []forge.Value{forge.TextValue(v)}}}, nil)
		return forge.Answer{Status: 201, ContentType: "application/json", Body: []byte(`{"v":"` + v + `"}`)}, err
	}
}

// readV is a read's work: on its own (tx nil) or on the read unit.
func readV(reads *int) func(forge.Tx) (forge.Answer, error) {
	return func(tx forge.Tx) (forge.Answer, error) {
		*reads++
		return forge.Answer{Status: 200, ContentType: "application/json", Body: []byte(`{"read":true}`)}, nil
	}
}

func count(t *testing.T, e *wasm.Engine) int64 {
	t.Helper()
	var n int64
	err := e.Read(context.Background(), "db", func(tx forge.Tx) error {
		var r countReader
		_, err := tx.Run(context.Background(), forge.Statement{SQL: "SELECT count(*) FROM t"}, &r)
		n = r.n
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type countReader struct{ n int64 }

func (r *countReader) Columns([]string) error  { return nil }
func (r *countReader) Row(row forge.Row) error { r.n = row.Int(0); return nil }

// A service that starts over a database with records (a restart) knows
// their keys once it has loaded them: a used key replays, on a write and
// on a read, and a reused key is 422; a new key's read runs as a plain
// read, and its write records.
func TestKeysAcrossARestart(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	calls := 0
	first := idem.New(e, 0)
	a, replayed, err := first.Do(ctx, "db", key("k1", "body1"), insertV("a", &calls))
	if err != nil || replayed || string(a.Body) != `{"v":"a"}` {
		t.Fatalf("first: %v %v %s", err, replayed, a.Body)
	}
	for _, s := range []*idem.Service{first, idem.New(e, 0)} { // the same process, a restart
		a, replayed, err = s.Do(ctx, "db", key("k1", "body1"), insertV("a", &calls))
		if err != nil || !replayed || string(a.Body) != `{"v":"a"}` || a.ContentType != "application/json" {
			t.Fatalf("write again: %v %v %q %s", err, replayed, a.ContentType, a.Body)
		}
		reads := 0
		a, replayed, err = s.DoRead(ctx, "db", key("k1", "body1"), readV(&reads), insertV("a", &calls))
		if err != nil || !replayed || reads != 0 {
			t.Fatalf("read with a used key: %v %v %d", err, replayed, reads)
		}
		if _, _, err := s.DoRead(ctx, "db", key("k1", "other"), readV(&reads), insertV("a", &calls)); !errors.Is(err, forge.ErrIdempotencyKeyReused) {
			t.Fatalf("reused on a read: %v", err)
		}
		a, replayed, err = s.DoRead(ctx, "db", key("new-read", "r"), readV(&reads), insertV("x", &calls))
		if err != nil || replayed || reads != 1 || string(a.Body) != `{"read":true}` {
			t.Fatalf("read with a new key: %v %v %d %s", err, replayed, reads, a.Body)
		}
	}
	a, replayed, err = idem.New(e, 0).Do(ctx, "db", key("k2", "body2"), insertV("b", &calls))
	if err != nil || replayed {
		t.Fatalf("new key after a restart: %v %v", err, replayed)
	}
	if calls != 2 || count(t, e) != 2 {
		t.Fatalf("work ran %d times, %d rows; want 2, 2", calls, count(t, e))
	}
}

// A read that turns out to write (forge.ErrReadOnly) runs as a write,
// with its record.
func TestReadThatWrites(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	s := idem.New(e, 0)
	calls := 0
	notARead := func(forge.Tx) (forge.Answer, error) { return forge.Answer{}, forge.ErrReadOnly }
	for i, want := range []bool{false, true} {
		_, replayed, err := s.DoRead(ctx, "db", key("w", "b"), notARead, insertV("a", &calls))
		if err != nil || replayed != want {
			t.Fatalf("%d: %v %v", i, err, replayed)
		}
	}
	if calls != 1 || count(t, e) != 1 {
		t.Fatalf("work ran %d times, %d rows", calls, count(t, e))
	}
}

// Past maxKnown keys the set is dropped and every key is looked up: the
// answers stay right.
func TestKnownKeysOverflow(t *testing.T) {
	defer idem.SetMaxKnown(3)()
	e := newEngine(t)
	ctx := context.Background()
	s := idem.New(e, 0)
	calls := 0
	for i := range 6 {
		k := key(string(rune('a'+i)), "b")
		if _, replayed, err := s.Do(ctx, "db", k, insertV("v", &calls)); err != nil || replayed {
			t.Fatalf("%d: %v %v", i, err, replayed)
		}
	}
	for _, svc := range []*idem.Service{s, idem.New(e, 0)} {
		for i := range 6 {
			k := key(string(rune('a'+i)), "b")
			reads := 0
			if _, replayed, err := svc.DoRead(ctx, "db", k, readV(&reads), insertV("v", &calls)); err != nil || !replayed || reads != 0 {
				t.Fatalf("%d: %v %v %d", i, err, replayed, reads)
			}
		}
	}
	if calls != 6 || count(t, e) != 6 {
		t.Fatalf("work ran %d times, %d rows", calls, count(t, e))
	}
}

// Records written together at a group's commit (many keyed writes at
// once, sharing group commit) replay each its own answer, in the same
// process and after a restart, and a reused key is 422.
func TestRecordsOfAGroup(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	s := idem.New(e, 0)
	// A first record makes the table, so that the rest go in at commit.
	calls := 0
	if _, _, err := s.Do(ctx, "db", key("first", "b"), insertV("first", &calls)); err != nil {
		t.Fatal(err)
	}
	const n = 48
	before := e.Stats()
	errs := make(chan error, n)
	for i := range n {
		go func() {
			v := strconv.Itoa(i)
			c := 0
			_, replayed, err := s.Do(ctx, "db", key("k"+v, "body"+v), insertV(v, &c))
			if err == nil && replayed {
				err = errors.New("replayed a new key")
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if e.Stats().WriteBatches == before.WriteBatches {
		t.Log("no group formed: the records went in one by one")
	}
	for _, svc := range []*idem.Service{s, idem.New(e, 0)} {
		for i := range n {
			v := strconv.Itoa(i)
			a, replayed, err := svc.Do(ctx, "db", key("k"+v, "body"+v), insertV("again", &calls))
			if err != nil || !replayed || string(a.Body) != `{"v":"`+v+`"}` {
				t.Fatalf("k%s: %v %v %s", v, err, replayed, a.Body)
			}
			if _, _, err := svc.Do(ctx, "db", key("k"+v, "other"), insertV("again", &calls)); !errors.Is(err, forge.ErrIdempotencyKeyReused) {
				t.Fatalf("k%s reused: %v", v, err)
			}
		}
	}
	if calls != 1 || count(t, e) != n+1 {
		t.Fatalf("work ran %d more times, %d rows; want none, %d", calls-1, count(t, e), n+1)
	}
}

// A database whose file was replaced (here: records written by another
// service, as a restored file brings them) is forgotten, and the keys of
// the new file's records replay; without Forget the first service's
// complete key set would let the request run again.
func TestForgetAfterTheFileChanged(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	calls := 0
	s := idem.New(e, 0)
	if _, _, err := s.Do(ctx, "db", key("k1", "b1"), insertV("a", &calls)); err != nil {
		t.Fatal(err)
	}
	// The set of s is complete now (loaded by its first request). Another
	// writer of records, standing for a file replaced under s:
	if _, _, err := idem.New(e, 0).Do(ctx, "db", key("k2", "b2"), insertV("b", &calls)); err != nil {
		t.Fatal(err)
	}
	s.Forget("db")
	a, replayed, err := s.Do(ctx, "db", key("k2", "b2"), insertV("b", &calls))
	if err != nil || !replayed || string(a.Body) != `{"v":"b"}` {
		t.Fatalf("after Forget: %v %v %s", err, replayed, a.Body)
	}
	if calls != 2 || count(t, e) != 2 {
		t.Fatalf("work ran %d times, %d rows; want 2, 2", calls, count(t, e))
	}
}

// bookkeeping runs the engine's own statements on db (as the service
// does), here to stand for a database of an older version.
func bookkeeping(t *testing.T, e *wasm.Engine, sqls ...string) {
	t.Helper()
	err := e.Write(context.Background(), "db", func(tx forge.Tx) error {
		for _, q := range sqls {
			if _, err := tx.Run(context.Background(), forge.Statement{SQL: q, Bookkeeping: true}, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Records in the table of before LogTable (primary key on the key) are
// still found: replayed on a write and on a read, and a reused key is
// 422, whether the key set says where (round 0) or is past maxKnown and
// every key is looked up (round 1); new records go to LogTable.
func TestRecordsOfTheOldTable(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	hash := key("old", "body")
	bookkeeping(t, e,
		"CREATE TABLE "+idem.Table+" (key_scope TEXT NOT NULL, key TEXT NOT NULL, request_hash BLOB NOT NULL, "+
			"status INTEGER NOT NULL, content_type TEXT NOT NULL, body BLOB NOT NULL, "+
			"created_at INTEGER NOT NULL, PRIMARY KEY (key_scope, key))",
		"INSERT INTO "+idem.Table+" VALUES ('s', 'old', x'"+hex.EncodeToString(hash.Hash[:])+"', 201, 'application/json', '{\"v\":\"old\"}', "+now+")",
		"INSERT INTO "+idem.Table+" VALUES ('s', 'old2', x'"+hex.EncodeToString(hash.Hash[:])+"', 201, 'application/json', '{\"v\":\"old2\"}', "+now+")",
	)
	calls := 0
	for round := range 2 {
		if round == 1 {
			// Past maxKnown (1) keys: no set, every key scanned for.
			defer idem.SetMaxKnown(1)()
		}
		s := idem.New(e, 0)
		if round == 1 {
			if _, _, err := s.Do(ctx, "db", key("pre", "b"), insertV("pre", &calls)); err != nil {
				t.Fatal(err)
			}
		}
		a, replayed, err := s.Do(ctx, "db", key("old", "body"), insertV("x", &calls))
		if err != nil || !replayed || string(a.Body) != `{"v":"old"}` {
			t.Fatalf("round %d: old record: %v %v %s", round, err, replayed, a.Body)
		}
		reads := 0
		if _, replayed, err := s.DoRead(ctx, "db", key("old", "body"), readV(&reads), insertV("x", &calls)); err != nil || !replayed || reads != 0 {
			t.Fatalf("round %d: old record on a read: %v %v %d", round, err, replayed, reads)
		}
		if _, _, err := s.Do(ctx, "db", key("old", "other"), insertV("x", &calls)); !errors.Is(err, forge.ErrIdempotencyKeyReused) {
			t.Fatalf("round %d: reused: %v", round, err)
		}
		v := "new" + strconv.Itoa(round)
		if _, replayed, err := s.Do(ctx, "db", key(v, "b"), insertV(v, &calls)); err != nil || replayed {
			t.Fatalf("round %d: new key: %v %v", round, err, replayed)
		}
		a, replayed, err = s.Do(ctx, "db", key(v, "b"), insertV("x", &calls))
		if err != nil || !replayed || string(a.Body) != `{"v":"`+v+`"}` {
			t.Fatalf("round %d: new key again: %v %v %s", round, err, replayed, a.Body)
		}
	}
	if calls != 3 || count(t, e) != 3 { // new0, pre, new1
		t.Fatalf("work ran %d times, %d rows; want 3, 3", calls, count(t, e))
	}
}

// A records table that went while the service believed in it (a file
// replaced without Forget) is made again by the next record, which then
// replays.
func TestRecordsTableGone(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	s := idem.New(e, 0)
	calls := 0
	if _, _, err := s.Do(ctx, "db", key("k1", "b"), insertV("a", &calls)); err != nil {
		t.Fatal(err)
	}
	bookkeeping(t, e, "DROP TABLE "+idem.LogTable)
	for i, want := range []bool{false, true} {
		a, replayed, err := s.Do(ctx, "db", key("k2", "b"), insertV("b", &calls))
		if err != nil || replayed != want || string(a.Body) != `{"v":"b"}` {
			t.Fatalf("%d: %v %v %s", i, err, replayed, a.Body)
		}
	}
	if calls != 2 {
		t.Fatalf("work ran %d times, want 2", calls)
	}
}

// A key set that cannot be complete (past maxKnown) before any write made
// the key index: keys are found by a scan of the records, on a read and
// on a write, and a new key still runs.
func TestLookUpWithoutKeySet(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	calls := 0
	first := idem.New(e, 0)
	for _, v := range []string{"a", "b", "c"} {
		if _, _, err := first.Do(ctx, "db", key(v, "b"), insertV(v, &calls)); err != nil {
			t.Fatal(err)
		}
	}
	defer idem.SetMaxKnown(1)()
	s := idem.New(e, 0) // its load overflows: no set
	for _, v := range []string{"a", "b", "c"} {
		reads := 0
		a, replayed, err := s.DoRead(ctx, "db", key(v, "b"), readV(&reads), insertV("x", &calls))
		if err != nil || !replayed || reads != 0 || string(a.Body) != `{"v":"`+v+`"}` {
			t.Fatalf("read %s: %v %v %d %s", v, err, replayed, reads, a.Body)
		}
	}
	if _, _, err := s.Do(ctx, "db", key("b", "other"), insertV("x", &calls)); !errors.Is(err, forge.ErrIdempotencyKeyReused) {
		t.Fatalf("reused: %v", err)
	}
	for i, want := range []bool{false, true} {
		if _, replayed, err := s.Do(ctx, "db", key("d", "b"), insertV("d", &calls)); err != nil || replayed != want {
			t.Fatalf("new key %d: %v %v", i, err, replayed)
		}
	}
	if calls != 4 || count(t, e) != 4 {
		t.Fatalf("work ran %d times, %d rows; want 4, 4", calls, count(t, e))
	}
}
