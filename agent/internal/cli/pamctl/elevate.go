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
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

// errTimedOut is the cause of giving up after --timeout.
var errTimedOut = errors.New("timed out")

type elevateFlags struct {
	dur, timeout time.Duration
	reason, otp  string
	commands     []string
	noWait       bool
	asJSON       bool
}

func newElevateCommand(g *globals) *cobra.Command {
	f := &elevateFlags{}
	cmd := &cobra.Command{
		Use:   "elevate",
		Short: "Ask for root on this host for a while; returns once the grant is active",
		Long: "Ask for root on this host for a while; returns once the grant is active.\n\n" +
			"Exit codes: 0 grant active, 1 denied, 2 usage error, 4 gave up waiting for approval,\n" +
			"5 agent or control plane unreachable.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runElevate(cmd, g, f) },
	}
	fl := cmd.Flags()
	fl.DurationVar(&f.dur, "for", 15*time.Minute, "how long the grant should last")
	fl.StringVar(&f.reason, "reason", "", "why, for approvers and the audit trail")
	fl.StringArrayVar(&f.commands, "command", nil, "absolute path of a command the grant is limited to (repeatable)")
	fl.StringVar(&f.otp, "otp", "", "one-time code, when policy asks for one")
	fl.BoolVar(&f.noWait, "no-wait", false, "return once the request is filed instead of waiting for a decision")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Minute, "how long to wait for approval before giving up")
	fl.BoolVar(&f.asJSON, "json", false, "print one JSON object")
	return cmd
}

func (f *elevateFlags) check() error {
	if f.dur <= 0 {
		return cli.Usage("--for %q must be a positive duration like 90s, 15m or 1h", f.dur)
	}
	if f.timeout <= 0 {
		return cli.Usage("--timeout %q must be a positive duration like 90s, 15m or 1h", f.timeout)
	}
	for _, c := range f.commands {
		if !filepath.IsAbs(c) {
			return cli.Usage("--command %q is not an absolute path like /usr/bin/systemctl", c)
		}
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
}

func runElevate(cmd *cobra.Command, g *globals, f *elevateFlags) error {
	if err := f.check(); err != nil {
		return err
	}
	c, err := localclient.Dial(g.socket)
	if err != nil {
		return cli.Exit(cli.ExitUnreachable, "cannot reach the agent at %s: %v", g.socket, err)
	}
	defer c.Close()
	// A timer, not a deadline: a deadline would travel to the agent and
	// could end the stream there first, and then pamctl could not tell
	// giving up from a failure.
	ctx, cancel := context.WithCancelCause(cmd.Context())
	defer cancel(nil)
	timer := time.AfterFunc(f.timeout, func() { cancel(errTimedOut) })
	defer timer.Stop()
	e := &elevateRun{cmd: cmd, socket: g.socket, f: f, c: c}
	req := f.request()
	last, err := e.follow(ctx, req)
	if err == nil && e.canPromptCode(last, req) {
		if req.Otp, err = e.promptCode(); err != nil {
			return cli.Exit(cli.ExitFailure, "read the one-time code: %v", err)
		}
		last, err = e.follow(ctx, req)
	}
	return e.render(e.outcome(ctx, last, err))
}

// follow files the request and reads the agent's updates to the end.
func (e *elevateRun) follow(ctx context.Context, req *localv1.ElevateRequest) (*localv1.ElevateUpdate, error) {
	w := e.cmd.ErrOrStderr()
	_, live := terminal(w)
	if e.f.asJSON {
		w, live = io.Discard, false
	}
	p := newProgress(w, live)
	defer p.close()
	stream, err := e.c.Elevate(ctx, req)
	if err != nil {
		return nil, err
	}
	var last *localv1.ElevateUpdate
	for {
		u, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return last, nil
		}
		if err != nil {
			return last, err
		}
		last = u
		p.update(u)
	}
}

// canPromptCode: policy wants a code, none was given, and a person is
// at the terminal to type one.
func (e *elevateRun) canPromptCode(last *localv1.ElevateUpdate, req *localv1.ElevateRequest) bool {
	if last.GetRequest().GetStatus() != commonv1.RequestStatus_REQUEST_STATUS_PENDING_MFA || req.GetOtp() != "" || e.f.asJSON {
		return false
	}
	_, in := terminal(e.cmd.InOrStdin())
	_, errTerm := terminal(e.cmd.ErrOrStderr())
	return in && errTerm
}

func (e *elevateRun) promptCode() (string, error) {
	in, _ := terminal(e.cmd.InOrStdin())
	w := e.cmd.ErrOrStderr()
	if _, err := io.WriteString(w, "one-time code: "); err != nil {
		return "", err
	}
	code, err := readHidden(in)
	_, _ = io.WriteString(w, "\n")
	return code, err
}
