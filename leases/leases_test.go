package leases

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memStore is a Store in memory.
type memStore struct {
	mu   sync.Mutex
	dbs  []string
	side map[string][]byte
	fail error // returned by writes when set
}

func (m *memStore) List() ([]string, error) { return slices.Clone(m.dbs), nil }
func (m *memStore) ReadSidecar(name, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.side[name+"/"+key]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return b, nil
}
func (m *memStore) WriteSidecar(name, key string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.side[name+"/"+key] = slices.Clone(data)
	return nil
}
func (m *memStore) DeleteSidecar(name, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	delete(m.side, name+"/"+key)
	return nil
}

// clock is a settable clock.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }
func newClock(t time.Time) *clock    { c := &clock{}; c.ns.Store(t.UnixNano()); return c }

func TestTable(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	c := newClock(t0)
	st := &memStore{dbs: []string{"a", "b", "c"}, side: map[string][]byte{}}
	tab, err := Open(st, c.now)
	if err != nil {
		t.Fatal(err)
	}
	if tab.Expired("a") {
		t.Error("a database without a lease expired")
	}
	if _, ok := tab.Next(); ok {
		t.Error("Next with no lease")
	}
	if err := tab.Set("a", t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := tab.Set("b", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-tab.Changed():
	default:
		t.Error("a change was not signalled")
	}
	if at, ok := tab.ExpiresAt("a"); !ok || !at.Equal(t0.Add(time.Second)) {
		t.Errorf("ExpiresAt(a) = %v %v", at, ok)
	}
	if next, _ := tab.Next(); !next.Equal(t0.Add(time.Second)) {
		t.Errorf("Next = %v", next)
	}
	if tab.Expired("a") || len(tab.Due()) != 0 {
		t.Error("expired before its end")
	}
	c.add(time.Second) // the end itself is expired
	if !tab.Expired("a") || tab.Expired("b") || tab.Expired("c") {
		t.Errorf("at a's end: a %v b %v c %v", tab.Expired("a"), tab.Expired("b"), tab.Expired("c"))
	}
	if due := tab.Due(); !slices.Equal(due, []string{"a"}) {
		t.Errorf("Due = %v", due)
	}

	// Durable: a new table over the same store has the same leases.
	again, err := Open(st, c.now)
	if err != nil {
		t.Fatal(err)
	}
	if at, ok := again.ExpiresAt("b"); !ok || !at.Equal(t0.Add(time.Hour)) || !again.Expired("a") {
		t.Errorf("after reopening: b %v %v, a expired %v", at, ok, again.Expired("a"))
	}

	// Clear removes the record; Forget only the memory.
	if err := tab.Clear("b"); err != nil {
		t.Fatal(err)
	}
	if _, ok := tab.ExpiresAt("b"); ok {
		t.Error("b keeps its lease after Clear")
	}
	if _, err := st.ReadSidecar("b", RecordKey); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("b's record after Clear: %v", err)
	}
	tab.Forget("a")
	if tab.Expired("a") {
		t.Error("a forgotten is still expired")
	}
	if _, err := st.ReadSidecar("a", RecordKey); err != nil {
		t.Errorf("Forget removed a's record: %v", err)
	}

	// A failed write changes nothing in memory.
	st.fail = errors.New("disk full")
	if err := tab.Set("c", t0); err == nil {
		t.Error("Set with a failing store succeeded")
	}
	if _, ok := tab.ExpiresAt("c"); ok {
		t.Error("a lease whose record failed is in memory")
	}
}

func TestOpenRefusesABadRecord(t *testing.T) {
	st := &memStore{dbs: []string{"a"}, side: map[string][]byte{"a/" + RecordKey: []byte("{nope")}}
	if _, err := Open(st, nil); err == nil {
		t.Error("a damaged record did not stop Open")
	}
}

// TestExpiredAllocates: the per-request check allocates nothing.
func TestExpiredAllocates(t *testing.T) {
	st := &memStore{side: map[string][]byte{}}
	tab, _ := Open(st, nil)
	_ = tab.Set("a", time.Now().Add(time.Hour))
	name := "a"
	if n := testing.AllocsPerRun(100, func() { _ = tab.Expired(name) }); n != 0 {
		t.Errorf("Expired allocates %v times", n)
	}
}

func BenchmarkExpired(b *testing.B) {
	st := &memStore{side: map[string][]byte{}}
	tab, _ := Open(st, nil)
	for _, n := range []string{"a", "b", "c"} {
		_ = tab.Set(n, time.Now().Add(time.Hour))
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = tab.Expired("b")
		_ = tab.Expired("zz")
	}
}

// TestJanitor: it expires a database when its lease runs out (woken by
// the change, then by its timer), retries a failed expiry, and purges.
func TestJanitor(t *testing.T) {
	st := &memStore{side: map[string][]byte{}}
	tab, _ := Open(st, nil)
	expired := make(chan string, 4)
	var fails atomic.Int32
	fails.Store(1)
	var purges atomic.Int32
	j := &Janitor{Table: tab, Sweep: 20 * time.Millisecond, Retry: 20 * time.Millisecond,
		Expire: func(_ context.Context, name string) error {
			if fails.Add(-1) >= 0 {
				return errors.New("backend down")
			}
			tab.Forget(name)
			expired <- name
			return nil
		},
		Purge: func(context.Context) error { purges.Add(1); return nil },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); j.Run(ctx) }()
	_ = tab.Set("soon", time.Now().Add(100*time.Millisecond))
	select {
	case name := <-expired:
		if name != "soon" {
			t.Errorf("expired %q", name)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the janitor did not expire the database")
	}
	if fails.Load() >= 0 {
		t.Error("the failing first attempt was not made")
	}
	for deadline := time.Now().Add(10 * time.Second); purges.Load() < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the janitor does not sweep the trash")
		}
	}
	cancel()
	<-done
}
