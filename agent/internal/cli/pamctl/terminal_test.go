package pamctl_test

import (
	"bytes"
	"context"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/zpam/zpam/agent/internal/cli"
	"github.com/zpam/zpam/agent/internal/cli/pamctl"
	"github.com/zpam/zpam/agent/internal/cpclient/cptest"
	"github.com/zpam/zpam/agent/internal/localapi/localapitest"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	"github.com/zpam/zpam/tests/prereq"
)

// screen is a pseudo-terminal as a person's: pamctl gets the slave as
// stdin and stderr, the test reads the master, what the screen shows.
type screen struct {
	master, tty *os.File
	mu          sync.Mutex
	seen        bytes.Buffer
}

func newScreen(t *testing.T) *screen {
	t.Helper()
	master, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	s := &screen{master: master, tty: tty}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			s.mu.Lock()
			s.seen.Write(buf[:n])
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { tty.Close(); master.Close() })
	return s
}

func (s *screen) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen.String()
}

func (s *screen) waitFor(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := s.text()
		if !slices.ContainsFunc(want, func(w string) bool { return !strings.Contains(got, w) }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the screen shows %q; want %q on it", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// onScreen runs pamctl with the terminal as stdin and stderr.
func onScreen(ctx context.Context, s *screen, args ...string) (done chan run) {
	done = make(chan run, 1)
	go func() {
		root := pamctl.NewCommand("test")
		root.SetIn(s.tty)
		var out bytes.Buffer
		code := cli.Execute(ctx, root, args, &out, s.tty)
		done <- run{code: code, stdout: out.String()}
	}()
	return done
}

func TestElevateOnATerminalAsksForTheCodeWithoutEcho(t *testing.T) {
	a := localapitest.Start(t, nil)
	a.CP.SetDecider(cptest.NeedsCode)
	a.CP.SetCode("424242")
	s := newScreen(t)
	done := onScreen(context.Background(), s, "elevate", "--socket", a.Socket, "--for", "2m", "--reason", "test")
	s.waitFor(t, "one-time code: ")
	if _, err := s.master.WriteString("424242\r"); err != nil {
		t.Fatal(err)
	}
	r := <-done
	r.want(t, cli.ExitOK)
	if strings.Contains(s.text(), "424242") {
		t.Fatalf("the typed code is on the screen: %q", s.text())
	}
	if !strings.HasPrefix(r.stdout, "granted: grant g-r-1 active until ") || !strings.Contains(r.stdout, "end it early with: pamctl revoke g-r-1\n") {
		t.Fatalf("stdout %q", r.stdout)
	}
}

func TestElevateOnATerminalSpinsWhileWaitingAndSaysForWhom(t *testing.T) {
	a := localapitest.Start(t, nil)
	s := newScreen(t)
	done := onScreen(context.Background(), s, "elevate", "--socket", a.Socket)
	s.waitFor(t, "request r-1 is waiting for approval (1 more from carol) — 1s elapsed")
	frames := 0
	for _, f := range "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏" {
		if strings.ContainsRune(s.text(), f) {
			frames++
		}
	}
	if frames < 3 {
		t.Fatalf("the spinner did not turn (%d frames seen): %q", frames, s.text())
	}
	a.CP.Approve("r-1")
	(<-done).want(t, cli.ExitOK)
	localapitest.Eventually(t, "the live line cleared at the end", func() bool { return strings.HasSuffix(s.text(), "\r\033[K") })
}

func TestCtrlCWithdrawsTheRequestAndSaysSo(t *testing.T) {
	a := localapitest.Start(t, nil)
	s := newScreen(t)
	ctx, interrupt := context.WithCancel(context.Background()) // what SIGINT does in Main
	done := onScreen(ctx, s, "elevate", "--socket", a.Socket)
	s.waitFor(t, "waiting for approval")
	interrupt()
	r := <-done
	r.want(t, cli.ExitGaveUp)
	s.waitFor(t, "pamctl: interrupted waiting for approval of request r-1; the request was withdrawn\r\n")
	if !slices.Contains(a.CP.Canceled(), "r-1") {
		t.Fatalf("request not canceled upstream: %v", a.CP.Canceled())
	}
}

func TestElevateWithoutATerminalCannotBeAskedForACode(t *testing.T) {
	a := localapitest.Start(t, nil)
	a.CP.SetDecider(cptest.NeedsCode)
	r := pamctlRun(t, "elevate", "--socket", a.Socket)
	r.want(t, cli.ExitFailure)
	if r.stderr != "pamctl: request r-1 needs a one-time code from your authenticator and none can be asked for here; run again with --otp CODE\n" {
		t.Fatalf("stderr %q", r.stderr)
	}
	localapitest.Eventually(t, "the unanswerable request withdrawn", func() bool { return slices.Contains(a.CP.Canceled(), "r-1") })
}

func TestApproveThroughTheAgentAsksForTheApproversCode(t *testing.T) {
	me, err := user.LookupId(strconv.Itoa(os.Getuid()))
	if err != nil {
		prereq.Missing(t, "uid %d has no user name: %v", os.Getuid(), err)
	}
	a := localapitest.Start(t, nil)
	a.CP.SetCode("135790")
	theirs := a.CP.FileAs("dora", func(string, *agentv1.ElevationRequest) *commonv1.Request {
		return &commonv1.Request{Status: commonv1.RequestStatus_REQUEST_STATUS_PENDING_APPROVAL, ApprovalsNeeded: 1, ApproversAllowed: []string{me.Username}}
	})
	r := pamctlRun(t, "requests", "--socket", a.Socket)
	r.want(t, cli.ExitOK)
	if !strings.Contains(r.stdout, "to approve:\nID ") || !strings.Contains(r.stdout, theirs.GetId()+"  dora ") {
		t.Fatalf("requests table:\n%s", r.stdout)
	}
	s := newScreen(t)
	done := onScreen(context.Background(), s, "approve", theirs.GetId(), "--socket", a.Socket, "--comment", "ok")
	s.waitFor(t, "one-time code: ")
	time.Sleep(100 * time.Millisecond) // a person takes a moment; the call's deadline must not run meanwhile
	s.master.WriteString("135790\r")
	got := <-done
	got.want(t, cli.ExitOK)
	if !strings.HasPrefix(got.stdout, "approved request "+theirs.GetId()+": dora on ") || strings.Contains(s.text(), "135790") {
		t.Fatalf("stdout %q, screen %q", got.stdout, s.text())
	}
}

func TestRevokeAnotherUsersGrantIsRefusedWithWhy(t *testing.T) {
	a := localapitest.Start(t, nil)
	a.CP.SetDecider(cptest.AutoApprove)
	theirs := a.CP.FileAs("dora", cptest.AutoApprove)
	r := pamctlRun(t, "revoke", theirs.GetGrant().GetId(), "--socket", a.Socket)
	r.want(t, cli.ExitFailure)
	if !strings.Contains(r.stderr, "may revoke only their own grants") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("stderr %q; want one sentence saying why", r.stderr)
	}
}
