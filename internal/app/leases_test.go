package app_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/praetorian/db-forge/internal/contracttest"
)

// Leases end to end, on the real wiring (local backend): a spawn's ttl,
// the answers that show expires_at, the 404 of an expired database, the
// trash, a restore with its data and a new key, and the janitor's purge.

// waitFor polls cond every 50 ms until it holds, or fails after 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 15 s", what)
		}
	}
}

// trashNames lists the names in GET /admin/trash.
func trashNames(t *testing.T, admin contracttest.Client) []string {
	t.Helper()
	r := admin.Do(t, "GET", "/admin/trash", nil)
	contracttest.Expect(t, r, 200, "")
	var names []string
	for _, e := range r.Body.([]any) {
		names = append(names, e.(map[string]any)["name"].(string))
	}
	return names
}

// listEntry is the entry of name in GET /admin/databases; nil if absent.
func listEntry(t *testing.T, admin contracttest.Client, name string) map[string]any {
	t.Helper()
	r := admin.Do(t, "GET", "/admin/databases", nil)
	contracttest.Expect(t, r, 200, "")
	for _, e := range r.Body.([]any) {
		if m := e.(map[string]any); m["name"] == name {
			return m
		}
	}
	return nil
}

func parseTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("not a time: %v", v)
	}
	return at
}

func TestLeases(t *testing.T) {
	dir := t.TempDir()
	g := start(t, dir)
	admin := g.client()

	// A spawn without a body is the seed's, exactly: no expires_at.
	r := admin.Do(t, "POST", "/admin/databases/spawn/keep", nil)
	contracttest.Expect(t, r, 201, "")
	if _, ok := r.Body.(map[string]any)["expires_at"]; ok {
		t.Errorf("a spawn without ttl answers expires_at: %s", r.Raw)
	}
	// A spawn with a ttl answers when it ends, a whole second.
	before := time.Now()
	r = admin.Do(t, "POST", "/admin/databases/spawn/tmp", `{"ttl": 1}`)
	contracttest.Expect(t, r, 201, "")
	m := r.Body.(map[string]any)
	at := parseTime(t, m["expires_at"])
	if at.Before(before.Add(time.Second).Truncate(time.Second)) || at.After(time.Now().Add(2*time.Second)) {
		t.Errorf("expires_at %v for a ttl of 1 s from %v", at, before)
	}
	oldKey, _ := m["api_key"].(string)
	agent := admin.WithKey(oldKey)
	contracttest.Expect(t, agent.Do(t, "POST", "/api/db/tmp/query", `{"sql": "CREATE TABLE t(v)"}`), 200, "")
	contracttest.Expect(t, agent.Do(t, "POST", "/api/db/tmp/query", `{"sql": "INSERT INTO t VALUES ('kept')"}`), 200, "")
	contracttest.Expect(t, agent.Do(t, "POST", "/api/db/tmp/checkpoints", `{"name": "c1"}`), 201, "")

	// A renewed lease: ttl 1, then an hour; it outlives tmp.
	contracttest.Expect(t, admin.Do(t, "POST", "/admin/databases/spawn/renew", `{"ttl": 1}`), 201, "")
	r = admin.Do(t, "POST", "/admin/databases/renew/lease", `{"ttl": 3600}`)
	contracttest.Expect(t, r, 200, "")
	if at := parseTime(t, r.Body.(map[string]any)["expires_at"]); at.Before(time.Now().Add(3500 * time.Second)) {
		t.Errorf("renewed to %v", at)
	}
	// A re-spawn with a ttl renews too, and says so; without, it is the seed's.
	r = admin.Do(t, "POST", "/admin/databases/spawn/keep", `{"ttl": 7200}`)
	contracttest.Expect(t, r, 200, "")
	if at := parseTime(t, r.Body.(map[string]any)["expires_at"]); at.Before(time.Now().Add(7100 * time.Second)) {
		t.Errorf("re-spawn renewed to %v", at)
	}
	contracttest.Expect(t, admin.Do(t, "POST", "/admin/databases/spawn/keep", nil), 200,
		`{"message": "Database instance already exists and is running.", "db_name": "keep", "container_id": ""}`)
	// null removes the lease.
	contracttest.Expect(t, admin.Do(t, "POST", "/admin/databases/keep/lease", `{"ttl": null}`), 200,
		`{"db_name": "keep", "expires_at": null}`)

	// The list and the details show the lease; the list only where there is one.
	if e := listEntry(t, admin, "renew"); e == nil || e["expires_at"] == nil {
		t.Errorf("list entry of renew: %v", e)
	}
	if e := listEntry(t, admin, "keep"); e == nil || e["expires_at"] != nil {
		t.Errorf("list entry of keep: %v", e)
	}
	r = admin.Do(t, "GET", "/admin/databases/keep", nil)
	contracttest.Expect(t, r, 200, "")
	if v, ok := r.Body.(map[string]any)["expires_at"]; !ok || v != nil {
		t.Errorf("details of keep: expires_at %v", v)
	}

	// tmp expires: 404 as if deleted, with any key, on data and admin routes.
	waitFor(t, "tmp's expiry", func() bool {
		return admin.Do(t, "POST", "/api/db/tmp/query", `{"sql": "SELECT 1"}`).Status == 404
	})
	contracttest.ExpectError(t, admin.Do(t, "POST", "/api/db/tmp/query", `{"sql": "SELECT 1"}`), 404, "Database not found.")
	contracttest.ExpectError(t, admin.Do(t, "GET", "/admin/databases/tmp", nil), 404, "Database not found.")
	contracttest.ExpectError(t, admin.Do(t, "POST", "/admin/databases/tmp/lease", `{"ttl": 60}`), 404, "Database not found.")
	if e := listEntry(t, admin, "tmp"); e != nil {
		t.Errorf("an expired database is listed: %v", e)
	}
	// The janitor moves it to the trash; its keys are gone.
	waitFor(t, "tmp in the trash", func() bool { return slices.Contains(trashNames(t, admin), "tmp") })
	if r := agent.Do(t, "POST", "/api/db/tmp/query", `{"sql": "SELECT 1"}`); r.Status != 401 {
		t.Errorf("the expired database's key: %d %s", r.Status, r.Raw)
	}
	if _, err := os.Stat(filepath.Join(dir, "databases", "tmp")); !os.IsNotExist(err) {
		t.Errorf("the expired database's directory is still in place: %v", err)
	}
	// renew's lease was renewed: it still answers.
	contracttest.Expect(t, admin.Do(t, "POST", "/api/db/renew/query", `{"sql": "SELECT 1 AS one"}`), 200, "")

	// Restore: the data and checkpoints as they were, a new key, no lease.
	r = admin.Do(t, "POST", "/admin/trash/tmp/restore", nil)
	contracttest.Expect(t, r, 200, "")
	m = r.Body.(map[string]any)
	newKey, _ := m["api_key"].(string)
	if !strings.HasPrefix(newKey, "dbf_") || newKey == oldKey || m["expires_at"] != nil {
		t.Fatalf("restore answered %s", r.Raw)
	}
	contracttest.Expect(t, admin.WithKey(newKey).Do(t, "POST", "/api/db/tmp/query", `{"sql": "SELECT v FROM t"}`), 200,
		`{"data": [{"v": "kept"}], "rows_affected": 1}`)
	r = admin.WithKey(newKey).Do(t, "GET", "/api/db/tmp/checkpoints", nil)
	contracttest.Expect(t, r, 200, "")
	if !strings.Contains(string(r.Raw), `"c1"`) {
		t.Errorf("checkpoints after restore: %s", r.Raw)
	}
	if r := agent.Do(t, "POST", "/api/db/tmp/query", `{"sql": "SELECT 1"}`); r.Status != 401 {
		t.Errorf("the old key after restore: %d %s", r.Status, r.Raw)
	}
	if e := listEntry(t, admin, "tmp"); e == nil || e["expires_at"] != nil {
		t.Errorf("list entry of the restored tmp: %v", e)
	}
	contracttest.ExpectError(t, admin.Do(t, "POST", "/admin/trash/tmp/restore", nil), 404, "The trash holds no database*")
	if slices.Contains(trashNames(t, admin), "tmp") {
		t.Error("tmp is still in the trash after its restore")
	}

	// A name spawned anew while its old database is in the trash: the
	// restore is refused, both stay.
	contracttest.Expect(t, admin.Do(t, "POST", "/admin/databases/spawn/again", `{"ttl": 1}`), 201, "")
	waitFor(t, "again in the trash", func() bool { return slices.Contains(trashNames(t, admin), "again") })
	contracttest.Expect(t, admin.Do(t, "POST", "/admin/databases/spawn/again", nil), 201, "")
	r = admin.Do(t, "POST", "/admin/trash/again/restore", `{"ttl": 60}`)
	if code, _ := r.Body.(map[string]any)["error"].(map[string]any)["code"].(string); r.Status != 409 || code != "DATABASE_EXISTS" {
		t.Errorf("restore over a live database: %d %s", r.Status, r.Raw)
	}
	// A deleted leased database leaves no lease to its successor.
	contracttest.Expect(t, admin.Do(t, "POST", "/admin/databases/spawn/del", `{"ttl": 1}`), 201, "")
	contracttest.Expect(t, admin.Do(t, "DELETE", "/admin/databases/del", nil), 200, "")
	contracttest.Expect(t, admin.Do(t, "POST", "/admin/databases/spawn/del", nil), 201, "")
	time.Sleep(1500 * time.Millisecond)
	contracttest.Expect(t, admin.Do(t, "POST", "/api/db/del/query", `{"sql": "SELECT 1 AS one"}`), 200, "")
	if slices.Contains(trashNames(t, admin), "del") {
		t.Error("a deleted database went to the trash")
	}

	// Leases and the trash survive a restart: renew keeps its end, soon
	// expires after it, the trash still holds again.
	r = admin.Do(t, "GET", "/admin/databases/renew", nil)
	renewAt := r.Body.(map[string]any)["expires_at"]
	contracttest.Expect(t, admin.Do(t, "POST", "/admin/databases/spawn/soon", `{"ttl": 3}`), 201, "")
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
	g = start(t, dir)
	admin = g.client()
	r = admin.Do(t, "GET", "/admin/databases/renew", nil)
	contracttest.Expect(t, r, 200, "")
	if got := r.Body.(map[string]any)["expires_at"]; got != renewAt {
		t.Errorf("renew's lease after a restart: %v, want %v", got, renewAt)
	}
	if !slices.Contains(trashNames(t, admin), "again") {
		t.Error("the trash lost again in the restart")
	}
	contracttest.Expect(t, admin.Do(t, "POST", "/api/db/soon/query", `{"sql": "SELECT 1 AS one"}`), 200, "")
	waitFor(t, "soon in the trash after the restart", func() bool { return slices.Contains(trashNames(t, admin), "soon") })
	contracttest.ExpectError(t, admin.Do(t, "POST", "/api/db/soon/query", `{"sql": "SELECT 1"}`), 404, "Database not found.")
}

// TestTrashPurge: after FORGE_TRASH_RETENTION the janitor removes an
// expired database for good; a restore then finds nothing.
func TestTrashPurge(t *testing.T) {
	dir := t.TempDir()
	g := start(t, dir, "FORGE_TRASH_RETENTION=2s")
	admin := g.client()
	contracttest.Expect(t, admin.Do(t, "POST", "/admin/databases/spawn/brief", `{"ttl": 1}`), 201, "")
	waitFor(t, "brief in the trash", func() bool { return slices.Contains(trashNames(t, admin), "brief") })
	r := admin.Do(t, "GET", "/admin/trash", nil)
	e := r.Body.([]any)[0].(map[string]any)
	if d := parseTime(t, e["purge_at"]).Sub(parseTime(t, e["trashed_at"])); d < time.Second || d > 3*time.Second {
		t.Errorf("purge_at - trashed_at = %v, want about 2 s: %s", d, r.Raw)
	}
	metricsText := func() string {
		_, _, body := g.do(t, "GET", "/metrics", "")
		return string(body)
	}
	if m := metricsText(); !strings.Contains(m, "\nforge_leases_expired_total 1\n") || !strings.Contains(m, "\nforge_trash_databases 1\n") {
		t.Errorf("metrics after one expiry:\n%s", grepLines(m, "lease", "trash"))
	}
	waitFor(t, "brief purged", func() bool { return !slices.Contains(trashNames(t, admin), "brief") })
	if m := metricsText(); !strings.Contains(m, "\nforge_trash_databases 0\n") || !strings.Contains(m, "\nforge_leases 0\n") {
		t.Errorf("metrics after the purge:\n%s", grepLines(m, "lease", "trash"))
	}
	contracttest.ExpectError(t, admin.Do(t, "POST", "/admin/trash/brief/restore", nil), 404, "The trash holds no database*")
	entries, _ := os.ReadDir(filepath.Join(dir, ".forge", "retained"))
	if len(entries) != 0 {
		t.Errorf("the trash directory still holds %d entries", len(entries))
	}
}

// grepLines keeps the lines of s that hold any of words.
func grepLines(s string, words ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, w := range words {
			if strings.Contains(l, w) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
