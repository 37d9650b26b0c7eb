package gateway

import (
	"context"
	"sync"
	"testing"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/praetorian/db-forge/auth"
	"github.com/praetorian/db-forge/forge"
)

// fullStore is an auth.SQL on a volume that fills up: once full is set,
// every write fails so.
type fullStore struct{ full *bool }

func (f fullStore) Exec(context.Context, string, ...forge.Value) (int64, error) {
	if *f.full {
		return 0, forge.ErrDiskFull
	}
	return 1, nil
}
func (fullStore) Query(context.Context, string, []forge.Value, func(forge.Row) error) error {
	return nil
}

// fakeSpawns records pending spawns and completions.
type fakeSpawns struct {
	mu        sync.Mutex
	pending   map[string]bool
	completed []string
}

func (f *fakeSpawns) Pending(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pending[name]
}

func (f *fakeSpawns) Complete(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.pending, name)
	f.completed = append(f.completed, name)
	return nil
}

// pruneOrch is fakeOrch that counts prunes.
type pruneOrch struct {
	fakeOrch
	pruned *[]string
}

func (o pruneOrch) Prune(_ context.Context, name string) error {
	*o.pruned = append(*o.pruned, name)
	return nil
}

// A spawn whose key cannot be minted (a full volume) answers the real
// error and leaves nothing: the database it made is deleted; an instance
// it made over a pruned database's data is pruned, the data kept. A spawn
// that succeeds is completed.
func TestSpawnUndoneWhenTheKeyFails(t *testing.T) {
	full := false
	keys, err := auth.New(context.Background(), fullStore{&full}, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	full = true
	dbs := &fakeDatabases{m: map[string]bool{"old": true}}
	spawns := &fakeSpawns{pending: map[string]bool{}}
	var pruned []string
	orch := pruneOrch{fakeOrch{dbs}, &pruned}
	s := New(Options{Auth: Auth{Keys: keys, Databases: dbs, Disabled: true}, Spawns: spawns},
		exclusiveEngine{}, markingOrch{orch, spawns}, zap.NewNop())
	h := s.Handler()
	call := func(uri string) *fasthttp.Response {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod("POST")
		ctx.Request.SetRequestURI(uri)
		h(&ctx)
		var r fasthttp.Response
		ctx.Response.CopyTo(&r)
		return &r
	}
	r := call("/admin/databases/spawn/new")
	if r.StatusCode() != fasthttp.StatusInsufficientStorage {
		t.Fatalf("spawn with a full key store: %d %s", r.StatusCode(), r.Body())
	}
	if ok, _ := dbs.Exists("new"); ok {
		t.Fatal("the failed spawn's database was left behind")
	}
	// "old" has data (pruned before): its new instance is pruned, the data stays.
	dbs.set("old", false)
	dbs.set("old", true)
	r = call("/admin/databases/spawn/old")
	if r.StatusCode() != fasthttp.StatusInsufficientStorage {
		t.Fatalf("spawn over old data with a full key store: %d %s", r.StatusCode(), r.Body())
	}
	if ok, _ := dbs.Exists("old"); !ok || len(pruned) != 1 || pruned[0] != "old" {
		t.Fatalf("spawn over old data: exists %v, pruned %v; want data kept, instance pruned", ok, pruned)
	}

	// Without keys, the spawn completes at once.
	s = New(Options{Spawns: spawns}, exclusiveEngine{}, markingOrch{orch, spawns}, zap.NewNop())
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/admin/databases/spawn/fine")
	s.Handler()(&ctx)
	if ctx.Response.StatusCode() != fasthttp.StatusCreated || spawns.Pending("fine") ||
		len(spawns.completed) != 1 || spawns.completed[0] != "fine" {
		t.Fatalf("spawn: %d, completed %v", ctx.Response.StatusCode(), spawns.completed)
	}
}

// markingOrch marks a database pending when its spawn makes it, as
// volumes.Create does.
type markingOrch struct {
	pruneOrch
	spawns *fakeSpawns
}

func (o markingOrch) Spawn(ctx context.Context, name string) (forge.Instance, bool, error) {
	existed, _ := o.dbs.Exists(name)
	inst, created, err := o.pruneOrch.Spawn(ctx, name)
	if err == nil && !existed {
		o.spawns.mu.Lock()
		o.spawns.pending[name] = true
		o.spawns.mu.Unlock()
	}
	if err == nil && existed {
		created = true // a pruned database: new instance, old data
	}
	return inst, created, err
}
