package sdunit

import (
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// Service is a transient service: a process PID 1 forks with none of the
// caller's sandboxing, in a cgroup of its own.
type Service struct {
	// Name ends in .service.
	Name        string
	Description string
	// Argv is the command; Argv[0] an absolute path.
	Argv []string
	// Env is its whole environment besides what systemd always sets.
	Env []string
	// TTY is the terminal for stdin, stdout and stderr; systemd opens
	// it and makes it the controlling terminal of the new session.
	TTY string
	// Slice is the cgroup slice it runs in.
	Slice string
	// BindsTo is stopped with: when that unit stops or dies, so does
	// this one, and it starts after it.
	BindsTo string
	// StopTimeout is how long its processes get after SIGTERM and SIGHUP
	// before SIGKILL, when it is stopped or its main process exits.
	StopTimeout time.Duration
}

// properties are the unit settings, as systemd-run would send them.
// Type=simple rather than exec, which systemd 239 (RHEL 8) lacks;
// a helper that never runs is noticed by its caller's own timeout.
func (s Service) properties() []sddbus.Property {
	p := []sddbus.Property{
		sddbus.PropDescription(s.Description),
		sddbus.PropType("simple"),
		sddbus.PropExecStart(s.Argv, false),
		prop("Environment", s.Env),
		// The shell's pipes behave as at a login: SIGPIPE not ignored.
		prop("IgnoreSIGPIPE", false),
		// Every process of the unit goes when it stops, or once its main
		// process has exited: SIGTERM and SIGHUP (as a closed terminal
		// would send), then SIGKILL after StopTimeout.
		prop("KillMode", "control-group"),
		prop("SendSIGHUP", true),
		prop("TimeoutStopUSec", uint64(s.StopTimeout/time.Microsecond)),
		// Gone from systemctl once ended, failed or not.
		prop("CollectMode", "inactive-or-failed"),
	}
	if s.TTY != "" {
		p = append(p, prop("TTYPath", s.TTY),
			// tty-fail: never wait for a terminal someone else controls.
			prop("StandardInput", "tty-fail"), prop("StandardOutput", "tty"), prop("StandardError", "tty"))
	}
	if s.Slice != "" {
		p = append(p, sddbus.PropSlice(s.Slice))
	}
	if s.BindsTo != "" {
		p = append(p, sddbus.PropBindsTo(s.BindsTo), sddbus.PropAfter(s.BindsTo))
	}
	return p
}

func prop(name string, v any) sddbus.Property {
	return sddbus.Property{Name: name, Value: dbus.MakeVariant(v)}
}
