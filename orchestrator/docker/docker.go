// Package docker is the orchestrator backend that gives every database its
// own Docker worker container, made and watched through the Docker Engine
// API. The worker holds its database's volume; SQL still runs in the
// gateway's process, so the data plane keeps serving while Docker is down.
//
// Desired state is the instance record beside each database (shared with
// the local backend, so a data directory moves between backends freely);
// actual state is Docker's containers carrying our labels. Reconcile makes
// the second follow the first, at start, on Docker events and periodically.
package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/strslice"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.uber.org/zap"

	"github.com/praetorian/db-forge/forge"
)

// ErrWorkerImage: the worker image is not on the Docker engine.
var ErrWorkerImage = errors.New("worker image not available on the Docker engine")

// recordKey names the instance record in a database's directory; the local
// backend uses the same record.
const recordKey = "instance"

// Volumes is what this backend needs of the data directory.
type Volumes interface {
	Create(name string) (created bool, err error)
	Remove(name string) error
	List() ([]string, error)
	Exists(name string) (bool, error)
	Share(name string, gid int) error
	ReadSidecar(name, key string) ([]byte, error)
	WriteSidecar(name, key string, data []byte) error
	DeleteSidecar(name, key string) error
}

// API is the slice of the Docker client this backend uses.
type API interface {
	Ping(ctx context.Context) (types.Ping, error)
	NegotiateAPIVersionPing(types.Ping)
	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig, networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, containerName string) (container.CreateResponse, error)
	ContainerStart(ctx context.Context, containerID string, options container.StartOptions) error
	ContainerStop(ctx context.Context, containerID string, options container.StopOptions) error
	ContainerKill(ctx context.Context, containerID, signal string) error
	ContainerWait(ctx context.Context, containerID string, condition container.WaitCondition) (<-chan container.WaitResponse, <-chan error)
	ContainerRemove(ctx context.Context, containerID string, options container.RemoveOptions) error
	ContainerInspect(ctx context.Context, containerID string) (container.InspectResponse, error)
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
	ImageInspect(ctx context.Context, imageID string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
	Events(ctx context.Context, options events.ListOptions) (<-chan events.Message, <-chan error)
}

// Config configures the backend.
type Config struct {
	Spec SpecConfig
	// WorkerGID is the group database directories are shared with when
	// ShareAsRoot: the gateway runs as root, its workers as WorkerGID's user.
	WorkerGID   int
	ShareAsRoot bool
	// ResyncEvery is the period of the full reconcile; default 30s.
	ResyncEvery time.Duration
}

// Backend is the Docker orchestrator.
type Backend struct {
	api   API
	vol   Volumes
	cfg   Config
	log   *zap.Logger
	now   func() time.Time
	locks keyedMutex

	// negotiating is a one-slot semaphore held while a Ping negotiates
	// the API version; a caller waits for it no longer than its context.
	negotiating chan struct{}
	negotiated  atomic.Bool
}

// connect negotiates the API version once, before any other call. The
// client would do it lazily on the first request, but its own version field
// is then read by concurrent requests without a lock (a data race the race
// detector sees); negotiating here, one caller at a time, settles it first
// (the version is written before negotiated is set, and read after). A
// caller waits for another's Ping no longer than its own context. Until
// Docker answers, every call fails with forge.ErrBackendUnavailable and the
// next one tries again.
func (b *Backend) connect(ctx context.Context) error {
	if b.negotiated.Load() {
		return nil
	}
	select {
	case b.negotiating <- struct{}{}:
	case <-ctx.Done():
		return unavailable(ctx.Err())
	}
	defer func() { <-b.negotiating }()
	if b.negotiated.Load() {
		return nil
	}
	p, err := b.api.Ping(ctx)
	if err != nil {
		return unavailable(err)
	}
	b.api.NegotiateAPIVersionPing(p)
	b.negotiated.Store(true)
	return nil
}

// New returns the backend. It does not need Docker to answer yet: admin
// calls fail with forge.ErrBackendUnavailable until it does.
func New(api API, vol Volumes, cfg Config, log *zap.Logger) *Backend {
	if cfg.ResyncEvery <= 0 {
		cfg.ResyncEvery = 30 * time.Second
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Backend{api: api, vol: vol, cfg: cfg, log: log, now: time.Now, negotiating: make(chan struct{}, 1)}
}

// unavailable maps errors that mean "the engine does not answer" to
// forge.ErrBackendUnavailable and leaves the others as they are.
func unavailable(err error) error {
	if err == nil {
		return nil
	}
	// The client reports every transport failure (refused, no socket,
	// timeout, reset) as a connection failure.
	if client.IsErrConnectionFailed(err) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %v", forge.ErrBackendUnavailable, err)
	}
	return err
}

// Check pings the engine (for /health).
func (b *Backend) Check(ctx context.Context) error {
	if err := b.connect(ctx); err != nil {
		return err
	}
	if _, err := b.api.Ping(ctx); err != nil {
		return unavailable(err)
	}
	return nil
}

// CheckImage reports whether the worker image is on the engine.
func (b *Backend) CheckImage(ctx context.Context) error {
	if err := b.connect(ctx); err != nil {
		return err
	}
	if _, err := b.api.ImageInspect(ctx, b.cfg.Spec.Image); err != nil {
		if cerrdefs.IsNotFound(err) {
			return b.imageError(err)
		}
		return unavailable(err)
	}
	return nil
}

func (b *Backend) imageError(err error) error {
	return &forge.BackendError{
		Message: fmt.Sprintf("worker image %s is not on the Docker engine (build it with `make images`)", b.cfg.Spec.Image),
		Err:     fmt.Errorf("%w: %v", ErrWorkerImage, err),
	}
}

// observed is a worker container as far as we care.
type observed struct {
	id      string
	state   string // Docker's: created, running, restarting, exited, paused, dead, removing
	ours    bool   // carries our deployment's labels
	present bool
}

func (b *Backend) inspect(ctx context.Context, name string) (observed, error) {
	if err := b.connect(ctx); err != nil {
		return observed{}, err
	}
	c, err := b.api.ContainerInspect(ctx, ContainerName(name))
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return observed{}, nil
		}
		return observed{}, unavailable(err)
	}
	o := observed{id: c.ID, present: true}
	if c.State != nil {
		o.state = string(c.State.Status)
	}
	if c.Config != nil {
		o.ours = c.Config.Labels[LabelWorker] == "true" && c.Config.Labels[LabelName] == name &&
			c.Config.Labels[LabelManagedBy] == b.cfg.Spec.Deployment
	}
	return o, nil
}

// status maps Docker's container state to an instance status.
func status(o observed) string {
	switch {
	case !o.present:
		return forge.StatusMissing
	case o.state == "running":
		return forge.StatusRunning
	case o.state == "restarting":
		return forge.StatusRestarting
	case o.state == "paused":
		return "paused"
	}
	return forge.StatusExited
}

type record struct {
	CreatedAt time.Time `json:"created_at"`
}

func (b *Backend) readRecord(name string) (record, bool, error) {
	data, err := b.vol.ReadSidecar(name, recordKey)
	if errors.Is(err, fs.ErrNotExist) {
		return record{}, false, nil
	}
	if err != nil {
		return record{}, false, err
	}
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return record{}, false, fmt.Errorf("instance %s: corrupt record: %w", name, err)
	}
	return r, true, nil
}

// Spawn creates the database if needed, records the instance and makes sure
// its worker runs. created reports a new instance (201); an existing one
// gets its stopped or vanished worker back (200).
func (b *Backend) Spawn(ctx context.Context, name string) (forge.Instance, bool, error) {
	if err := forge.ValidateName(name); err != nil {
		return forge.Instance{}, false, err
	}
	unlock, err := b.locks.lock(ctx, name)
	if err != nil {
		return forge.Instance{}, false, fmt.Errorf("spawn %s: %w", name, err)
	}
	defer unlock()
	// Ask Docker first: when it is down, nothing on disk changes.
	o, err := b.inspect(ctx, name)
	if err != nil {
		return forge.Instance{}, false, fmt.Errorf("spawn %s: %w", name, err)
	}
	if o.present && !o.ours {
		return forge.Instance{}, false, &forge.BackendError{
			Message: fmt.Sprintf("container %s exists and is not managed by deployment %q", ContainerName(name), b.cfg.Spec.Deployment)}
	}
	if _, err := b.vol.Create(name); err != nil {
		return forge.Instance{}, false, fmt.Errorf("spawn %s: %w", name, err)
	}
	if err := b.share(name); err != nil {
		return forge.Instance{}, false, fmt.Errorf("spawn %s: %w", name, err)
	}
	rec, exists, err := b.readRecord(name)
	if err != nil {
		return forge.Instance{}, false, err
	}
	id, err := b.ensureWorker(ctx, name, o)
	if err != nil {
		return forge.Instance{}, false, fmt.Errorf("spawn %s: %w", name, err)
	}
	if !exists {
		rec = record{CreatedAt: b.now().UTC()}
		data, _ := json.Marshal(rec)
		if err := b.vol.WriteSidecar(name, recordKey, data); err != nil {
			return forge.Instance{}, false, fmt.Errorf("spawn %s: %w", name, err)
		}
	}
	return forge.Instance{Name: name, ContainerID: id, Status: forge.StatusRunning, CreatedAt: rec.CreatedAt}, !exists, nil
}

func (b *Backend) share(name string) error {
	if !b.cfg.ShareAsRoot {
		return nil
	}
	return b.vol.Share(name, b.cfg.WorkerGID)
}

// ensureWorker brings the worker to running: create it if missing, start it
// if stopped. It returns the container id.
func (b *Backend) ensureWorker(ctx context.Context, name string, o observed) (string, error) {
	if !o.present {
		id, err := b.create(ctx, name)
		if err != nil {
			return "", err
		}
		o = observed{id: id, present: true, ours: true, state: "created"}
	}
	if o.state == "running" || o.state == "restarting" {
		return o.id, nil
	}
	if err := b.api.ContainerStart(ctx, o.id, container.StartOptions{}); err != nil {
		return "", unavailable(err)
	}
	return o.id, nil
}

func (b *Backend) create(ctx context.Context, name string) (string, error) {
	spec := BuildSpec(name, b.cfg.Spec)
	cfg, host := toDocker(spec)
	resp, err := b.api.ContainerCreate(ctx, cfg, host, &network.NetworkingConfig{}, nil, spec.Name)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return "", b.imageError(err)
		}
		if cerrdefs.IsConflict(err) {
			// Another spawn or the reconciler made it meanwhile.
			o, ierr := b.inspect(ctx, name)
			if ierr == nil && o.present && o.ours {
				return o.id, nil
			}
		}
		return "", unavailable(err)
	}
	for _, w := range resp.Warnings {
		b.log.Warn("docker warning creating worker", zap.String("db", name), zap.String("warning", w))
	}
	return resp.ID, nil
}

// toDocker is the adapter from our Spec to the Docker API's types.
func toDocker(s Spec) (*container.Config, *container.HostConfig) {
	stopTimeout := s.StopTimeout
	cfg := &container.Config{
		Image:       s.Image,
		User:        s.User,
		Env:         s.Env,
		Labels:      s.Labels,
		StopSignal:  s.StopSignal,
		StopTimeout: &stopTimeout,
		Healthcheck: &container.HealthConfig{
			Test:        s.Healthcheck.Test,
			Interval:    s.Healthcheck.Interval,
			Timeout:     s.Healthcheck.Timeout,
			StartPeriod: s.Healthcheck.StartPeriod,
			Retries:     s.Healthcheck.Retries,
		},
	}
	pids := s.PidsLimit
	init := s.Init
	host := &container.HostConfig{
		Init:           &init,
		NetworkMode:    container.NetworkMode(s.NetworkMode),
		ReadonlyRootfs: s.ReadonlyRootfs,
		CapDrop:        strslice.StrSlice(s.CapDrop),
		SecurityOpt:    s.SecurityOpt,
		RestartPolicy:  container.RestartPolicy{Name: container.RestartPolicyMode(s.RestartPolicy)},
		LogConfig:      container.LogConfig{Type: s.LogDriver, Config: s.LogOptions},
		Tmpfs:          s.Tmpfs,
		Resources: container.Resources{
			Memory:     s.MemoryBytes,
			MemorySwap: s.MemorySwap,
			NanoCPUs:   s.NanoCPUs,
			PidsLimit:  &pids,
		},
	}
	for _, m := range s.Mounts {
		host.Mounts = append(host.Mounts, mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	return cfg, host
}

// Prune stops and removes the worker; the data stays.
func (b *Backend) Prune(ctx context.Context, name string) error {
	if err := forge.ValidateName(name); err != nil {
		return err
	}
	unlock, err := b.locks.lock(ctx, name)
	if err != nil {
		return fmt.Errorf("prune %s: %w", name, err)
	}
	defer unlock()
	o, err := b.inspect(ctx, name)
	if err != nil {
		return fmt.Errorf("prune %s: %w", name, err)
	}
	_, exists, err := b.readRecord(name)
	if err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("prune %s: %w", name, forge.ErrInstanceNotFound)
	}
	// The record goes first: a reconcile racing us must not revive it.
	if err := b.vol.DeleteSidecar(name, recordKey); err != nil {
		return err
	}
	return b.removeWorker(ctx, name, o)
}

func (b *Backend) removeWorker(ctx context.Context, name string, o observed) error {
	if !o.present || !o.ours {
		return nil
	}
	if err := b.stopWorker(ctx, o.id); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("stop worker %s: %w", name, unavailable(err))
	}
	if err := b.api.ContainerRemove(ctx, o.id, container.RemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove worker %s: %w", name, unavailable(err))
	}
	return nil
}

// termGrace is how long a worker gets to exit on a first SIGTERM before it
// is sent another.
const termGrace = 500 * time.Millisecond

// stopWorker stops a worker gracefully. A SIGTERM that lands in the first
// instants of a worker's life, before its init (PID 1) handles signals, is
// dropped by the kernel, and the worker would then be killed at the end of
// the stop timeout; so the first SIGTERM gets a short grace, and the stop
// that follows sends another before any SIGKILL.
func (b *Backend) stopWorker(ctx context.Context, id string) error {
	if err := b.api.ContainerKill(ctx, id, "SIGTERM"); err == nil {
		wctx, cancel := context.WithTimeout(ctx, termGrace)
		exited, failed := b.api.ContainerWait(wctx, id, container.WaitConditionNotRunning)
		select {
		case <-exited:
			cancel()
			return nil
		case <-failed:
		}
		cancel()
	}
	timeout := int(b.cfg.Spec.StopTimeout / time.Second)
	return b.api.ContainerStop(ctx, id, container.StopOptions{Timeout: &timeout})
}

// Delete removes the worker and the data.
func (b *Backend) Delete(ctx context.Context, name string) error {
	if err := forge.ValidateName(name); err != nil {
		return err
	}
	unlock, err := b.locks.lock(ctx, name)
	if err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	defer unlock()
	o, err := b.inspect(ctx, name)
	if err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	exists, err := b.vol.Exists(name)
	if err != nil {
		return err
	}
	if !exists && !(o.present && o.ours) {
		return fmt.Errorf("delete %s: %w", name, forge.ErrDatabaseNotFound)
	}
	if exists {
		if err := b.vol.DeleteSidecar(name, recordKey); err != nil {
			return err
		}
	}
	if err := b.removeWorker(ctx, name, o); err != nil {
		return err
	}
	if exists {
		return b.vol.Remove(name)
	}
	return nil
}

// List returns every instance (databases with a record), with the status of
// its worker, sorted by name.
func (b *Backend) List(ctx context.Context) ([]forge.Instance, error) {
	workers, err := b.workers(ctx)
	if err != nil {
		return nil, err
	}
	names, err := b.vol.List()
	if err != nil {
		return nil, err
	}
	out := make([]forge.Instance, 0, len(names))
	for _, name := range names {
		rec, ok, err := b.readRecord(name)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		o := workers[name]
		out = append(out, forge.Instance{Name: name, ContainerID: o.id, Status: status(o), CreatedAt: rec.CreatedAt})
	}
	return out, nil
}

// workers lists this deployment's worker containers by database name.
func (b *Backend) workers(ctx context.Context) (map[string]observed, error) {
	if err := b.connect(ctx); err != nil {
		return nil, err
	}
	list, err := b.api.ContainerList(ctx, container.ListOptions{All: true, Filters: b.labelFilter()})
	if err != nil {
		return nil, unavailable(err)
	}
	m := make(map[string]observed, len(list))
	for _, c := range list {
		name := c.Labels[LabelName]
		if name == "" {
			continue
		}
		m[name] = observed{id: c.ID, state: string(c.State), ours: true, present: true}
	}
	return m, nil
}

func (b *Backend) labelFilter() filters.Args {
	return filters.NewArgs(
		filters.Arg("label", LabelWorker+"=true"),
		filters.Arg("label", LabelManagedBy+"="+b.cfg.Spec.Deployment),
	)
}

// keyedMutex serialises lifecycle operations per database name. Each name
// is a one-slot semaphore that a waiter leaves when its context ends, so a
// Docker call stuck on one name holds up only that name, and an admin
// request on it no longer than its deadline.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	held chan struct{} // full while held
	refs int           // holders and waiters; the entry goes at 0
}

// lock takes name's lock. If ctx is done first it returns ctx's error; a
// deadline that passed while waiting is forge.ErrBackendUnavailable too
// (503, retry): the operation ahead on that name is waiting for Docker.
func (k *keyedMutex) lock(ctx context.Context, name string) (unlock func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, unavailable(err)
	}
	k.mu.Lock()
	if k.m == nil {
		k.m = make(map[string]*keyedEntry)
	}
	e := k.m[name]
	if e == nil {
		e = &keyedEntry{held: make(chan struct{}, 1)}
		k.m[name] = e
	}
	e.refs++
	k.mu.Unlock()
	select {
	case e.held <- struct{}{}:
		return func() { <-e.held; k.release(name, e) }, nil
	case <-ctx.Done():
		k.release(name, e)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("waited for another operation on %s: %w: %w", name, forge.ErrBackendUnavailable, ctx.Err())
		}
		return nil, ctx.Err()
	}
}

func (k *keyedMutex) release(name string, e *keyedEntry) {
	k.mu.Lock()
	if e.refs--; e.refs == 0 {
		delete(k.m, name)
	}
	k.mu.Unlock()
}

var _ API = (*client.Client)(nil)
