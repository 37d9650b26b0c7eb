package txn

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/praetorian/db-forge/forge"
)

// fakeEngine hands out fakeLeases; a test ends one with end(why).
type fakeEngine struct {
	mu     sync.Mutex
	leases []*fakeLease
	err    error
}

type fakeLease struct {
	onEnd    func(error)
	ttl      time.Duration
	readOnly bool
	once     sync.Once
	ran      []string
}

func (f *fakeEngine) Begin(_ context.Context, _ string, ttl time.Duration, onEnd func(error)) (Lease, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	l := &fakeLease{onEnd: onEnd, ttl: ttl}
	f.leases = append(f.leases, l)
	return l, nil
}

func (f *fakeEngine) BeginRead(ctx context.Context, db string, ttl time.Duration, onEnd func(error)) (Lease, error) {
	l, err := f.Begin(ctx, db, ttl, onEnd)
	if err == nil {
		l.(*fakeLease).readOnly = true
	}
	return l, err
}

func (l *fakeLease) end(why error) { l.once.Do(func() { l.onEnd(why) }) }

func (l *fakeLease) Do(ctx context.Context, fn func(forge.Tx) error) error { return fn(fakeTx{l}) }
func (l *fakeLease) Commit(context.Context) error                          { l.end(forge.ErrTxCommitted); return nil }
func (l *fakeLease) Rollback(context.Context) error                        { l.end(forge.ErrTxRolledBack); return nil }
func (l *fakeLease) Expires() time.Time                                    { return time.Now().Add(l.ttl) }

type fakeTx struct{ l *fakeLease }

func (t fakeTx) Run(_ context.Context, q forge.Statement, _ forge.RowWriter) (forge.Result, error) {
	t.l.ran = append(t.l.ran, q.SQL)
	if strings.HasPrefix(q.SQL, "FAIL") {
		return forge.Result{}, &forge.SQLError{Message: "fails"}
	}
	return forge.Result{}, nil
}

func (t fakeTx) Describe(context.Context, string) (forge.StatementInfo, error) {
	return forge.StatementInfo{}, nil
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := &fakeEngine{}
	r := New(f, Config{MaxPerDB: 2, MaxPerKey: 3})

	id, exp, err := r.Begin(ctx, "a", "k1", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id, "tx_") || len(id) < 3+22 {
		t.Errorf("id %q: want tx_ and 16 random bytes", id)
	}
	if until := time.Until(exp); until < 9*time.Second || until > 11*time.Second {
		t.Errorf("default lease: expires in %v, want 10 s", until)
	}
	if _, err := r.Query(ctx, "a", "k1", id, forge.Statement{SQL: "INSERT"}, nil); err != nil {
		t.Fatal(err)
	}
	// Another key, another database, an unknown id: not found, alike.
	for _, c := range []struct{ db, owner, id string }{{"a", "k2", id}, {"b", "k1", id}, {"a", "k1", "tx_nope"}} {
		if _, err := r.Query(ctx, c.db, c.owner, c.id, forge.Statement{SQL: "X"}, nil); !errors.Is(err, forge.ErrTxNotFound) {
			t.Errorf("%v: %v, want ErrTxNotFound", c, err)
		}
	}
	if err := r.Commit(ctx, "a", "k1", id); err != nil {
		t.Fatal(err)
	}
	if err := r.Commit(ctx, "a", "k1", id); !errors.Is(err, forge.ErrTxCommitted) {
		t.Errorf("commit twice: %v", err)
	}
	if err := r.Commit(ctx, "a", "k2", id); !errors.Is(err, forge.ErrTxNotFound) {
		t.Errorf("another key's ended transaction: %v", err)
	}

	// An expiry the engine reports is remembered as such.
	id2, _, err := r.Begin(ctx, "a", "k1", 200*time.Millisecond, false)
	if err != nil {
		t.Fatal(err)
	}
	f.leases[1].end(forge.ErrTxExpired)
	if err := r.Commit(ctx, "a", "k1", id2); !errors.Is(err, forge.ErrTxExpired) {
		t.Errorf("commit after expiry: %v", err)
	}
	id3, _, _ := r.Begin(ctx, "a", "k1", 0, false)
	if err := r.Rollback(ctx, "a", "k1", id3); err != nil {
		t.Fatal(err)
	}
	if got, want := r.Stats(), (Stats{Open: 0, Committed: 1, Expired: 1, RolledBack: 1}); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
}

func TestRegistryTimeouts(t *testing.T) {
	t.Parallel()
	r := New(&fakeEngine{}, Config{DefaultTimeout: time.Second, MaxTimeout: 5 * time.Second})
	for _, d := range []time.Duration{-time.Second, 6 * time.Second} {
		_, _, err := r.Begin(context.Background(), "a", "k", d, false)
		var ie *forge.InputError
		if !errors.As(err, &ie) || ie.Code != CodeInvalidTimeout {
			t.Errorf("timeout %v: %v, want %s", d, err, CodeInvalidTimeout)
		}
	}
	if _, _, err := New(&fakeEngine{}, Config{}).Begin(context.Background(), "a", "k", 300*time.Second, false); err != nil {
		t.Errorf("the default maximum: %v", err)
	}
}

func TestRegistryLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := &fakeEngine{}
	r := New(f, Config{MaxPerDB: 1, MaxPerKey: 2})
	a, _, err := r.Begin(ctx, "a", "admin", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Begin(ctx, "a", "k", 0, false); !errors.Is(err, forge.ErrTxLimit) {
		t.Errorf("second on the database: %v, want ErrTxLimit", err)
	}
	if _, _, err := r.Begin(ctx, "b", "admin", 0, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Begin(ctx, "c", "admin", 0, false); !errors.Is(err, forge.ErrTxLimit) {
		t.Errorf("third of the key: %v, want ErrTxLimit", err)
	}
	if err := r.Rollback(ctx, "a", "admin", a); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Begin(ctx, "a", "k", 0, false); err != nil {
		t.Errorf("after the rollback: %v", err)
	}
	// A Begin the engine refuses takes no place.
	f.err = forge.ErrTimeout
	if _, _, err := r.Begin(ctx, "d", "k", 0, false); !errors.Is(err, forge.ErrTimeout) {
		t.Errorf("engine refusal: %v", err)
	}
	f.err = nil
	if _, _, err := r.Begin(ctx, "d", "k", 0, false); err != nil {
		t.Errorf("after a refused begin: %v", err)
	}
	if got := r.Stats().Open; got != 3 {
		t.Errorf("open %d, want 3", got)
	}
}

// TestRegistryReadOnlyLimits: read-only transactions take the engine's
// BeginRead, do not count against MaxPerDB (they hold no writer) but
// against MaxReadPerDB and the key's MaxPerKey.
func TestRegistryReadOnlyLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := &fakeEngine{}
	r := New(f, Config{MaxPerDB: 1, MaxPerKey: 4, MaxReadPerDB: 2})
	w, _, err := r.Begin(ctx, "a", "k", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	r1, _, err := r.Begin(ctx, "a", "k", 0, true)
	if err != nil {
		t.Fatalf("read-only beside a write transaction: %v", err)
	}
	if _, _, err := r.Begin(ctx, "a", "k", 0, true); err != nil {
		t.Fatalf("second read-only: %v", err)
	}
	if _, _, err := r.Begin(ctx, "a", "k2", 0, true); !errors.Is(err, forge.ErrTxLimit) {
		t.Errorf("third read-only on the database: %v, want ErrTxLimit", err)
	}
	if _, _, err := r.Begin(ctx, "b", "k", 0, true); err != nil {
		t.Fatalf("read-only on another database: %v", err)
	}
	if _, _, err := r.Begin(ctx, "c", "k", 0, true); !errors.Is(err, forge.ErrTxLimit) {
		t.Errorf("fifth of the key: %v, want ErrTxLimit", err)
	}
	if !f.leases[1].readOnly || f.leases[0].readOnly {
		t.Error("read-only transactions must begin with BeginRead, write ones with Begin")
	}
	// Ending a read-only one frees a read-only place, not the writer's.
	if err := r.Rollback(ctx, "a", "k", r1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Begin(ctx, "a", "k2", 0, false); !errors.Is(err, forge.ErrTxLimit) {
		t.Errorf("a second write transaction: %v, want ErrTxLimit", err)
	}
	if _, _, err := r.Begin(ctx, "a", "k2", 0, true); err != nil {
		t.Errorf("after a read-only one ended: %v", err)
	}
	if err := r.Commit(ctx, "a", "k", w); err != nil {
		t.Fatal(err)
	}
}

// TestRegistryForgets: what became of ended transactions is kept within
// bounds.
func TestRegistryForgets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := New(&fakeEngine{}, Config{MaxPerKey: 1000, MaxPerDB: 1000, MaxRemembered: 3})
	var ids []string
	for i := range 5 {
		id, _, err := r.Begin(ctx, "db"+strconv.Itoa(i), "k", 0, false)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		_ = r.Rollback(ctx, "db"+strconv.Itoa(i), "k", id)
	}
	if err := r.Commit(ctx, "db0", "k", ids[0]); !errors.Is(err, forge.ErrTxNotFound) {
		t.Errorf("the oldest: %v, want forgotten", err)
	}
	if err := r.Commit(ctx, "db4", "k", ids[4]); !errors.Is(err, forge.ErrTxRolledBack) {
		t.Errorf("the newest: %v, want remembered", err)
	}
}

// TestWithin: a batch's unit inside a transaction is a savepoint.
func TestWithin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := &fakeLease{}
	w := Within{Tx: fakeTx{l}}
	_ = w.Write(ctx, "", func(tx forge.Tx) error { _, err := tx.Run(ctx, forge.Statement{SQL: "A"}, nil); return err })
	if err := w.Write(ctx, "", func(tx forge.Tx) error {
		_, err := tx.Run(ctx, forge.Statement{SQL: "FAIL"}, nil)
		return err
	}); err == nil {
		t.Error("the failure was lost")
	}
	_ = w.Read(ctx, "", func(forge.Tx) error { return nil })
	want := "SAVEPOINT forge_unit,A,RELEASE forge_unit," +
		"SAVEPOINT forge_unit,FAIL,ROLLBACK TO forge_unit,RELEASE forge_unit," +
		"SAVEPOINT forge_unit,ROLLBACK TO forge_unit,RELEASE forge_unit"
	if got := strings.Join(l.ran, ","); got != want {
		t.Errorf("ran\n%s\nwant\n%s", got, want)
	}
}
