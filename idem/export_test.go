package idem

// SetMaxKnown sets maxKnown for a test and returns what restores it.
func SetMaxKnown(n int) (restore func()) {
	old := maxKnown
	maxKnown = n
	return func() { maxKnown = old }
}
