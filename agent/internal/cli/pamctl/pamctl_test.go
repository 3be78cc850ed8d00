package pamctl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/agent/internal/cli"
	"github.com/zpam/zpam/agent/internal/cli/pamctl"
	"github.com/zpam/zpam/agent/internal/cpclient/cptest"
	"github.com/zpam/zpam/agent/internal/localapi/localapitest"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

type run struct {
	code           int
	stdout, stderr string
}

func pamctlRun(t *testing.T, args ...string) run {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Execute(context.Background(), pamctl.NewCommand("test"), args, &out, &errOut)
	return run{code, out.String(), errOut.String()}
}

func (r run) want(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
}

var grantedRE = regexp.MustCompile(`^granted: grant g-r-1 active until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(14m5\ds left\), scope session\nend it early with: pamctl revoke g-r-1\n$`)

func TestElevateGranted(t *testing.T) {
	a := localapitest.Start(t, nil)
	a.CP.SetDecider(cptest.AutoApprove)
	r := pamctlRun(t, "elevate", "--socket", a.Socket, "--reason", "INC-1")
	r.want(t, cli.ExitOK)
	if !grantedRE.MatchString(r.stdout) {
		t.Fatalf("stdout %q does not match %s", r.stdout, grantedRE)
	}
	if !a.Kernel.Has("g-r-1") {
		t.Fatal("exit 0 but the kernel has no grant")
	}
}

func TestElevateGrantedAfterApproval(t *testing.T) {
	a := localapitest.Start(t, nil)
	go func() { // approve once filed, as carol would
		for a.CP.Request("r-1") == nil {
			time.Sleep(5 * time.Millisecond)
		}
		a.CP.Approve("r-1")
	}()
	r := pamctlRun(t, "elevate", "--socket", a.Socket, "--for", "30m")
	r.want(t, cli.ExitOK)
	if !strings.Contains(r.stderr, "request r-1 is waiting for approval (1 more from carol)\n") {
		t.Errorf("stderr %q lacks the plain pending line", r.stderr)
	}
	if !strings.Contains(r.stdout, "(29m5") {
		t.Errorf("stdout %q does not show about 30m left", r.stdout)
	}
}

func TestElevateDenied(t *testing.T) {
	a := localapitest.Start(t, nil)
	a.CP.SetDecider(cptest.Deny("outside allowed hours"))
	r := pamctlRun(t, "elevate", "--socket", a.Socket)
	r.want(t, cli.ExitFailure)
	if r.stderr != "pamctl: request r-1 denied: outside allowed hours\n" {
		t.Fatalf("stderr = %q", r.stderr)
	}
}

func TestElevateGivesUpAndWithdraws(t *testing.T) {
	a := localapitest.Start(t, nil)
	r := pamctlRun(t, "elevate", "--socket", a.Socket, "--timeout", "300ms")
	r.want(t, cli.ExitGaveUp)
	if !strings.Contains(r.stderr, "pamctl: gave up after 300ms (--timeout) waiting for approval of request r-1; the request was withdrawn\n") {
		t.Fatalf("stderr = %q", r.stderr)
	}
	localapitest.Eventually(t, "request withdrawn", func() bool { return slices.Contains(a.CP.Canceled(), "r-1") })
}

func TestElevateTimedOutUpstreamExits4(t *testing.T) {
	a := localapitest.Start(t, nil)
	go func() {
		for a.CP.Request("r-1") == nil {
			time.Sleep(5 * time.Millisecond)
		}
		a.CP.TimeOut("r-1", "no decision within 30m0s (approval_timeout of role prod)")
	}()
	r := pamctlRun(t, "elevate", "--socket", a.Socket, "--json")
	r.want(t, cli.ExitGaveUp)
	var out map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("stdout %q is not JSON: %v", r.stdout, err)
	}
	if out["status"] != "timed_out" || !strings.Contains(out["error"].(string), "timed out waiting for approval: no decision within 30m0s") {
		t.Fatalf("json = %v", out)
	}
}

func TestElevateNoWait(t *testing.T) {
	a := localapitest.Start(t, nil)
	r := pamctlRun(t, "elevate", "--socket", a.Socket, "--no-wait", "--json")
	r.want(t, cli.ExitGaveUp)
	var out map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("stdout %q is not JSON: %v", r.stdout, err)
	}
	if out["status"] != "pending_approval" || out["request_id"] != "r-1" || out["exit_code"] != float64(4) {
		t.Fatalf("json = %v", out)
	}
}

func TestElevateJSONGranted(t *testing.T) {
	a := localapitest.Start(t, nil)
	a.CP.SetDecider(cptest.AutoApprove)
	r := pamctlRun(t, "elevate", "--socket", a.Socket, "--json", "--for", "1h")
	r.want(t, cli.ExitOK)
	var out struct {
		Status   string `json:"status"`
		Enforced bool   `json:"enforced"`
		Grant    struct {
			ID          string `json:"id"`
			ExpiresAt   string `json:"expires_at"`
			SecondsLeft int64  `json:"seconds_left"`
			Scope       string `json:"scope"`
		} `json:"grant"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("stdout %q: %v", r.stdout, err)
	}
	exp, err := time.Parse(time.RFC3339, out.Grant.ExpiresAt)
	if err != nil || !strings.HasSuffix(out.Grant.ExpiresAt, "Z") {
		t.Fatalf("expires_at %q is not RFC 3339 UTC", out.Grant.ExpiresAt)
	}
	if out.Status != "granted" || !out.Enforced || out.Grant.ID != "g-r-1" || out.Grant.Scope != "session" ||
		out.Grant.SecondsLeft < 3590 || out.Grant.SecondsLeft > 3600 || time.Until(exp) < 59*time.Minute {
		t.Fatalf("json = %+v", out)
	}
}

func TestAgentUnreachable(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "agent.sock")
	for _, sub := range []string{"elevate", "status"} {
		r := pamctlRun(t, sub, "--socket", socket)
		r.want(t, cli.ExitUnreachable)
		want := "pamctl: cannot reach the agent at " + socket + ": no such file (is pam-agent running? start it with: systemctl start pam-agent)\n"
		if r.stderr != want {
			t.Fatalf("%s stderr = %q, want %q", sub, r.stderr, want)
		}
	}
}

func TestControlPlaneUnreachable(t *testing.T) {
	a := localapitest.Start(t, nil)
	a.CP.Stop()
	r := pamctlRun(t, "elevate", "--socket", a.Socket)
	r.want(t, cli.ExitUnreachable)
	if !strings.HasPrefix(r.stderr, "pamctl: the control plane is unreachable: ") {
		t.Fatalf("stderr = %q", r.stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	cases := map[string]struct {
		args []string
		want string
	}{
		"bad duration":  {[]string{"elevate", "--for", "5x"}, `pamctl: --for "5x" is not a duration like 90s, 15m or 1h` + "\n"},
		"zero duration": {[]string{"elevate", "--for", "0s"}, `pamctl: --for "0s" must be a positive duration like 90s, 15m or 1h` + "\n"},
		"relative cmd":  {[]string{"elevate", "--command", "ls"}, `pamctl: --command "ls" is not an absolute path like /usr/bin/systemctl` + "\n"},
		"unknown flag":  {[]string{"elevate", "--forever"}, "pamctl: unknown flag: --forever; see 'pamctl elevate --help'\n"},
		"unknown cmd":   {[]string{"elevat"}, `pamctl: unknown command "elevat" for "pamctl"; see 'pamctl --help'` + "\n"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := pamctlRun(t, tc.args...)
			r.want(t, cli.ExitUsage)
			if r.stderr != tc.want {
				t.Fatalf("stderr = %q, want %q", r.stderr, tc.want)
			}
		})
	}
}

// TestUsageErrorsNameTheVariable: a bad value that a PAMCTL_ variable
// set is named by that variable in the checks pamctl makes itself, as
// in pflag's own; the same check on the command line names the flag.
func TestUsageErrorsNameTheVariable(t *testing.T) {
	cases := map[string]struct {
		env  [2]string
		args []string
		want string
	}{
		"zero duration":   {[2]string{"PAMCTL_FOR", "0s"}, []string{"elevate"}, `pamctl: PAMCTL_FOR "0s" must be a positive duration like 90s, 15m or 1h`},
		"zero timeout":    {[2]string{"PAMCTL_TIMEOUT", "0s"}, []string{"elevate"}, `pamctl: PAMCTL_TIMEOUT "0s" must be a positive duration like 90s, 15m or 1h`},
		"relative cmd":    {[2]string{"PAMCTL_COMMAND", "ls"}, []string{"elevate"}, `pamctl: PAMCTL_COMMAND "ls" is not an absolute path like /usr/bin/systemctl`},
		"shell and json":  {[2]string{"PAMCTL_JSON", "true"}, []string{"elevate", "--shell"}, `pamctl: --shell runs an interactive shell; it cannot be combined with PAMCTL_JSON`},
		"shell, no tty":   {[2]string{"PAMCTL_SHELL", "true"}, []string{"elevate"}, `pamctl: PAMCTL_SHELL runs an interactive shell and needs a terminal on stdin and stdout`},
		"negative window": {[2]string{"PAMCTL_FOR", "-5m"}, []string{"break-glass", "--reason", "INC-1"}, `pamctl: PAMCTL_FOR "-5m0s" must be a positive duration like 15m or 30m`},
		"zero speed":      {[2]string{"PAMCTL_SPEED", "0"}, []string{"replay", "r-1"}, `pamctl: PAMCTL_SPEED 0 must be a positive number like 1, 2 or 0.5`},
		"bad kind":        {[2]string{"PAMCTL_KIND", "bogus"}, []string{"audit"}, `pamctl: PAMCTL_KIND "bogus" is not an event kind; accepted: `},
		"bad since":       {[2]string{"PAMCTL_SINCE", "soon"}, []string{"audit"}, `pamctl: PAMCTL_SINCE "soon" is not a duration like 90s, 15m or 1h, or an RFC 3339 time`},
		"limit zero":      {[2]string{"PAMCTL_LIMIT", "0"}, []string{"audit"}, `pamctl: PAMCTL_LIMIT 0 is not between 1 and 10000`},
		"resume and for":  {[2]string{"PAMCTL_FOR", "5m"}, []string{"elevate", "--resume", "g-1", "--otp", "1"}, `pamctl: --resume puts a suspended grant back as it was; it cannot be combined with PAMCTL_FOR`},
		"findings since":  {[2]string{"PAMCTL_SINCE", "soon"}, []string{"findings"}, `pamctl: PAMCTL_SINCE "soon" is not a duration`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Setenv(tc.env[0], tc.env[1])
			r := pamctlRun(t, append(tc.args, "--socket", "/nonexistent/agent.sock")...)
			r.want(t, cli.ExitUsage)
			if !strings.HasPrefix(r.stderr, tc.want) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("stderr = %q, want one line starting %q", r.stderr, tc.want)
			}
		})
	}
	// The same check on the command line names the flag.
	r := pamctlRun(t, "elevate", "--shell", "--no-wait", "--socket", "/nonexistent/agent.sock")
	r.want(t, cli.ExitUsage)
	if want := "pamctl: --shell runs an interactive shell; it cannot be combined with --no-wait\n"; r.stderr != want {
		t.Errorf("stderr = %q, want %q", r.stderr, want)
	}
}

func TestStatus(t *testing.T) {
	a := localapitest.Start(t, nil)
	me := uint32(os.Getuid())
	a.CP.Upsert(&commonv1.Grant{Id: "g-9", Uid: me, Scope: commonv1.GrantScope_GRANT_SCOPE_USER, ExpiresAt: timestamppb.New(time.Now().Add(time.Hour))})
	a.CP.Upsert(&commonv1.Grant{Id: "g-other", Uid: me + 1, SessionId: 2, ExpiresAt: timestamppb.New(time.Now().Add(time.Hour))})
	localapitest.Eventually(t, "grants in the kernel", func() bool { return a.Kernel.Has("g-9") && a.Kernel.Has("g-other") })
	r := pamctlRun(t, "status", "--socket", a.Socket)
	r.want(t, cli.ExitOK)
	grantRow := regexp.MustCompile(`\n  ID +EXPIRES +LEFT +SCOPE +ROLE\n  g-9 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC +59m5\ds +user +-\n`)
	if !grantRow.MatchString(r.stdout) {
		t.Errorf("status output lacks the grants table:\n%s", r.stdout)
	}
	for _, want := range []string{"mode:           signal (enforcing)\n", "end one early with: pamctl revoke ID\n", "recent denials: none\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "g-other") {
		t.Errorf("status shows another user's grant:\n%s", r.stdout)
	}
	r = pamctlRun(t, "status", "--socket", a.Socket, "--json")
	r.want(t, cli.ExitOK)
	var out struct {
		Mode   string `json:"mode"`
		UID    uint32 `json:"uid"`
		Grants []struct {
			ID string `json:"id"`
		} `json:"grants"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.UID != me || len(out.Grants) != 1 || out.Grants[0].ID != "g-9" {
		t.Fatalf("status --json = %q (%v)", r.stdout, err)
	}
}
