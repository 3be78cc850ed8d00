package pamctl

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/zpam/zpam/agent/internal/cli"
	"github.com/zpam/zpam/agent/internal/localapi/localclient"
	"github.com/zpam/zpam/internal/envflag"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

// Causes of stopping before a decision.
var (
	errTimedOut    = errors.New("timed out")
	errInterrupted = errors.New("interrupted")
)

type elevateFlags struct {
	dur, timeout time.Duration
	reason, otp  string
	commands     []string
	noWait       bool
	asJSON       bool
	shell        bool
	// resume is the grant or request id of a suspended grant to resume.
	resume string
}

func newElevateCommand(g *globals) *cobra.Command {
	f := &elevateFlags{}
	cmd := &cobra.Command{
		Use:   "elevate",
		Short: "Ask for root on this host for a while; returns once the grant is active",
		Long: "Ask for root on this host for a while; returns once the grant is active, and prints when\n" +
			"the window ends and how to end it early (pamctl revoke ID).\n\n" +
			"While approvers decide, a terminal shows a spinner with the elapsed time and who must\n" +
			"approve; otherwise one line per change. When policy asks for a one-time code and none\n" +
			"was given with --otp, it is asked for on the terminal (not echoed). Ctrl-C withdraws the\n" +
			"request.\n\n" +
			"With --shell, the agent starts `sudo -i` under a terminal it owns and records (asciicast\n" +
			"v2; replay with pamctl replay ID); the grant holds only inside that shell, which ends\n" +
			"when the grant does. Roles with record: true accept only this.\n\n" +
			"With --resume ID, a grant that a detection rule suspended (pamctl requests lists it as\n" +
			"suspended) is put back until its old expiry, once you give a fresh\n" +
			"one-time code (--otp, or asked for on the terminal); only its requester may.\n\n" +
			"Exit codes: 0 grant active (with --shell: the shell ran), 1 denied, 2 usage error,\n" +
			"4 gave up waiting for approval, 5 agent or control plane unreachable.",
		Example: "  pamctl elevate --for 30m --reason \"INC-4411 disk full\"\n" +
			"  pamctl elevate --for 10m --reason \"rotate logs\" --shell\n" +
			"  pamctl elevate --for 5m --reason deploy --otp 123456 --json\n" +
			"  pamctl elevate --resume 3f0c9a2e-6d1b-4c55-9f7e-2b8a1d0e4c11 --otp 123456",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case f.resume != "":
				return runResume(cmd, g, f)
			case f.shell:
				return runShell(cmd, g, f)
			}
			return runElevate(cmd, g, f)
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&f.dur, "for", 15*time.Minute, "how long the grant should last")
	fl.StringVar(&f.reason, "reason", "", "why, for approvers and the audit trail")
	fl.StringArrayVar(&f.commands, "command", nil, "absolute path of a command the grant is limited to (repeatable)")
	fl.StringVar(&f.otp, "otp", "", "one-time code, when policy asks for one (otherwise asked for on the terminal)")
	fl.BoolVar(&f.noWait, "no-wait", false, "return once the request is filed instead of waiting for a decision")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Minute, "how long to wait for approval before giving up")
	fl.BoolVar(&f.asJSON, "json", false, "print one JSON object")
	fl.BoolVar(&f.shell, "shell", false, "run a recorded root shell (sudo -i) under the grant")
	fl.StringVar(&f.resume, "resume", "", "resume your grant (grant or request id) that a detection suspended, with a fresh one-time code")
	return cmd
}

// check refuses bad values, naming each by the flag or the variable
// that set it.
func (f *elevateFlags) check(cmd *cobra.Command) error {
	if f.dur <= 0 {
		return cli.FlagUsage(cmd, "for", "%q must be a positive duration like 90s, 15m or 1h", f.dur)
	}
	if f.timeout <= 0 {
		return cli.FlagUsage(cmd, "timeout", "%q must be a positive duration like 90s, 15m or 1h", f.timeout)
	}
	for _, c := range f.commands {
		if !filepath.IsAbs(c) {
			return cli.FlagUsage(cmd, "command", "%q is not an absolute path like /usr/bin/systemctl", c)
		}
	}
	if f.shell && (f.noWait || f.asJSON) {
		other := "no-wait"
		if f.asJSON {
			other = "json"
		}
		return cli.FlagUsage(cmd, "shell", "runs an interactive shell; it cannot be combined with %s", envflag.Source(cmd.Flags(), other))
	}
	return nil
}

func (f *elevateFlags) request() *localv1.ElevateRequest {
	return &localv1.ElevateRequest{Duration: durationpb.New(f.dur), Reason: f.reason, Commands: f.commands, Otp: f.otp, NoWait: f.noWait}
}

// elevateRun is one pamctl elevate invocation.
type elevateRun struct {
	cmd    *cobra.Command
	socket string
	f      *elevateFlags
	c      *localclient.Client
	w      *waiter
}

func runElevate(cmd *cobra.Command, g *globals, f *elevateFlags) error {
	if err := f.check(cmd); err != nil {
		return err
	}
	c, err := dialAgent(g.socket)
	if err != nil {
		return err
	}
	defer c.Close()
	e := &elevateRun{cmd: cmd, socket: g.socket, f: f, c: c}
	ctx, w := e.waiter(cmd.Context())
	defer w.done()
	last, err := e.follow(ctx, f.request(), w)
	return e.render(e.outcome(last, err))
}

// follow files the request and reads the agent's updates to the end,
// answering a one-time code prompt on the way.
func (e *elevateRun) follow(ctx context.Context, req *localv1.ElevateRequest, w *waiter) (*localv1.ElevateUpdate, error) {
	out := e.cmd.ErrOrStderr()
	_, live := terminal(out)
	if e.f.asJSON {
		out, live = io.Discard, false
	}
	p := newProgress(out, live)
	defer p.close()
	stream, err := e.c.Elevate(ctx, req)
	if err != nil {
		return nil, err
	}
	var last *localv1.ElevateUpdate
	answered := false
	for {
		u, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return last, nil
		}
		if err != nil {
			return last, err
		}
		last = u
		w.pending(u.GetRequest())
		if needsCode(u) {
			// The status may come again (the watch starts with the current
			// one): the code is asked for once, the control plane's
			// answer to it ends PENDING_MFA.
			if answered {
				continue
			}
			if !e.canPromptCode() {
				return last, nil // outcome says to run again with --otp
			}
			p.clear()
			if err := e.answerCode(ctx, u.GetRequest().GetId()); err != nil {
				return last, err
			}
			answered = true
			continue
		}
		p.update(u)
	}
}

// canPromptCode: a person is at the terminal to type a code.
func (e *elevateRun) canPromptCode() bool {
	if e.f.asJSON {
		return false
	}
	_, in := terminal(e.cmd.InOrStdin())
	_, errTerm := terminal(e.cmd.ErrOrStderr())
	return in && errTerm
}

// answerCode asks for the code without echo and sends it for request id.
func (e *elevateRun) answerCode(ctx context.Context, id string) error {
	code, err := promptCode(ctx, e.cmd.InOrStdin(), e.cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	_, err = e.c.SubmitOTP(sctx, &localv1.LocalSubmitOTPRequest{RequestId: id, Otp: code})
	return err
}

func needsCode(u *localv1.ElevateUpdate) bool {
	return u.GetRequest().GetStatus() == commonv1.RequestStatus_REQUEST_STATUS_PENDING_MFA
}
