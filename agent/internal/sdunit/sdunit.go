// Package sdunit asks systemd (PID 1) over D-Bus which service the agent
// is, and starts and stops transient services outside the agent's own
// sandbox. It is the only package that imports go-systemd's dbus package
// and godbus.
//
// It talks to PID 1 on the system bus (/run/dbus/system_bus_socket), the
// documented interface; systemd(1) calls its direct socket
// /run/systemd/private private to systemctl and not for other projects.
// So a host without a D-Bus system bus (dbus or dbus-broker) cannot be
// asked for units, and the callers fail closed.
package sdunit

import (
	"context"
	"errors"
	"fmt"
	"os"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// ErrNotService is returned by Self when the agent is not the main
// process of a systemd service (run from a shell, a test, or a child of
// another service that inherited its environment).
var ErrNotService = errors.New("not the main process of a systemd service")

// Booted says whether systemd is this host's init, as sd_booted(3) does.
func Booted() bool {
	st, err := os.Stat("/run/systemd/system")
	return err == nil && st.IsDir()
}

// Conn is a connection to PID 1 on the system bus. Close it.
type Conn struct{ c *sddbus.Conn }

// Dial connects to PID 1 on the system bus.
func Dial(ctx context.Context) (*Conn, error) {
	c, err := sddbus.NewSystemConnectionContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to systemd on the D-Bus system bus: %w", err)
	}
	return &Conn{c: c}, nil
}

// Close ends the connection.
func (c *Conn) Close() { c.c.Close() }

// Self is the name of the service whose main process this is:
// the unit systemd says holds our pid, and whose MainPID we are.
func (c *Conn) Self(ctx context.Context) (string, error) {
	pid := uint32(os.Getpid())
	name, err := c.c.GetUnitNameByPID(ctx, pid)
	if err != nil {
		return "", fmt.Errorf("ask systemd for the unit of pid %d: %w", pid, err)
	}
	p, err := c.c.GetServicePropertyContext(ctx, name, "MainPID")
	if err != nil {
		return "", ErrNotService // a scope or slice: no main process
	}
	if main, _ := p.Value.Value().(uint32); main != pid {
		return "", fmt.Errorf("%w: %s's main process is %d, this is %d", ErrNotService, name, main, pid)
	}
	return name, nil
}

// Start starts s as a transient service and waits until systemd has
// forked its process.
func (c *Conn) Start(ctx context.Context, s Service) error {
	done := make(chan string, 1)
	if _, err := c.c.StartTransientUnitContext(ctx, s.Name, "fail", s.properties(), done); err != nil {
		return fmt.Errorf("start %s: %w", s.Name, err)
	}
	return waitJob(ctx, s.Name, "start", done)
}

// Stop stops a unit and waits until every process of it is gone (its
// KillMode and stop timeout decide how). A unit that is not loaded is
// stopped already.
func (c *Conn) Stop(ctx context.Context, name string) error {
	done := make(chan string, 1)
	if _, err := c.c.StopUnitContext(ctx, name, "replace", done); err != nil {
		if isNoSuchUnit(err) {
			return nil
		}
		return fmt.Errorf("stop %s: %w", name, err)
	}
	return waitJob(ctx, name, "stop", done)
}

// Loaded lists the loaded units whose names match pattern (a glob).
func (c *Conn) Loaded(ctx context.Context, pattern string) ([]string, error) {
	units, err := c.c.ListUnitsByPatternsContext(ctx, nil, []string{pattern})
	if err != nil {
		return nil, fmt.Errorf("list units %s: %w", pattern, err)
	}
	var names []string
	for _, u := range units {
		names = append(names, u.Name)
	}
	return names, nil
}

// State is a unit's state for an error message: "failed (exit-code)".
func (c *Conn) State(ctx context.Context, name string) string {
	p, err := c.c.GetUnitPropertiesContext(ctx, name)
	if err != nil {
		return "unknown: " + err.Error()
	}
	state := fmt.Sprint(p["ActiveState"])
	if r, err := c.c.GetServicePropertyContext(ctx, name, "Result"); err == nil {
		state += fmt.Sprintf(" (%v)", r.Value.Value())
	}
	return state
}

func waitJob(ctx context.Context, unit, what string, done <-chan string) error {
	select {
	case r := <-done:
		if r != "done" {
			return fmt.Errorf("%s %s: the job ended %q", what, unit, r)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s %s: %w", what, unit, ctx.Err())
	}
}

// isNoSuchUnit: godbus returns method errors as dbus.Error values.
func isNoSuchUnit(err error) bool {
	var de dbus.Error
	return errors.As(err, &de) && de.Name == "org.freedesktop.systemd1.NoSuchUnit"
}
