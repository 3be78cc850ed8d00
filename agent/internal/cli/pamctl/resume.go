package pamctl

import (
	"context"
	"errors"
	"io"

	"github.com/spf13/cobra"

	"github.com/zpam/zpam/agent/internal/cli"
	"github.com/zpam/zpam/internal/envflag"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

// resumeExclusive are elevate's flags that file a new request, which a
// resume does not.
var resumeExclusive = []string{"for", "reason", "command", "no-wait", "shell"}

// checkResume refuses flags that mean nothing to a resume.
func checkResume(cmd *cobra.Command) error {
	for _, name := range resumeExclusive {
		if cmd.Flags().Changed(name) {
			return cli.FlagUsage(cmd, "resume", "puts a suspended grant back as it was; it cannot be combined with %s", envflag.Source(cmd.Flags(), name))
		}
	}
	return nil
}

// runResume is pamctl elevate --resume ID: the caller's fresh one-time
// code puts their suspended grant back in force until its old expiry;
// it returns once the grant is in this host's kernel again.
func runResume(cmd *cobra.Command, g *globals, f *elevateFlags) error {
	if err := checkResume(cmd); err != nil {
		return err
	}
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
	if f.otp == "" {
		if !e.canPromptCode() {
			return cli.Usage("resuming grant %s needs a fresh one-time code from your authenticator; give it with --otp CODE", f.resume)
		}
		if f.otp, err = promptCode(ctx, cmd.InOrStdin(), cmd.ErrOrStderr()); err != nil {
			return cli.Exit(cli.ExitFailure, "read the one-time code: %v", err)
		}
	}
	last, err := e.resume(ctx)
	return e.render(e.outcome(last, err))
}

// resume asks the agent and reads its updates to the end.
func (e *elevateRun) resume(ctx context.Context) (*localv1.ElevateUpdate, error) {
	stream, err := e.c.Risk.Resume(ctx, &localv1.LocalResumeRequest{Id: e.f.resume, Otp: e.f.otp})
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
	}
}
