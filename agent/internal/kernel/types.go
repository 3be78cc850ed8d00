// Package kernel owns the eBPF side of the agent: it loads, attaches and pins
// the enforcement programs, writes grants into their maps and reads their
// events. It is the only package that imports cilium/ebpf.
package kernel

import (
	"fmt"
	"time"
)

// Mode is how escalations are enforced.
type Mode string

const (
	// ModeAuto picks the strongest mode this kernel proves it can run.
	ModeAuto Mode = "auto"
	// ModeLSM denies with -EPERM from BPF LSM hooks.
	ModeLSM Mode = "lsm"
	// ModeSignal kills the escalating task from exec tracepoints before the
	// new image runs a single user-space instruction.
	ModeSignal Mode = "signal"
	// ModeAudit only observes and reports; it never blocks.
	ModeAudit Mode = "audit"
)

// ParseMode accepts the names used on the command line and in agent.yaml.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeAuto, ModeLSM, ModeSignal, ModeAudit:
		return m, nil
	}
	return "", fmt.Errorf("mode %q is not one of auto, lsm, signal, audit", s)
}

// Enforcing reports whether the mode blocks escalations.
func (m Mode) Enforcing() bool { return m == ModeLSM || m == ModeSignal }

// AnySession is the session id of a user-scoped grant entry. It equals the
// kernel's AUDIT_SID_UNSET, so a process without an audit session matches
// user-scoped grants only.
const AnySession = ^uint32(0)

// DefaultPinDir is where programs, links and maps are pinned so that
// enforcement outlives the agent process.
const DefaultPinDir = "/sys/fs/bpf/pam-agent"

// Grant is one kernel grant entry.
type Grant struct {
	// ID is the control plane grant id; at most GrantIDLen bytes.
	ID        string
	UID       uint32
	SessionID uint32
	// ExpiresAt is converted once to a CLOCK_BOOTTIME deadline when written,
	// so later wall-clock changes neither extend nor shorten the grant.
	ExpiresAt time.Time
	// Commands, when not empty, scope the grant: in its elevated tree only
	// these programs (absolute paths, resolved to their file identities)
	// and the launchers may run with euid 0.
	Commands []string
}

// GrantIDLen is the room for a grant id in the kernel map value.
const GrantIDLen = 40

// EventKind says what an event reports.
type EventKind uint8

const (
	EventEscalationDenied EventKind = iota + 1
	EventEscalationAllowed
	// EventScopeDenied: a program outside a scoped grant's commands would
	// have run with euid 0 in its tree; GrantID names the grant.
	EventScopeDenied
)

func (k EventKind) String() string {
	switch k {
	case EventEscalationDenied:
		return "escalation_denied"
	case EventEscalationAllowed:
		return "escalation_allowed"
	case EventScopeDenied:
		return "scope_denied"
	}
	return fmt.Sprintf("event_%d", uint8(k))
}

// Event is one record from the kernel ring buffer.
type Event struct {
	Kind      EventKind
	Time      time.Time
	PID       uint32
	PPID      uint32
	UID       uint32
	EUID      uint32
	LoginUID  uint32
	SessionID uint32
	// TTY is the controlling terminal name as the kernel knows it ("pts/3"),
	// empty when there is none.
	TTY      string
	Comm     string
	Filename string
	GrantID  string
	// Via is how the escalation was attempted: "exec" of a setuid-root
	// binary or a "setuid"-family call.
	Via string

	seq recordSeq
}

// recordSeq numbers a ring record: the CPU that wrote it and its number
// among that CPU's records (ZPAM_SEQ_MOD in bpf/zpam.h); seq 0 is a
// record without a number.
type recordSeq struct {
	cpu, seq uint16
}

// Options configure Open.
type Options struct {
	Mode   Mode
	PinDir string
	// Allowlist names benign setuid helpers; each is resolved to its file
	// identity (device+inode), never matched by path in the kernel.
	Allowlist []string
	// PrivilegedCaps are the capabilities whose gain by exec is gated.
	PrivilegedCaps []string
	// Launchers are the programs that only run a command they are given
	// (sudo, pkexec, doas): in the tree of a scoped grant they may start
	// with euid 0, and the command they then exec must be one of the
	// grant's. Resolved to file identities like the allowlist.
	Launchers []string
	capMask   uint64
}

// CheckAndSetDefaults validates the options and fills defaults.
func (o *Options) CheckAndSetDefaults() error {
	if o.Mode == "" {
		o.Mode = ModeAuto
	}
	if _, err := ParseMode(string(o.Mode)); err != nil {
		return err
	}
	if o.PinDir == "" {
		o.PinDir = DefaultPinDir
	}
	if o.Allowlist == nil {
		o.Allowlist = DefaultAllowlist
	}
	if o.Launchers == nil {
		o.Launchers = DefaultLaunchers
	}
	if o.PrivilegedCaps == nil {
		o.PrivilegedCaps = DefaultPrivilegedCaps
	}
	mask, err := CapMask(o.PrivilegedCaps)
	if err != nil {
		return err
	}
	o.capMask = mask
	return nil
}

// DefaultAllowlist is the shipped list of benign setuid helpers.
var DefaultAllowlist = []string{
	"/usr/bin/passwd", "/usr/bin/chsh", "/usr/bin/chfn", "/usr/bin/gpasswd",
	"/usr/bin/newgrp", "/usr/bin/fusermount", "/usr/bin/fusermount3",
	"/usr/bin/mount", "/usr/bin/umount", "/usr/sbin/unix_chkpwd",
	"/usr/lib/dbus-1.0/dbus-daemon-launch-helper",
	"/usr/lib/polkit-1/polkit-agent-helper-1",
	"/usr/lib/openssh/ssh-keysign", "/usr/lib/xorg/Xorg.wrap",
}

// DefaultLaunchers are the shipped launchers. su is not one: it runs the
// target's shell, which a scoped grant would deny anyway.
var DefaultLaunchers = []string{"/usr/bin/sudo", "/usr/bin/pkexec", "/usr/bin/doas"}

// Facts are what Check found about the running kernel.
type Facts struct {
	BTF           bool   `json:"btf"`
	RingBuffer    bool   `json:"ring_buffer"`
	TPBTF         bool   `json:"tp_btf"`
	SendSignal    bool   `json:"send_signal"`
	BPFLSM        bool   `json:"bpf_lsm"`
	BPFFS         bool   `json:"bpffs"`
	KernelRelease string `json:"kernel_release"`
	// Mode is what ModeAuto would choose.
	Mode  Mode     `json:"mode"`
	Notes []string `json:"notes,omitempty"`
}

// Termination is what Terminate did to a grant's elevated tree.
type Termination struct {
	// Found counts the processes of the tree the sweeps met, those forked
	// while it ran included.
	Found int
	// Killed counts those still there after the grace, sent SIGKILL.
	Killed int
	// Remaining counts those still alive when Terminate gave up (a task
	// stuck in the kernel that SIGKILL has not reached yet). The grant
	// stays marked terminating, so Terminate may be called again.
	Remaining int
}

// Ended is how many processes of the tree are gone.
func (t Termination) Ended() int { return t.Found - t.Remaining }
