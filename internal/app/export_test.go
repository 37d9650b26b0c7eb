package app

// BackupFingerprint is what the backup service notes of the SQLite file
// at path: a test waits until a backup's manifest holds the fingerprint
// of the state it wrote.
func BackupFingerprint(path string) (string, error) { return fingerprint(path) }
