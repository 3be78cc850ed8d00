package web_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/zpam/zpam/controlplane/internal/store"
	"github.com/zpam/zpam/controlplane/internal/web"
	chromium "github.com/zpam/zpam/tests/browser"
)

// TestBrowserSignInApproveAndSignOut drives the console in headless
// chromium over plain HTTP on loopback, the default: the __Host- cookies
// are kept, the CSP lets the console's own stylesheet and script run, and
// the forms work with a real browser's submission.
func TestBrowserSignInApproveAndSignOut(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: the browser test is not run with -short")
	}
	chromium.Require(t)
	f := newFixture(t)
	id := f.request("bob", "db-1")
	console, err := web.New(web.Config{Core: f.core, Store: f.db, Now: f.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(console)
	t.Cleanup(srv.Close)
	ctx := chromium.New(t, chromium.KeepDir(t))
	card := `article[data-request="` + id + `"]`

	run(t, ctx, "sign in",
		chromedp.Navigate(srv.URL+"/requests"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="user"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="user"]`), "carol"),
		chromedp.SendKeys(chromedp.CSS(`input[name="code"]`), f.code("carol")),
		chromedp.Click(chromedp.CSS(`form.login button`)),
		chromedp.WaitVisible(chromedp.CSS(card+` button.approve`)),
	)
	if bg := text(t, ctx, `getComputedStyle(document.querySelector("header")).backgroundColor`); bg != "rgb(16, 36, 62)" {
		t.Fatalf("header background %q: the stylesheet did not load under the CSP", bg)
	}
	if refresh := text(t, ctx, `String(document.body.dataset.refresh)`); refresh != "15" {
		t.Fatalf("data-refresh %q", refresh)
	}
	run(t, ctx, "approve",
		chromedp.SendKeys(chromedp.CSS(card+` textarea`), "checked with bob"),
		chromedp.Click(chromedp.CSS(card+` button.approve`)),
		chromedp.WaitVisible(chromedp.CSS(`p.notice`)),
	)
	if st := f.status(id); st != store.StatusGranted {
		t.Fatalf("request is %s after approving in the browser; want granted", st)
	}
	if notice := text(t, ctx, `document.querySelector("p.notice").textContent`); !strings.Contains(notice, "approved") {
		t.Fatalf("notice %q", notice)
	}
	run(t, ctx, "sign out",
		chromedp.Click(chromedp.CSS(`form.signout button`)),
		chromedp.WaitVisible(chromedp.CSS(`form.login`)),
		chromedp.Navigate(srv.URL+"/requests"),
		chromedp.WaitVisible(chromedp.CSS(`form.login`)),
	)
}

func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func text(t *testing.T, ctx context.Context, js string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return s
}
