package audit

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/praetorian/db-forge/forge"
)

// fakeEngine counts the write units the recorder runs and the records
// its INSERTs store; a unit waits for release to be closed once entered
// is signalled, when block is set.
type fakeEngine struct {
	mu      sync.Mutex
	units   map[string]int // write units per database
	records map[string]int // records stored per database
	block   bool
	entered chan struct{}
	release chan struct{}
}

func newFakeEngine(block bool) *fakeEngine {
	return &fakeEngine{units: map[string]int{}, records: map[string]int{}, block: block,
		entered: make(chan struct{}, 1), release: make(chan struct{})}
}

func (f *fakeEngine) Write(ctx context.Context, db string, fn func(forge.Tx) error) error {
	if f.block {
		select {
		case f.entered <- struct{}{}:
		default:
		}
		<-f.release
	}
	tx := &fakeTx{}
	if err := fn(tx); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.units[db]++
	f.records[db] += tx.records
	return nil
}

func (f *fakeEngine) Read(context.Context, string, func(forge.Tx) error) error { return nil }

func (f *fakeEngine) counts(db string) (units, records int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.units[db], f.records[db]
}

type fakeTx struct{ records int }

func (t *fakeTx) Run(_ context.Context, q forge.Statement, _ forge.RowWriter) (forge.Result, error) {
	if strings.HasPrefix(q.SQL, "INSERT") {
		t.records += int(q.Params.Positional[1].Int)
	}
	return forge.Result{}, nil
}

func (t *fakeTx) Describe(context.Context, string) (forge.StatementInfo, error) {
	return forge.StatementInfo{}, nil
}

func rec(i int) []forge.AuditRecord {
	return []forge.AuditRecord{{Time: time.Now(), Caller: &forge.Caller{RequestID: "r" + string(rune('a'+i%26))},
		SQL: "INSERT INTO t VALUES (?)", Params: 1, Rows: 1, Runs: 1, Outcome: forge.AuditOK}}
}

// The records of many commits are written in few transactions: those
// waiting when the writer flushes, a transaction per database (of at most
// flushTxRecords records). A long Flush keeps them waiting until Close,
// which writes them all.
func TestRecorderBatches(t *testing.T) {
	t.Parallel()
	f := newFakeEngine(false)
	r := NewRecorder(Config{AfterCommit: true, Flush: time.Hour}, f, nil)
	for i := range 1000 {
		r.Unwritten("a", rec(i))
		if i%10 == 0 {
			r.Unwritten("b", rec(i))
		}
	}
	if u, n := f.counts("a"); u != 0 || n != 0 {
		t.Fatalf("written before the flush: %d units, %d records", u, n)
	}
	if st := r.Stats(); st.Waiting != 1100 {
		t.Errorf("stats %+v, want 1100 waiting", st)
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if u, n := f.counts("a"); u != 2 || n != 1000 { // 512 + 488
		t.Errorf("a: %d units, %d records; want 2, 1000", u, n)
	}
	if u, n := f.counts("b"); u != 1 || n != 100 {
		t.Errorf("b: %d units, %d records; want 1, 100", u, n)
	}
	if st := r.Stats(); st.Written != 1100 || st.Dropped != 0 || st.Waiting != 0 {
		t.Errorf("stats %+v", st)
	}
	r.Unwritten("a", rec(0))
	if st := r.Stats(); st.Dropped != 1 {
		t.Errorf("a record after Close: stats %+v", st)
	}
}

// Records are written within Flush without Close.
func TestRecorderFlushes(t *testing.T) {
	t.Parallel()
	f := newFakeEngine(false)
	r := NewRecorder(Config{Flush: time.Millisecond}, f, nil)
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	for i := range 10 {
		r.Unwritten("a", rec(i))
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, n := f.counts("a"); n == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not written: %+v", r.Stats())
		}
	}
}

// A full buffer drops records, counts them, and keeps taking records
// once the writer has taken those waiting; the drop is logged.
func TestRecorderDropsWhenFull(t *testing.T) {
	t.Parallel()
	f := newFakeEngine(true)
	core, logs := observer.New(zap.WarnLevel)
	r := NewRecorder(Config{AfterCommit: true, Flush: time.Millisecond, Buffer: 4}, f, zap.New(core))
	r.Unwritten("a", rec(0))
	<-f.entered // the writer took it, and waits for the database
	for i := range 4 {
		r.Unwritten("a", rec(i))
	}
	if st := r.Stats(); st.Dropped != 0 {
		t.Fatalf("dropped before full: %+v", st)
	}
	r.Unwritten("a", rec(5))
	r.Unwritten("b", rec(6))
	if st := r.Stats(); st.Dropped != 2 || st.Waiting != 5 {
		t.Fatalf("stats %+v, want 2 dropped, 5 waiting (1 being written)", st)
	}
	if l := logs.FilterMessage("audit records dropped").All(); len(l) != 1 || l[0].ContextMap()["why"] != "the buffer is full" {
		t.Errorf("logged %+v, want one line (at most one a second)", l)
	}
	close(f.release)
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, n := f.counts("a"); n != 5 {
		t.Errorf("%d records written, want 5", n)
	}
	if st := r.Stats(); st.Written != 5 || st.Dropped != 2 || st.Waiting != 0 {
		t.Errorf("stats %+v", st)
	}
}

// Flush writes what waits without waiting for Config.Flush.
func TestRecorderFlushNow(t *testing.T) {
	t.Parallel()
	f := newFakeEngine(false)
	r := NewRecorder(Config{AfterCommit: true, Flush: time.Hour}, f, nil)
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	for i := range 3 {
		r.Unwritten("a", rec(i))
	}
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if u, n := f.counts("a"); u != 1 || n != 3 {
		t.Errorf("%d units, %d records; want 1, 3", u, n)
	}
	if err := r.Flush(context.Background()); err != nil { // nothing waits
		t.Fatal(err)
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(context.Background()); err != nil { // closed
		t.Fatal(err)
	}
}
