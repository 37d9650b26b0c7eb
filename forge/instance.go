package forge

import "time"

// Instance statuses. The local backend's instances are always running; the
// Docker backend reports its worker container's state.
const (
	StatusRunning    = "running"
	StatusExited     = "exited"
	StatusRestarting = "restarting"
	StatusMissing    = "missing"
)

// Instance is a managed database instance as the orchestrator reports it.
type Instance struct {
	Name        string
	ContainerID string // "" for the local backend
	Status      string
	CreatedAt   time.Time
}

// TableSpec describes a table to create through the tables route.
type TableSpec struct {
	Name    string
	Columns []ColumnSpec
}

// ColumnSpec is one column of a TableSpec. Type is one of the names
// sqlbuild accepts; Default, when set, is a literal value, never SQL.
type ColumnSpec struct {
	Name       string
	Type       string
	PrimaryKey bool
	NotNull    bool
	Unique     bool
	Default    *Value
}
