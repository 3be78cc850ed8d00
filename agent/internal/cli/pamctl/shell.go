package pamctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/zpam/zpam/agent/internal/cli"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

// shellClient is pamctl's side of a recorded shell: it relays keys,
// window sizes and the screen, and never holds the shell's terminal.
type shellClient struct {
	e      *elevateRun
	in     *os.File
	stream localv1.LocalShell_ShellClient
	sendMu sync.Mutex
}

func runShell(cmd *cobra.Command, g *globals, f *elevateFlags) error {
	if err := f.check(cmd); err != nil {
		return err
	}
	in, ok := terminal(cmd.InOrStdin())
	if _, outOK := terminal(cmd.OutOrStdout()); !ok || !outOK {
		return cli.FlagUsage(cmd, "shell", "runs an interactive shell and needs a terminal on stdin and stdout")
	}
	c, err := dialAgent(g.socket)
	if err != nil {
		return err
	}
	defer c.Close()
	e := &elevateRun{cmd: cmd, socket: g.socket, f: f, c: c}
	ctx, w := e.waiter(cmd.Context())
	defer w.done()
	stream, err := c.Shell(ctx)
	if err != nil {
		return e.render(e.outcome(nil, err))
	}
	sc := &shellClient{e: e, in: in, stream: stream}
	last, err := sc.elevate(ctx, w)
	r := e.outcome(last, err)
	if r.code != cli.ExitOK {
		return e.render(r)
	}
	w.done() // granted: Ctrl-C is now a key for the shell
	fmt.Fprintf(cmd.ErrOrStderr(), "granted: %s\nrecorded root shell (sudo -i); it ends when you exit or the grant ends\r\n",
		grantLine(last.GetRequest().GetGrant(), time.Now()))
	return sc.run()
}

func (sc *shellClient) send(in *localv1.ShellInput) error {
	sc.sendMu.Lock()
	defer sc.sendMu.Unlock()
	return sc.stream.Send(in)
}

// elevate sends the request and follows it as pamctl elevate does; the
// code goes up the same stream.
func (sc *shellClient) elevate(ctx context.Context, w *waiter) (*localv1.ElevateUpdate, error) {
	cols, rows := size(sc.in)
	start := &localv1.ShellStart{Elevate: sc.e.f.request(), Size: &localv1.WindowSize{Cols: cols, Rows: rows}, Term: os.Getenv("TERM")}
	if err := sc.send(&localv1.ShellInput{Input: &localv1.ShellInput_Start{Start: start}}); err != nil {
		return nil, err
	}
	_, live := terminal(sc.e.cmd.ErrOrStderr())
	p := newProgress(sc.e.cmd.ErrOrStderr(), live)
	defer p.close()
	var last *localv1.ElevateUpdate
	answered := false
	for {
		out, err := sc.stream.Recv()
		if errors.Is(err, io.EOF) {
			return last, nil
		}
		if err != nil {
			return last, err
		}
		u := out.GetUpdate()
		if u == nil {
			return last, fmt.Errorf("the agent sent output before the grant")
		}
		last = u
		w.pending(u.GetRequest())
		switch {
		case u.GetEnforced():
			return last, nil
		case needsCode(u) && answered:
		case needsCode(u):
			answered = true
			p.clear()
			code, err := promptCode(ctx, sc.in, sc.e.cmd.ErrOrStderr())
			if err != nil {
				return last, err
			}
			if err := sc.send(&localv1.ShellInput{Input: &localv1.ShellInput_Otp{Otp: code}}); err != nil {
				return last, err
			}
		default:
			p.update(u)
		}
	}
}

// run puts the terminal in raw mode and relays until the agent ends the
// shell.
func (sc *shellClient) run() error {
	old, err := term.MakeRaw(int(sc.in.Fd()))
	if err != nil {
		return cli.Exit(cli.ExitFailure, "put the terminal in raw mode: %v", err)
	}
	restore := func() { _ = term.Restore(int(sc.in.Fd()), old) }
	defer restore()
	stopResize := sc.relayResizes()
	defer stopResize()
	go sc.relayKeys()
	ended, err := sc.relayScreen()
	restore()
	if err != nil {
		return cli.Exit(cli.ExitFailure, "the recorded shell broke off: %s", errSentence(err))
	}
	fmt.Fprintf(sc.e.cmd.ErrOrStderr(), "\nshell ended: %s; recording %s: replay with: pamctl replay %s\n",
		ended.GetReason(), ended.GetRecordingId(), ended.GetRecordingId())
	return nil
}

func (sc *shellClient) relayKeys() {
	buf := make([]byte, 4096)
	for {
		n, err := sc.in.Read(buf)
		if n > 0 {
			if sc.send(&localv1.ShellInput{Input: &localv1.ShellInput_Stdin{Stdin: append([]byte(nil), buf[:n]...)}}) != nil {
				return
			}
		}
		if err != nil {
			_ = sc.stream.CloseSend()
			return
		}
	}
}

// relayResizes sends the window size on every SIGWINCH.
func (sc *shellClient) relayResizes() (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGWINCH)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-ch:
				cols, rows := size(sc.in)
				_ = sc.send(&localv1.ShellInput{Input: &localv1.ShellInput_Resize{Resize: &localv1.WindowSize{Cols: cols, Rows: rows}}})
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

func (sc *shellClient) relayScreen() (*localv1.ShellEnded, error) {
	out := sc.e.cmd.OutOrStdout()
	for {
		msg, err := sc.stream.Recv()
		if err != nil {
			return nil, err
		}
		if ended := msg.GetEnded(); ended != nil {
			return ended, nil
		}
		if _, err := out.Write(msg.GetStdout()); err != nil {
			return nil, err
		}
	}
}

func size(f *os.File) (cols, rows uint32) {
	w, h, err := term.GetSize(int(f.Fd()))
	if err != nil || w <= 0 || h <= 0 {
		return 80, 24
	}
	return uint32(w), uint32(h)
}
