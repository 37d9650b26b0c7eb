package app_test

import (
	"testing"

	"github.com/praetorian/db-forge/internal/contracttest"
)

// TestPercentEncodedPathNames: route parameters are percent-decoded, as the
// prototype's were, so a table made through SQL with any name is reachable
// through the rows routes, and a key's database is the decoded name.
func TestPercentEncodedPathNames(t *testing.T) {
	g := start(t, t.TempDir())
	admin := g.client()
	key := spawnKey(t, admin, "enc-db")
	c := admin.WithKey(key)
	contracttest.Expect(t, c.Do(t, "POST", "/api/db/enc-db/query",
		`{"sql": "CREATE TABLE \"my table\" (id INTEGER PRIMARY KEY, \"b c\" TEXT, \"✓\" INTEGER)"}`), 200, "")
	contracttest.Expect(t, c.Do(t, "POST", "/api/db/enc-db/query", `{"sql": "CREATE TABLE \"100%\" (v)"}`), 200, "")

	contracttest.Expect(t, c.Do(t, "POST", "/api/db/enc-db/tables/my%20table/rows", `{"rows": [{"b c": "x", "✓": 1}, {"b c": "y", "✓": 2}]}`),
		201, `{"message": "Rows inserted successfully.", "rows_affected": 2}`)
	contracttest.Expect(t, c.Do(t, "GET", "/api/db/enc-db/tables/my%20table/rows?b%20c=y", nil),
		200, `{"data": [{"id": 2, "b c": "y", "✓": 2}], "rows_affected": 1}`)
	contracttest.Expect(t, c.Do(t, "GET", "/api/db/enc-db/tables/my%20table/rows?%E2%9C%93=1", nil),
		200, `{"data": [{"id": 1, "b c": "x", "✓": 1}], "rows_affected": 1}`)
	contracttest.Expect(t, c.Do(t, "POST", "/api/db/enc-db/tables/100%25/rows", `{"rows": [{"v": 7}]}`), 201, "")
	contracttest.Expect(t, c.Do(t, "GET", "/api/db/enc-db/tables/100%25/rows", nil), 200, `{"data": [{"v": 7}], "rows_affected": 1}`)

	// The database name decodes before the key is checked: the same
	// database, the same key; another database's key is still refused.
	contracttest.Expect(t, c.Do(t, "POST", "/api/db/enc%2Ddb/query", `{"sql": "SELECT count(*) AS n FROM \"my table\""}`),
		200, `{"data": [{"n": 2}], "rows_affected": 1}`)
	other := spawnKey(t, admin, "other-db")
	contracttest.ExpectError(t, admin.WithKey(other).Do(t, "POST", "/api/db/enc%2Ddb/query", `{"sql": "SELECT 1"}`), 403, "*")
	// A decoded name is still checked: a slash is no database name.
	contracttest.ExpectError(t, admin.Do(t, "POST", "/api/db/enc%2Fdb/query", `{"sql": "SELECT 1"}`), 400, "*")
}
