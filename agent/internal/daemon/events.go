package daemon

import (
	"context"
	"path/filepath"

	"github.com/zpam/zpam/agent/internal/kernel"
)

// consumeEvents reads the kernel's events until ctx ends or the enforcer
// closes the channel.
func (d *Daemon) consumeEvents(ctx context.Context) {
	evs := d.enforcer.Events()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-evs:
			if !ok {
				return
			}
			d.handleEvent(ev)
			d.enforcer.Stored(ev)
		}
	}
}

func (d *Daemon) handleEvent(ev kernel.Event) {
	attrs := []any{"via", ev.Via, "uid", ev.UID, "pid", ev.PID, "ppid", ev.PPID, "session", ev.SessionID, "tty", ev.TTY, "comm", ev.Comm, "filename", ev.Filename}
	d.metrics.escalation(ev)
	d.publish(d.builder.Escalation(ev, d.enforcer.Mode()))
	switch ev.Kind {
	case kernel.EventEscalationAllowed:
		d.log.Info("escalation allowed", append(attrs, "grant_id", ev.GrantID)...)
	case kernel.EventEscalationDenied:
		d.denials.add(ev)
		if !d.enforcer.Mode().Enforcing() {
			d.log.Warn("escalation without a grant (audit mode: not blocked)", attrs...)
			return
		}
		d.log.Warn("escalation denied", attrs...)
		if ev.TTY != "" {
			d.tellTerminal(ev, "no active grant; run: pamctl elevate")
		}
	case kernel.EventScopeDenied:
		d.denials.add(ev)
		attrs = append(attrs, "grant_id", ev.GrantID)
		if !d.enforcer.Mode().Enforcing() {
			d.log.Warn("command outside its grant's commands (audit mode: not blocked)", attrs...)
			return
		}
		d.log.Warn("command outside its grant's commands denied", attrs...)
		if ev.TTY != "" {
			d.tellTerminal(ev, "not one of the commands of grant "+ev.GrantID)
		}
	default:
		d.log.Debug("kernel event", append(attrs, "kind", ev.Kind.String())...)
	}
}

// tellTerminal writes the one-line hint to the denied user's terminal.
// Best effort: the denial itself is already enforced and logged.
func (d *Daemon) tellTerminal(ev kernel.Event, why string) {
	line := "pam-agent: " + blockedName(ev) + " blocked — " + why + "\r\n"
	if err := writeTTY(ev.TTY, line); err != nil {
		d.log.Debug("could not write to terminal", "tty", ev.TTY, "err", err)
	}
}

// blockedName names what was blocked: the program exec'd, or for a
// setuid-family call the command that made it.
func blockedName(ev kernel.Event) string {
	if ev.Filename != "" {
		return filepath.Base(ev.Filename)
	}
	return ev.Comm
}
