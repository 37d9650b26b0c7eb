package docker

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.uber.org/zap/zaptest"

	"github.com/praetorian/db-forge/forge"
	"github.com/praetorian/db-forge/volumes"
)

// stuckAPI is a Docker engine whose inspection of one container hangs,
// ignoring its context, until released: the worst a stuck daemon does.
// Every other container is absent and is created and started at once. The
// embedded API is nil: a call the test does not expect panics.
type stuckAPI struct {
	API
	stuckName string        // container whose inspect hangs
	entered   chan struct{} // receives when that inspect begins
	release   chan struct{}
	pingGate  chan struct{} // when not nil, Ping signals pinging and waits for it
	pinging   chan struct{}
}

func (s *stuckAPI) Ping(ctx context.Context) (types.Ping, error) {
	if s.pingGate != nil {
		select {
		case s.pinging <- struct{}{}: // the first Ping only
		default:
		}
		<-s.pingGate
	}
	return types.Ping{}, nil
}

func (s *stuckAPI) NegotiateAPIVersionPing(types.Ping) {}

func (s *stuckAPI) ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error) {
	if id == s.stuckName {
		s.entered <- struct{}{}
		<-s.release
	}
	return container.InspectResponse{}, fmt.Errorf("no such container %s: %w", id, cerrdefs.ErrNotFound)
}

func (s *stuckAPI) ContainerCreate(ctx context.Context, _ *container.Config, _ *container.HostConfig, _ *network.NetworkingConfig, _ *ocispec.Platform, name string) (container.CreateResponse, error) {
	return container.CreateResponse{ID: "id-" + name}, nil
}

func (s *stuckAPI) ContainerStart(context.Context, string, container.StartOptions) error { return nil }

func newStuckBackend(t *testing.T, api *stuckAPI) *Backend {
	t.Helper()
	vol, err := volumes.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	spec := SpecConfig{Image: "worker:test", HostDataDir: vol.Root(), User: "1000:1000", Deployment: "test-locks", StopTimeout: time.Second}
	return New(api, vol, Config{Spec: spec}, zaptest.NewLogger(t))
}

// A Docker call stuck on one name holds that name's lock: an admin request
// on the same name gives up at its deadline (503, retry) instead of
// hanging behind it, and other names are not held up at all.
func TestLockStuckNameHonoursDeadline(t *testing.T) {
	t.Parallel()
	api := &stuckAPI{stuckName: ContainerName("stuck"), entered: make(chan struct{}), release: make(chan struct{})}
	b := newStuckBackend(t, api)
	ctx := t.Context()

	spawned := make(chan error, 1)
	go func() { _, _, err := b.Spawn(ctx, "stuck"); spawned <- err }()
	<-api.entered // the spawn holds stuck's lock, inside a hung Docker call

	for _, op := range []struct {
		name string
		run  func(context.Context) error
	}{
		{"delete", func(ctx context.Context) error { return b.Delete(ctx, "stuck") }},
		{"prune", func(ctx context.Context) error { return b.Prune(ctx, "stuck") }},
		{"spawn", func(ctx context.Context) error { _, _, err := b.Spawn(ctx, "stuck"); return err }},
		{"reconcile", func(ctx context.Context) error { _, err := b.reconcileOne(ctx, "stuck"); return err }},
	} {
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		err := op.run(short)
		cancel()
		if !errors.Is(err, forge.ErrBackendUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s of the stuck name = %v; want ErrBackendUnavailable at the deadline", op.name, err)
		}
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.Delete(canceled, "stuck"); !errors.Is(err, context.Canceled) {
		t.Fatalf("delete with a canceled context = %v", err)
	}

	// Another name: no wait at all (the test's own context has no deadline).
	if inst, created, err := b.Spawn(ctx, "other"); err != nil || !created || inst.ContainerID != "id-"+ContainerName("other") {
		t.Fatalf("spawn of another name while stuck = %+v, %v, %v", inst, created, err)
	}

	close(api.release)
	if err := <-spawned; err != nil {
		t.Fatalf("the stuck spawn, once Docker answered: %v", err)
	}
	if len(b.locks.m) != 0 {
		t.Fatalf("lock entries left: %v", b.locks.m)
	}
}

// A caller waits for another caller's version negotiation no longer than
// its own context.
func TestLockNegotiationHonoursContext(t *testing.T) {
	t.Parallel()
	// pinging has room for the first Ping's signal: unbuffered, a Ping
	// that came before the test was receiving dropped it, and the test
	// waited forever (a hang seen under -race -count=3).
	api := &stuckAPI{pingGate: make(chan struct{}), pinging: make(chan struct{}, 1)}
	b := newStuckBackend(t, api)
	first := make(chan error, 1)
	go func() { first <- b.Check(t.Context()) }()
	<-api.pinging // the first caller negotiates, in a hung Ping
	short, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := b.Check(short); !errors.Is(err, forge.ErrBackendUnavailable) {
		t.Fatalf("Check while another negotiates = %v; want ErrBackendUnavailable at the deadline", err)
	}
	close(api.pingGate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := b.Check(t.Context()); err != nil || !b.negotiated.Load() {
		t.Fatalf("after negotiation: %v, negotiated %v", err, b.negotiated.Load())
	}
}
