package kernel

import (
	"fmt"
	"time"
)

// Bounds of the argv recorded per exec, in bytes (the NUL separators
// included): ArgvCap is what the programs can hold.
const (
	DefaultArgvMax = 1024
	MinArgvMax     = 64
	ArgvCap        = 8191
)

// DefaultTelemetryRing is the size of the telemetry ring buffer: about
// 20,000 typical exec records, 4 s of a 5,000 execs/s storm before the
// agent must have drained it.
const DefaultTelemetryRing = 4 << 20

// TelemetryOptions configure OpenTelemetry.
type TelemetryOptions struct {
	// ArgvMax bounds the argv bytes recorded per exec; zero means
	// DefaultArgvMax.
	ArgvMax int
	// RingSize is the ring buffer's size in bytes, a power of two of at
	// least a page; zero means DefaultTelemetryRing. A pinned ring of
	// another size is replaced, and what it still held is lost.
	RingSize int
}

// CheckAndSetDefaults validates the options and fills defaults.
func (o *TelemetryOptions) CheckAndSetDefaults() error {
	if o.ArgvMax == 0 {
		o.ArgvMax = DefaultArgvMax
	}
	if o.ArgvMax < MinArgvMax || o.ArgvMax > ArgvCap {
		return fmt.Errorf("argv size %d is out of range; give %d to %d bytes", o.ArgvMax, MinArgvMax, ArgvCap)
	}
	if o.RingSize == 0 {
		o.RingSize = DefaultTelemetryRing
	}
	if o.RingSize < 4096 || o.RingSize&(o.RingSize-1) != 0 {
		return fmt.Errorf("ring buffer size %d is not a power of two of at least 4096 bytes", o.RingSize)
	}
	return nil
}

// ProcKind says what a process record reports.
type ProcKind uint8

const (
	ProcExec ProcKind = iota + 1
	ProcExit
)

func (k ProcKind) String() string {
	switch k {
	case ProcExec:
		return "exec"
	case ProcExit:
		return "exit"
	}
	return fmt.Sprintf("proc_%d", uint8(k))
}

// Process is a task as the kernel saw it when it recorded an event.
type Process struct {
	PID, PPID, UID, EUID uint32
	// LoginUID and SessionID are the audit ids; ^0 when unset.
	LoginUID, SessionID uint32
	// TTY is the kernel's name of the controlling terminal ("pts3"),
	// empty when there is none.
	TTY      string
	Comm     string
	CgroupID uint64
}

// ProcessEvent is one record of the telemetry ring: an exec or an exit.
type ProcessEvent struct {
	Kind    ProcKind
	Time    time.Time
	Process Process
	// GrantID is the grant the process tree was elevated under, if any.
	GrantID string

	// Exec only.
	Filename          string
	FilenameTruncated bool
	Cwd               string
	// CwdTruncated: deeper or longer than the kernel walks; Cwd holds the
	// last components.
	CwdTruncated  bool
	Argv          []string
	ArgvTruncated bool

	// Exit only: ExitCode when it exited, Signal when a signal ended it.
	ExitCode int
	Signal   int

	seq recordSeq
}

// Tagged is a live process and its start, for seeding attribution.
type Tagged struct {
	PID uint32
	// StartTicks is field 22 of /proc/PID/stat: USER_HZ ticks after boot.
	StartTicks uint64
	GrantID    string
}
