package gateway

// Spawns tracks the databases a spawn made (package volumes' *Layout); the
// spawn protocol that uses it is package lifecycle's.
// Such a database is pending until Complete; one a crash leaves pending is
// removed at the next start, since nobody got its key.
type Spawns interface {
	// Pending reports whether name was made by a spawn not yet complete.
	Pending(name string) bool
	// Complete keeps name for good.
	Complete(name string) error
}
