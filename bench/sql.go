package bench

// The statements of the scenarios: the load generator sends them to the
// gateway, and the ceilings run the same text.
const (
	CreateSQL = "CREATE TABLE IF NOT EXISTS kv (id INTEGER PRIMARY KEY, name TEXT, score REAL)"
	SeedSQL   = "INSERT OR IGNORE INTO kv SELECT i, 'name-' || i, i * 0.5 FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < ?) SELECT i FROM n)"
	SelectSQL = "SELECT id, name, score FROM kv WHERE id = ?"
	InsertSQL = "INSERT INTO kv (name, score) VALUES (?, ?)"
)
