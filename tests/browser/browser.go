// Package browser runs Debian's chromium headless under chromedp for
// tests that drive the web console as a person would. On failure it
// saves a screenshot and the page's HTML, so the failure can be seen.
package browser

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/zpam/zpam/tests/prereq"
)

// ExecPath is Debian's chromium launcher (make deps installs it).
const ExecPath = "/usr/bin/chromium"

// Require skips when chromium is missing, saying why, except under CI,
// where make deps installs it and its absence is a failure.
func Require(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath(ExecPath); err == nil {
		return
	}
	prereq.Missing(t, "%s is missing (make deps installs Debian's chromium)", ExecPath)
}

// flags: headless and without the sandbox (tests may run as root). The
// background networking flags matter: without them chromium reaches out
// to update and sync services, and on machines without that network its
// own connections are refused.
func flags(userDataDir string) []chromedp.ExecAllocatorOption {
	return append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ExecPath),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(userDataDir),
		chromedp.WindowSize(412, 915), // a phone: the console must work there
	)
}

// New starts a fresh browser (its own profile) for the test and returns
// the context to drive it with; it ends with the test. When the test
// fails, the page as it was is saved into logDir as <test>.png and
// <test>.html, and the paths are logged.
func New(t *testing.T, logDir string) context.Context {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), flags(t.TempDir())...)
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first action starts the browser and binds its life to the
	// context it is given, so it gets ctx itself, not one with a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", ExecPath, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			saveFailure(t, ctx, logDir)
		}
	})
	return ctx
}

// saveFailure writes a screenshot and the HTML of the current page.
func saveFailure(t *testing.T, ctx context.Context, logDir string) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	base := filepath.Join(logDir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err != nil {
		t.Logf("screenshot after failure: %v", err)
	} else if err := os.WriteFile(base+".png", png, 0o644); err != nil {
		t.Logf("save screenshot: %v", err)
	} else {
		t.Logf("screenshot of the page at failure: %s.png", base)
	}
	if html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html"))); err == nil {
		_ = os.WriteFile(base+".html", []byte(html), 0o644)
	}
}

// KeepDir is a log directory for the test that outlives it when the test
// fails (screenshots are no use in a removed temp dir) and is removed
// when it passes.
func KeepDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "zpam-browser-"+strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			_ = os.RemoveAll(dir)
		}
	})
	return dir
}
