package docker

import (
	"path"
	"strconv"
	"time"
)

// Labels every worker carries. db-worker and db-name are the prototype's;
// managed-by says which DB-Forge deployment owns the worker, so that two
// deployments (or a test run beside a dev stack) on one engine never touch
// each other's workers.
const (
	LabelWorker    = "db-worker"
	LabelName      = "db-name"
	LabelManagedBy = "org.db-forge.managed-by"

	// ContainerPrefix + database name is the worker's container name.
	ContainerPrefix = "db-worker-"
	// MountPoint is where the worker sees its database's directory.
	MountPoint = "/data"
)

// SpecConfig is the part of the configuration that shapes every worker.
type SpecConfig struct {
	Image       string        // FORGE_WORKER_IMAGE
	HostDataDir string        // the data root as the Docker host sees it
	User        string        // "uid:gid", never root
	MemoryBytes int64         // hard memory limit, swap included
	PidsLimit   int64         // process limit
	NanoCPUs    int64         // CPU quota in 1e-9 CPUs
	Deployment  string        // value of the managed-by label
	StopTimeout time.Duration // grace period before SIGKILL
}

// Mount is a bind mount of a host directory.
type Mount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only"`
}

// Healthcheck is the container's health probe.
type Healthcheck struct {
	Test        []string      `json:"test"`
	Interval    time.Duration `json:"interval"`
	Timeout     time.Duration `json:"timeout"`
	StartPeriod time.Duration `json:"start_period"`
	Retries     int           `json:"retries"`
}

// Spec is everything Docker is told about one worker container. It is our
// own type, so that the whole hardening policy is one pure function of the
// database and the configuration, tested by golden files; the adapter turns
// it into the Docker API's types.
type Spec struct {
	Name           string            `json:"name"`
	Image          string            `json:"image"`
	User           string            `json:"user"`
	Env            []string          `json:"env"`
	Labels         map[string]string `json:"labels"`
	Healthcheck    Healthcheck       `json:"healthcheck"`
	Mounts         []Mount           `json:"mounts"`
	NetworkMode    string            `json:"network_mode"`
	ReadonlyRootfs bool              `json:"readonly_rootfs"`
	CapDrop        []string          `json:"cap_drop"`
	SecurityOpt    []string          `json:"security_opt"`
	PidsLimit      int64             `json:"pids_limit"`
	MemoryBytes    int64             `json:"memory_bytes"`
	MemorySwap     int64             `json:"memory_swap_bytes"`
	NanoCPUs       int64             `json:"nano_cpus"`
	RestartPolicy  string            `json:"restart_policy"`
	LogDriver      string            `json:"log_driver"`
	LogOptions     map[string]string `json:"log_options"`
	Tmpfs          map[string]string `json:"tmpfs"`
	Init           bool              `json:"init"`
	StopSignal     string            `json:"stop_signal"`
	StopTimeout    int               `json:"stop_timeout_seconds"`
}

// ContainerName is the worker container's name for database db.
func ContainerName(db string) string { return ContainerPrefix + db }

// BuildSpec is the worker container for database db. db is a validated name
// (forge.ValidateName), so it is safe in a path and a container name.
//
// The worker only holds a volume, so it gets nothing else: no network, a
// read-only root file system, no capabilities, no privilege escalation, a
// non-root user, a few processes, a little memory and CPU, rotated logs, and
// exactly one database's directory mounted at /data.
func BuildSpec(db string, c SpecConfig) Spec {
	return Spec{
		Name:  ContainerName(db),
		Image: c.Image,
		User:  c.User,
		Env:   []string{"FORGE_WORKER_DB=" + db, "FORGE_WORKER_DATA_DIR=" + MountPoint},
		Labels: map[string]string{
			LabelWorker:    "true",
			LabelName:      db,
			LabelManagedBy: c.Deployment,
		},
		Healthcheck: Healthcheck{
			Test:        []string{"CMD", "/forge-worker", "health"},
			Interval:    30 * time.Second,
			Timeout:     10 * time.Second,
			StartPeriod: 5 * time.Second,
			Retries:     3,
		},
		Mounts: []Mount{{
			Source: path.Join(c.HostDataDir, "databases", db),
			Target: MountPoint,
		}},
		NetworkMode:    "none",
		ReadonlyRootfs: true,
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges:true"},
		PidsLimit:      c.PidsLimit,
		MemoryBytes:    c.MemoryBytes,
		MemorySwap:     c.MemoryBytes, // equal to the limit: no swap
		NanoCPUs:       c.NanoCPUs,
		RestartPolicy:  "unless-stopped",
		LogDriver:      "json-file",
		LogOptions:     map[string]string{"max-size": "1m", "max-file": "3"},
		// SQLite's temporary files (large sorts in the sql shell).
		Tmpfs: map[string]string{"/tmp": "rw,noexec,nosuid,nodev,size=16m"},
		// A tiny init as PID 1 (Docker's docker-init): the kernel ignores a
		// signal to PID 1 that has no handler yet, so a worker stopped in
		// the first milliseconds of its life would wait out StopTimeout.
		Init:        true,
		StopSignal:  "SIGTERM",
		StopTimeout: int(c.StopTimeout / time.Second),
	}
}

// DefaultWorkerUser is the worker's user when the gateway runs as root.
const DefaultWorkerUser = "65532:65532"

// WorkerUser picks the worker's identity: the gateway's own uid:gid when it
// is not root (the files are then already its), else DefaultWorkerUser (the
// database directories are then shared with that group). override, when
// set, wins.
func WorkerUser(override string, euid, egid int) string {
	if override != "" {
		return override
	}
	if euid != 0 {
		return strconv.Itoa(euid) + ":" + strconv.Itoa(egid)
	}
	return DefaultWorkerUser
}
