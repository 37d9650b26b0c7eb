package app_test

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	gw "github.com/praetorian/db-forge/gateway"
)

// chromium finds the browser for the /docs test: Debian's chromium (what
// .ci/run installs). Missing: the test fails under CI=true, and is skipped
// elsewhere.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on this machine: .ci/run installs it (apt-get install chromium)")
	}
	t.Skip("no chromium on this machine (apt-get install chromium); CI runs this test")
	return ""
}

// TestDocsInBrowser: GET /docs renders in a real headless Chromium from the
// assets in the binary (the page may load nothing from elsewhere), lists
// every route of the gateway, and its "Try it out" reaches the gateway.
func TestDocsInBrowser(t *testing.T) {
	path := chromium(t)
	g := start(t, t.TempDir())

	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Headless,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelTab := chromedp.NewContext(actx)
	defer cancelTab()
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	err := chromedp.Do(ctx,
		chromedp.Navigate(g.url+"/docs"),
		chromedp.WaitVisible(chromedp.CSS(`.opblock`)),
	)
	if err != nil {
		t.Fatalf("the page did not render: %v\n%s", err, g.logs.String())
	}
	ops, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('.opblock')).map(b =>
			b.querySelector('.opblock-summary-method').textContent.trim() + ' ' +
			b.querySelector('.opblock-summary-path').getAttribute('data-path'))`))
	if err != nil {
		t.Fatal(err)
	}
	// Everything the page loaded came from the gateway (no CDN).
	foreign, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`performance.getEntriesByType('resource').map(e => e.name).
			filter(n => !n.startsWith(location.origin))`))
	if err != nil {
		t.Fatal(err)
	}
	if len(foreign) > 0 {
		t.Errorf("the page loaded from elsewhere than the gateway: %v", foreign)
	}
	var want []string
	for _, r := range gw.Routes() {
		want = append(want, r.Method+" "+r.Pattern)
	}
	sort.Strings(ops)
	sort.Strings(want)
	if !slices.Equal(ops, want) {
		t.Errorf("the page lists\n\t%s\nthe gateway has\n\t%s", strings.Join(ops, "\n\t"), strings.Join(want, "\n\t"))
	}

	// Try it out: GET /health from the page, answered by the gateway.
	const op = `#operations-Root-get_health`
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(op+` .opblock-summary`)),
		// "Try it out" is on from the start (tryItOutEnabled): the
		// button reads Cancel, and Execute is there.
		chromedp.WaitVisible(chromedp.CSS(op+` .try-out__btn.cancel`)),
		chromedp.WaitVisible(chromedp.CSS(op+` .execute`)),
		chromedp.Click(chromedp.CSS(op+` .execute`)),
		chromedp.WaitVisible(chromedp.CSS(op+` .live-responses-table tbody .response-col_status`)),
	)
	if err != nil {
		t.Fatalf("try it out: %v", err)
	}
	status, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(op+` .live-responses-table tbody .response-col_status`)))
	if err != nil {
		t.Fatal(err)
	}
	body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(op+` .live-responses-table .microlight`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(strings.TrimSpace(status), "200") || !strings.Contains(body, `"uptime_s"`) {
		t.Errorf("try it out answered %q: %s", status, body)
	}
	if !strings.Contains(g.logs.String(), `"route":"/health","status":200`) {
		t.Errorf("the gateway logged no GET /health:\n%s", g.logs.String())
	}
}
