package shell

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zpam/zpam/agent/internal/sdunit"
)

const (
	// Slice is the cgroup slice recorded shells run in, apart from the
	// agent's: systemctl status pam-agent-shells.slice lists them, and a
	// drop-in for it limits them. Dashes nest slices, so it sits at
	// /pam.slice/pam-agent.slice/, beside user.slice where logins run
	// and not in system.slice with the services.
	Slice = "pam-agent-shells.slice"
	// unitPrefix names every shell's unit, so that Sweep finds them.
	unitPrefix = "pam-agent-shell-"
	// stopTimeout bounds stopping a unit: its processes get closeGrace
	// after SIGTERM and SIGHUP, then SIGKILL.
	stopTimeout = closeGrace + 10*time.Second
)

// units starts each helper as a transient service that PID 1 forks, so
// that none of the agent's sandbox applies to it (NoNewPrivileges, the
// capability bounding set, read-only /usr and /etc, RestrictSUIDSGID),
// bound to the agent's own unit: when the agent stops or dies, systemd
// stops every shell, whose recording would otherwise end there.
type units struct {
	o LauncherOptions

	mu   sync.Mutex
	self string // the agent's unit, once systemd said so
	// notMain: systemd says the agent is not its service's main
	// process, so it is not in that sandbox: children it is.
	notMain error
}

func newUnits(o LauncherOptions) *units {
	o.Log = o.logger()
	return &units{o: o}
}

// resolve asks systemd once which service the agent is.
func (u *units) resolve(ctx context.Context, c *sdunit.Conn) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.self != "" || u.notMain != nil {
		return u.self, u.notMain
	}
	self, err := c.Self(ctx)
	switch {
	case errors.Is(err, sdunit.ErrNotService):
		u.notMain = err
		u.o.Log.Info("recorded shells run as the agent's children", "why", err.Error())
	case err == nil:
		u.self = self
		u.o.Log.Info("recorded shells run as transient units outside the agent's sandbox", "slice", Slice, "bound_to", self)
	}
	return u.self, err
}

func (u *units) launch(h helper) (process, error) {
	ctx, cancel := context.WithTimeout(context.Background(), helperTimeout)
	defer cancel()
	c, err := sdunit.Dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("recorded shells need systemd to start them outside the agent's sandbox: %w", err)
	}
	defer c.Close()
	self, err := u.resolve(ctx, c)
	if errors.Is(err, sdunit.ErrNotService) {
		return children{helper: u.o.Helper}.launch(h)
	}
	if err != nil {
		return nil, err
	}
	return u.start(ctx, c, self, h)
}

// start listens for the helper, starts its unit and takes its connection.
func (u *units) start(ctx context.Context, c *sdunit.Conn, self string, h helper) (process, error) {
	name, err := unitName(h.uid)
	if err != nil {
		return nil, err
	}
	l, path, err := u.listen(name)
	if err != nil {
		return nil, err
	}
	defer os.Remove(path)
	defer l.Close()
	svc := sdunit.Service{Name: name, Description: fmt.Sprintf("ZPAM recorded shell of %s (uid %d)", h.user, h.uid),
		Argv: append([]string{u.o.Helper}, append(h.argv, "--control", path)...), Env: helperEnv,
		TTY: h.tty.Name(), Slice: Slice, BindsTo: self, StopTimeout: closeGrace}
	if err := c.Start(ctx, svc); err != nil {
		return nil, err
	}
	p := &unit{name: name}
	if p.ctl, err = acceptHelper(ctx, l, name); err != nil {
		err = fmt.Errorf("%s (%s): %w", name, c.State(ctx, name), err)
		return nil, errors.Join(err, p.stop())
	}
	return p, nil
}

// unitName is a new, unguessable unit name for uid's shell.
func unitName(uid uint32) (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s%d-%s.service", unitPrefix, uid, hex.EncodeToString(b)), nil
}

// listen makes the helper's control socket in a root-only directory of
// the runtime dir, which PID 1's children see as the agent does.
func (u *units) listen(name string) (*net.UnixListener, string, error) {
	dir := filepath.Join(u.o.RuntimeDir, "shells")
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, "", fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, "", err
	}
	path := filepath.Join(dir, strings.TrimSuffix(name, ".service")+".sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, "", fmt.Errorf("listen for the shell helper: %w", err)
	}
	return l, path, nil
}

// acceptHelper takes the first connection from a root process of unit
// name; only root can reach the socket, and anything else is refused.
func acceptHelper(ctx context.Context, l *net.UnixListener, name string) (net.Conn, error) {
	deadline, _ := ctx.Deadline()
	_ = l.SetDeadline(deadline)
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			return nil, fmt.Errorf("the shell helper did not connect: %w", err)
		}
		if err := fromUnit(c, name); err != nil {
			c.Close()
			continue
		}
		return c, nil
	}
}

// fromUnit checks that the peer is root and in unit name's cgroup.
func fromUnit(c *net.UnixConn, name string) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if credErr != nil {
		return credErr
	}
	if cred.Uid != 0 {
		return fmt.Errorf("peer uid %d is not root", cred.Uid)
	}
	if !inUnit(fmt.Sprintf("/proc/%d/cgroup", cred.Pid), name) {
		return fmt.Errorf("peer pid %d is not in %s", cred.Pid, name)
	}
	return nil
}

// inUnit says whether the cgroup file lists a path ending in /name (the
// unified hierarchy's line, or the name=systemd one of a hybrid host).
func inUnit(cgroupFile, name string) bool {
	b, err := os.ReadFile(cgroupFile)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && (parts[1] == "" || parts[1] == "name=systemd") && filepath.Base(parts[2]) == name {
			return true
		}
	}
	return false
}

// Sweep stops every shell unit left by an earlier agent (one whose
// BindsTo= did not stop it, as when the agent was not running as a
// service then).
func (u *units) Sweep(ctx context.Context) {
	c, err := sdunit.Dial(ctx)
	if err != nil {
		u.o.Log.Warn("recorded shells cannot start until systemd can be reached", "err", err)
		return
	}
	defer c.Close()
	if _, err := u.resolve(ctx, c); err != nil {
		return
	}
	left, err := c.Loaded(ctx, unitPrefix+"*.service")
	if err != nil {
		u.o.Log.Warn("list recorded shells left running", "err", err)
		return
	}
	for _, name := range left {
		err := c.Stop(ctx, name)
		u.o.Log.Warn("stopped a recorded shell an earlier agent left running", "unit", name, "err", err)
	}
}

// unit is a helper PID 1 started.
type unit struct {
	name string
	ctl  net.Conn
}

func (p *unit) control() net.Conn { return p.ctl }
func (p *unit) wait()             {} // PID 1 reaps it

// stop stops the unit: SIGTERM and SIGHUP to every process in its
// cgroup, SIGKILL after closeGrace, and waits for that.
func (p *unit) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	c, err := sdunit.Dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Stop(ctx, p.name)
}

// logger is the launcher's, or a discarding one.
func (o LauncherOptions) logger() *slog.Logger {
	if o.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Log
}
