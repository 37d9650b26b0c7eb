package app_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/praetorian/db-forge/internal/contracttest"
)

var updateScreenshots = flag.Bool("update", false, "TestConsoleInBrowser: rewrite the console's screenshots in docs/")

// browser is one headless Chromium tab on a gateway's console.
type browser struct {
	t   *testing.T
	ctx context.Context
	g   *gateway
}

func newBrowser(t *testing.T, g *gateway) *browser {
	t.Helper()
	path := chromium(t)
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Headless, chromedp.WindowSize(1280, 860),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(cancelTab)
	ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(cancel)
	return &browser{t: t, ctx: ctx, g: g}
}

func (b *browser) fail(format string, args ...any) {
	b.t.Helper()
	page, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body.innerText + "\n" + document.querySelector("main").outerHTML`))
	b.t.Fatalf(format+"\n--- page:\n%s\n--- gateway log:\n%s", append(args, page, b.g.logs.String())...)
}

func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.fail("%s: %v", what, err)
	}
}

// until waits for a JavaScript condition to hold.
func (b *browser) until(what, cond string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](cond, chromedp.WithPollingInterval(50*time.Millisecond),
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		b.fail("waiting for %s (%s): %v", what, cond, err)
	}
}

// set gives a field a value as a user would: input and change events.
func (b *browser) set(sel, v string) {
	b.t.Helper()
	b.until(sel, fmt.Sprintf(`!!document.querySelector(%q)`, sel))
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return false;
		e.value = %q; e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true})); return true })()`, sel, v)
	if ok := eval[bool](b, js); !ok {
		b.fail("no field %s", sel)
	}
}

func (b *browser) click(sel string) {
	b.t.Helper()
	b.do("click "+sel, chromedp.WaitVisible(sel), chromedp.Click(sel))
}

func (b *browser) hash(h string) {
	b.t.Helper()
	eval[any](b, fmt.Sprintf(`location.hash = %q`, h))
}

func eval[T any](b *browser, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.fail("evaluate %s: %v", js, err)
	}
	return v
}

// textOf is the text of the first element sel finds ("" for none).
func textOf(sel string) string {
	return fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? '')`, sel)
}

// screenshot writes docs/<name>.png with -update.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	if !*updateScreenshots {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.fail("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// TestConsoleInBrowser walks the web console in a real headless Chromium
// against a real gateway, as the README's walk-through does: sign in with
// the admin key, create a database, create a table and rows in the SQL
// editor, see, filter, sort and page them, mint and revoke keys; a row
// holding HTML stays text; a read-only key is offered no write control.
// With -update it also rewrites the screenshots in docs/.
func TestConsoleInBrowser(t *testing.T) {
	g := start(t, t.TempDir())
	checkConsoleHeaders(t, g)
	b := newBrowser(t, g)
	admin := g.client()
	for _, name := range []string{"agent-memory", "eval-run-17", "notes"} {
		contracttest.Expect(t, admin.Do(t, "POST", "/admin/databases/spawn/"+name, nil), 201, "")
	}
	contracttest.Expect(t, admin.Do(t, "POST", "/admin/databases/spawn/scratch", `{"ttl": 3600}`), 201, "")

	// First load: the page and its modules, nothing else, nothing from
	// elsewhere; its weight and time to first render for the report.
	b.do("open the console", chromedp.Navigate(g.url+"/console"), chromedp.WaitVisible(`#signin-key`))
	load := eval[map[string]float64](b, `(() => {
		const nav = performance.getEntriesByType('navigation')[0], res = performance.getEntriesByType('resource');
		const fcp = performance.getEntriesByName('first-contentful-paint')[0];
		return {transfer: nav.transferSize + res.reduce((n, e) => n + e.transferSize, 0),
			decoded: nav.decodedBodySize + res.reduce((n, e) => n + e.decodedBodySize, 0),
			files: 1 + res.length, foreign: res.filter(e => !e.name.startsWith(location.origin)).length,
			fcp: fcp ? fcp.startTime : -1, rendered: performance.getEntriesByName('console-rendered')[0].startTime}})()`)
	t.Logf("first load: %.0f files, %.0f bytes transferred (%.0f decoded); first contentful paint %.0f ms, sign-in form drawn %.0f ms",
		load["files"], load["transfer"], load["decoded"], load["fcp"], load["rendered"])
	if load["foreign"] != 0 {
		t.Errorf("the console loaded %v files from elsewhere", load["foreign"])
	}
	if load["transfer"] > 64<<10 {
		t.Errorf("the first load weighs %v bytes: over its budget of 64 KiB", load["transfer"])
	}
	b.screenshot("console-signin")
	// Anything the pages do from now on that the policy refuses is counted.
	eval[any](b, `window.__violations = []; document.addEventListener('securitypolicyviolation', e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI))`)

	// A wrong key is refused with the API's message.
	b.do("type a wrong key", chromedp.SendKeys(`#signin-key`, "dbf_wrong"), chromedp.Click(`#signin-go`))
	b.until("the refusal", textOf(`.signin .error`)+`.includes('Invalid API key')`)
	b.signIn(g.adminKey, "")
	b.until("the databases", `document.querySelectorAll('#db-list tr[data-db]').length === 4`)
	b.until("the sizes", `![...document.querySelectorAll('#db-list td.num')].some(td => td.textContent === '…')`)

	// Create a database with a lease; its key is shown once.
	b.set(`#db-create-name`, "shop")
	b.set(`#db-create-ttl`, "86400")
	b.click(`#db-create-go`)
	b.until("the new key", textOf(`#key-secret`)+`.startsWith('dbf_')`)
	b.until("the new database listed", `!!document.querySelector('tr[data-db="shop"] time')`)
	b.screenshot("console-databases")

	// Search by prefix.
	b.set(`#db-search`, "sh")
	b.until("the search", `document.querySelectorAll('#db-list tr[data-db]').length === 1`)

	// The SQL editor: a table, rows (Ctrl+Enter), an error, HTML as text.
	b.hash("#/db/shop/sql")
	b.do("the editor", chromedp.WaitVisible(`#sql-text`))
	b.sql("CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL)")
	b.until("the table made", textOf(`#sql-result`)+`.includes('Query executed successfully.')`)
	b.set(`#sql-text`, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 25) "+
		"INSERT INTO items(name, price) SELECT 'item ' || i, i * 1.5 FROM n")
	b.do("Ctrl+Enter", chromedp.Focus(`#sql-text`), chromedp.KeyEvent("\r", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	b.until("the rows inserted", textOf(`#sql-result`)+`.includes('25 rows affected')`)
	eval[any](b, `window.__alerts = 0; window.alert = () => { window.__alerts++ }`)
	const xss = `<img src=x onerror=alert(1)>`
	b.sql("INSERT INTO items(name, price) VALUES ('" + xss + "', 0)")
	b.until("the HTML row inserted", textOf(`#sql-result`)+`.includes('1 rows affected')`)
	b.sql("SELEC 1")
	b.until("SQLite's message", textOf(`#sql-error`)+`.includes('near "SELEC": syntax error')`)
	b.sql("SELECT id, name FROM items WHERE price = 0")
	b.until("the HTML row as text", fmt.Sprintf(`[...document.querySelectorAll('#sql-result td')].some(td => td.textContent === %q)`, xss))
	if n := eval[int](b, `document.querySelectorAll('#main img').length`); n != 0 {
		t.Errorf("a value became %d <img> elements", n)
	}
	if n := eval[int](b, `document.querySelectorAll('#sql-history li').length`); n != 5 {
		t.Errorf("the history holds %d statements, want 5", n)
	}
	b.sql("SELECT name, price FROM items ORDER BY id LIMIT 8")
	b.until("the select", textOf(`#sql-result`)+`.includes('8 rows')`)
	b.screenshot("console-sql")

	// The rows grid: pages of 25, a filter, a sort.
	b.hash("#/db/shop/rows/items")
	b.until("the first page", textOf(`#rows-info`)+` === 'rows 1–25 of 26'`)
	if n := eval[int](b, `document.querySelectorAll('#main [data-write]').length`); n == 0 {
		t.Error("the admin key is offered no write control on the rows tab")
	}
	// A REAL keeps its type's look (3.0, not 3): the answer's own text.
	b.until("3.0", textOf(`#rows-grid tbody tr:nth-child(2) td:nth-child(3)`)+` === '3.0'`)
	b.click(`#rows-next`)
	b.until("the second page", textOf(`#rows-info`)+` === 'rows 26–26 of 26'`)
	b.until("the HTML row as text in the grid", fmt.Sprintf(`[...document.querySelectorAll('#rows-grid td')].some(td => td.textContent === %q)`, xss))
	if n := eval[int](b, `document.querySelectorAll('#main img').length + window.__alerts`); n != 0 {
		t.Errorf("the HTML row ran: %d images or alerts", n)
	}
	b.click(`#rows-prev`)
	b.until("the first page again", textOf(`#rows-info`)+` === 'rows 1–25 of 26'`)
	b.click(`#filter-add`)
	b.set(`#filters .filter .col`, "price")
	b.set(`#filters .filter .op`, "gt")
	b.set(`#filters .filter .val`, "30")
	b.click(`#rows-apply`)
	b.until("the filter", textOf(`#rows-info`)+` === 'rows 1–5 of 5'`)
	b.click(`th[data-col="price"]`)
	b.until("ascending", textOf(`th[data-col="price"]`)+`.endsWith('▲')`)
	b.click(`th[data-col="price"]`) // descending
	b.until("the sort", textOf(`#rows-grid tbody tr td:nth-child(2)`)+` === 'item 25'`)
	b.screenshot("console-rows")

	// The schema.
	b.hash("#/db/shop/schema")
	b.until("the schema", textOf(`[data-table="items"]`)+`.includes('26 rows')`)

	// Keys: mint a read-only one (for later) and a read-write one, revoke it.
	b.hash("#/db/shop/keys")
	b.do("the keys", chromedp.WaitVisible(`#key-mint`))
	b.set(`#key-scope`, "read-only")
	b.click(`#key-mint`)
	b.until("the read-only key", textOf(`#key-secret`)+`.startsWith('dbf_')`)
	roKey := eval[string](b, textOf(`#key-secret`))
	b.until("two keys", `document.querySelectorAll('tr[data-key-id]').length === 2`)
	b.set(`#key-scope`, "read-write")
	b.set(`#key-expiry`, "86400")
	b.click(`#key-mint`)
	b.until("the read-write key", `document.querySelectorAll('tr[data-key-id]').length === 3`)
	rwKey := eval[string](b, textOf(`#key-secret`))
	if rwKey == roKey || !strings.HasPrefix(rwKey, "dbf_") {
		t.Fatalf("minted %q after %q", rwKey, roKey)
	}
	contracttest.Expect(t, admin.WithKey(rwKey).Do(t, "GET", "/api/db/shop/tables", nil), 200, "")
	b.screenshot("console-keys")
	last := `tr[data-key-id]:last-child`
	b.click(last + ` button.revoke`)
	b.click(last + ` button.revoke`) // the second click confirms
	b.until("the key revoked", textOf(last+` .state`)+`.startsWith('revoked')`)
	b.until("the details' key count", textOf(`#db-details`)+`.includes('2 active of 3')`)
	contracttest.Expect(t, admin.WithKey(rwKey).Do(t, "GET", "/api/db/shop/tables", nil), 401, "")

	// Checkpoints: take one.
	b.hash("#/db/shop/checkpoints")
	b.set(`#checkpoint-name`, "before-sale")
	b.click(`#checkpoint-create`)
	b.until("the checkpoint", `!!document.querySelector('tr[data-checkpoint="before-sale"]')`)
	// Restore it after a change (the button asks twice), then branch from it.
	contracttest.Expect(t, admin.Do(t, "POST", "/api/db/shop/query", `{"sql": "DELETE FROM items"}`), 200, "")
	cp := `tr[data-checkpoint="before-sale"] `
	b.click(cp + `button[data-write]`)
	b.until("armed", textOf(cp+`button[data-write]`)+` === 'Confirm restore'`)
	b.click(cp + `button[data-write]`)
	b.until("the undo checkpoint", `document.querySelectorAll('tr[data-checkpoint]').length === 2`)
	expectHas(t, admin.Do(t, "POST", "/api/db/shop/query", `{"sql": "SELECT count(*) AS n FROM items"}`), 200, `"n":26`)
	b.click(cp + `button.branch`)
	b.set(`#branch-name`, "shop-branch")
	b.click(`#branch-name ~ button`)
	b.until("the branch", textOf(`#tab-checkpoints`)+`.includes('Branch shop-branch made from shop at before-sale')`)
	expectHas(t, admin.Do(t, "POST", "/api/db/shop-branch/query", `{"sql": "SELECT count(*) AS n FROM items"}`), 200, `"n":26`)

	// The status page: the gateway's figures, a chart after two reads.
	b.hash("#/status")
	b.until("the version", textOf(`#stat-version .v`)+` !== ''`)
	b.until("the chart", `document.querySelectorAll('#status-chart polyline').length === 2`)
	if *updateScreenshots { // a chart with a few points, under some load
		stop := make(chan struct{})
		go func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(i%7) * time.Millisecond):
				}
				req, _ := http.NewRequest("GET", g.url+"/api/db/shop/tables/items/rows?price__gt=10", nil)
				req.Header.Set("X-API-Key", roKey)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
			}
		}()
		b.until("five points", `document.querySelector('#status-chart polyline').getAttribute('points').split(' ').length >= 6`)
		close(stop)
	}
	if up := eval[string](b, textOf(`#stat-open .v`)); up == "?" || up == "" {
		t.Errorf("databases open: %q", up)
	}
	b.screenshot("console-status")

	// A read-only key: its database only, no write control anywhere.
	b.click(`#signout`)
	b.signIn(roKey, "shop")
	b.until("the read-only badge", textOf(`#role`)+` === 'read-only key'`)
	b.until("its rows", textOf(`#rows-info`)+` === 'rows 1–25 of 26'`)
	for tab, drawn := range map[string]string{"rows/items": "#rows-grid tbody tr", "schema": `[data-table="items"]`,
		"sql": "#sql-history li", "export": "#export-sql"} {
		b.hash("#/db/shop/" + tab)
		b.until(tab, `!!document.querySelector('#tab-`+strings.Split(tab, "/")[0]+` `+drawn+`')`)
		offered := eval[[]string](b, `[...document.querySelectorAll('[data-write], #nav-databases, #nav-status, #tab-link-keys, #tab-link-checkpoints, #row-add, #rows-delete, button.danger')].map(e => e.id || e.textContent)`)
		if len(offered) > 0 {
			t.Errorf("the read-only key is offered on %s: %v", tab, offered)
		}
	}
	b.hash("#/db/shop/sql")
	b.do("the editor", chromedp.WaitVisible(`#sql-text`))
	b.sql("DELETE FROM items")
	b.until("the refusal", textOf(`#sql-error`)+`.includes('READ_ONLY_KEY')`)
	// Another page than its database's is its database's.
	b.hash("#/databases")
	b.until("back to its database", `location.hash === '#/db/shop'`)

	// Delete a database with a typed confirmation.
	b.click(`#signout`)
	b.signIn(g.adminKey, "")
	b.until("the databases", `!!document.querySelector('tr[data-db="notes"]')`)
	b.click(`tr[data-db="notes"] button.delete`)
	b.do("the confirmation", chromedp.WaitVisible(`#confirm-input`))
	if eval[bool](b, `document.querySelector('#confirm-ok').disabled`) != true {
		t.Error("the delete is enabled before the name is typed")
	}
	b.set(`#confirm-input`, "notes")
	b.click(`#confirm-ok`)
	b.until("the database gone", `!document.querySelector('tr[data-db="notes"]')`)
	contracttest.Expect(t, admin.Do(t, "GET", "/admin/databases/notes", nil), 404, "")
	// Prune: the instance goes (the list leaves it out), the data stays.
	b.click(`tr[data-db="eval-run-17"] button.prune`)
	b.until("the pruned database unlisted", `!document.querySelector('tr[data-db="eval-run-17"]')`)
	expectHas(t, admin.Do(t, "GET", "/admin/databases/eval-run-17", nil), 200, `"status":"pruned"`)

	if v := eval[[]string](b, `window.__violations`); len(v) > 0 {
		t.Errorf("the Content-Security-Policy refused: %v", v)
	}
	// The key went to the API in a header only: never in a URL; and the
	// gateway's log has no key.
	urls := eval[[]string](b, `performance.getEntriesByType('resource').map(e => e.name)`)
	for _, u := range urls {
		for _, k := range []string{g.adminKey, roKey, rwKey} {
			if strings.Contains(u, k) {
				t.Errorf("a key in a URL: %s", u)
			}
		}
	}
	for _, k := range []string{g.adminKey, roKey, rwKey} {
		if strings.Contains(g.logs.String(), k) {
			t.Error("a key is in the gateway's log")
		}
	}
}

func (b *browser) signIn(key, db string) {
	b.t.Helper()
	b.do("the sign-in form", chromedp.WaitVisible(`#signin-key`))
	b.set(`#signin-key`, key)
	b.set(`#signin-db`, db)
	b.click(`#signin-go`)
	b.until("signed in", `!!document.querySelector('#signout')`)
}

func (b *browser) sql(s string) {
	b.t.Helper()
	eval[any](b, `document.querySelector('#sql-result').replaceChildren()`)
	b.set(`#sql-text`, s)
	b.click(`#sql-run`)
}

// checkConsoleHeaders: the console's answers carry its security headers,
// are revalidated by ETag, and an unknown file is 404.
func checkConsoleHeaders(t *testing.T, g *gateway) {
	t.Helper()
	for _, path := range []string{"/console", "/console/app.js", "/console/nope.js"} {
		resp, err := g.http.Get(g.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := 200
		if path == "/console/nope.js" {
			want = 404
		}
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, part := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "connect-src 'self'"} {
			if !strings.Contains(csp, part) {
				t.Errorf("GET %s: Content-Security-Policy %q lacks %q", path, csp, part)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("GET %s: Content-Security-Policy %q allows unsafe sources", path, csp)
		}
		if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: headers %v", path, resp.Header)
		}
		if path == "/console/app.js" {
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
				t.Errorf("app.js is %q", ct)
			}
			req, _ := http.NewRequest("GET", g.url+path, nil)
			req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
			again, err := g.http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			again.Body.Close()
			if again.StatusCode != 304 {
				t.Errorf("GET %s with its ETag: %d, want 304", path, again.StatusCode)
			}
		}
	}
}

// expectHas checks an answer's status and that its body has want.
func expectHas(t *testing.T, r contracttest.Response, status int, want string) {
	t.Helper()
	if r.Status != status || !strings.Contains(string(r.Raw), want) {
		t.Fatalf("%d %s, want %d with %s", r.Status, r.Raw, status, want)
	}
}
