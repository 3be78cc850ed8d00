package e2e

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	chromium "github.com/zpam/zpam/tests/browser"
)

// consolePolicy needs one approval from @sec-leads, of which carol is one.
const consolePolicy = `groups:
  sec-leads: [carol]
roles:
  - name: e2e-approved
    users: [zpam-e2e-web]
    max_duration: 10m
    approvals: {count: 1, from: ["@sec-leads"]}
`

// TestRootBrowserApprovalGrantsOnTheHost is the console's acceptance
// test, with real binaries, the real kernel hook and real sudo: a user's
// sudo is killed; the user files a request with pamctl; an approver signs
// in to the web console in headless chromium with a TOTP code, sees the
// request and approves it with a comment; then the same user's sudo runs
// as root. A screenshot of the page is kept when it fails.
func TestRootBrowserApprovalGrantsOnTheHost(t *testing.T) {
	chromium.Require(t)
	u := setupRoot(t, "zpam-e2e-web")[0]
	s := startStack(t, consolePolicy)
	secret := addPerson(t, s, "carol", "sec-leads")
	login := newSession(t, s, u)

	wantKilled(t, "sudo before any request", login.run("sudo", "-n", "id", "-u"))
	id := s.fileRequest(t, login, "e2e: INC-4411 disk full on the web host")
	wantKilled(t, "sudo while the request waits for approval", login.run("sudo", "-n", "id", "-u"))

	ctx := chromium.New(t, chromium.KeepDir(t))
	base := "http://" + s.http
	card := `article[data-request="` + id + `"]`
	browse(t, ctx, "sign in as carol with her TOTP code",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`form.login`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="user"]`), "carol"),
		chromedp.SendKeys(chromedp.CSS(`input[name="code"]`), totpCode(t, secret)),
		chromedp.Click(chromedp.CSS(`form.login button`)),
		chromedp.WaitVisible(chromedp.CSS(card+` button.approve`)),
	)
	hostname, _ := os.Hostname()
	shown := evaluate(t, ctx, `document.querySelector('`+card+`').innerText`)
	for _, want := range []string{"zpam-e2e-web on " + hostname, "INC-4411 disk full", "1 more of 1, from @sec-leads", "role e2e-approved"} {
		if !strings.Contains(shown, want) {
			t.Fatalf("the request's card does not show %q:\n%s", want, shown)
		}
	}
	browse(t, ctx, "approve with a comment",
		chromedp.SendKeys(chromedp.CSS(card+` textarea[name="comment"]`), "checked the disk alert"),
		chromedp.Click(chromedp.CSS(card+` button.approve`)),
		chromedp.WaitVisible(chromedp.CSS(`p.notice`)),
		chromedp.WaitVisible(chromedp.CSS(`article.active[data-request="`+id+`"]`)),
	)
	approved := time.Now()

	waitFor(t, "sudo to run as root after the approval", 10*time.Second, func() bool {
		return lastLine(login.run("sudo", "-n", "id", "-u").Output) == "0"
	})
	t.Logf("sudo ran as root %v after the browser showed the approval", time.Since(approved).Round(time.Millisecond))
	wantRoot(t, "sudo after approval in the console", login.run("sudo", "-n", "id", "-u"))

	browse(t, ctx, "the audit trail shows the approval through the console",
		chromedp.Navigate(base+"/audit?kind=approved&user=carol"),
		chromedp.WaitVisible(chromedp.CSS(`li[data-kind="approved"]`)),
	)
	if ev := evaluate(t, ctx, `document.querySelector('li[data-kind="approved"]').innerText`); !strings.Contains(ev, "channel=console") || !strings.Contains(ev, "comment=checked the disk alert") {
		t.Fatalf("audit event of the approval: %q; want the console channel and the comment", ev)
	}
}

// addPerson registers name with the CLI while the control plane serves,
// as an admin would, and returns their TOTP secret from the otpauth URI.
func addPerson(t *testing.T, s *stack, name, groups string) string {
	t.Helper()
	uri := strings.TrimSpace(run(t, s.path("pam-controlplane"), "user", "add", name, "--groups", groups, "--data-dir", s.dataDir))
	key, err := otp.NewKeyFromURL(uri)
	if err != nil {
		t.Fatalf("user add printed %q, not an otpauth URI: %v", uri, err)
	}
	return key.Secret()
}

func totpCode(t *testing.T, secret string) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// fileRequest runs `pamctl elevate --no-wait --json` through r and returns
// the id of the request, which must be waiting for approval.
func (s *stack) fileRequest(t *testing.T, r runner, reason string) string {
	t.Helper()
	o := r.run(s.path("pamctl"), "elevate", "--socket", s.sock, "--for", "5m", "--reason", reason, "--no-wait", "--json")
	var res struct {
		Status    string `json:"status"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal([]byte(jsonLine(o.Output)), &res); err != nil || o.Exit != 4 || res.Status != "pending_approval" || res.RequestID == "" {
		t.Fatalf("pamctl elevate --no-wait: %v; want exit 4 with a request pending approval", o)
	}
	return res.RequestID
}

// jsonLine is the first line of out that holds a JSON object: --json
// prints one on stdout, and the output of a runner has stderr after it.
func jsonLine(out string) string {
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, "{") {
			return line
		}
	}
	return ""
}

func browse(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
}

func evaluate(t *testing.T, ctx context.Context, js string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatalf("browser: evaluate %s: %v", js, err)
	}
	return v
}
