package shell

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"syscall"

	"github.com/zpam/zpam/agent/internal/sdunit"
)

// A Launcher starts the shell helper with the PTY's slave as its terminal
// and hands back its control connection.
type Launcher interface {
	launch(h helper) (process, error)
	// Sweep ends the recorded shells an earlier agent left running:
	// their terminal's master died with that agent, so nothing records
	// them any more. Call it once at start.
	Sweep(ctx context.Context)
}

// helper is one helper to start.
type helper struct {
	argv []string // after the binary; the launcher adds how to reach it
	uid  uint32
	user string
	tty  *os.File
}

// process is a started helper.
type process interface {
	control() net.Conn
	// wait returns once the helper has exited and been reaped.
	wait()
	// stop ends the helper and what the launcher placed it in.
	stop() error
}

// LauncherOptions configure NewLauncher.
type LauncherOptions struct {
	// Helper is the pam-agent binary, whose shell-helper command runs
	// the shell.
	Helper string
	// RuntimeDir is a directory of the agent's that PID 1's children
	// see too (not in a PrivateTmp): the control sockets of transient
	// units go in a root-only directory below it.
	RuntimeDir string
	Log        *slog.Logger
}

// NewLauncher chooses where helpers run. Started by systemd (INVOCATION_ID
// set on a host systemd booted), the agent runs in its unit's sandbox, so
// shells are transient units that PID 1 starts; whether the agent really
// is that service's main process (and not a child of some service that
// inherited its environment) is asked of systemd before the first shell.
// Otherwise shells are the agent's children.
func NewLauncher(o LauncherOptions) Launcher {
	if os.Getenv("INVOCATION_ID") != "" && sdunit.Booted() {
		return newUnits(o)
	}
	return children{helper: o.Helper}
}

// children starts helpers as the agent's own child processes.
type children struct{ helper string }

func (children) Sweep(context.Context) {}

func (c children) launch(h helper) (process, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("control socketpair: %w", err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "control"), os.NewFile(uintptr(fds[1]), "control")
	defer mine.Close()
	defer theirs.Close()
	cmd := exec.Command(c.helper, h.argv...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = h.tty, h.tty, h.tty
	cmd.ExtraFiles = []*os.File{theirs} // fd 3
	cmd.Env = helperEnv
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s shell-helper: %w", c.helper, err)
	}
	p := &child{cmd: cmd, waited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.waited) }()
	if p.ctl, err = net.FileConn(mine); err != nil {
		_ = p.stop()
		p.wait()
		return nil, fmt.Errorf("control connection: %w", err)
	}
	return p, nil
}

// helperEnv is all the helper needs; it builds the shell's own.
var helperEnv = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}

type child struct {
	cmd    *exec.Cmd
	ctl    net.Conn
	waited chan struct{}
}

func (c *child) control() net.Conn { return c.ctl }
func (c *child) wait()             { <-c.waited }

// stop kills a helper still running; the session's processes are
// ended by the caller.
func (c *child) stop() error {
	select {
	case <-c.waited:
	default:
		_ = c.cmd.Process.Kill()
	}
	return nil
}
