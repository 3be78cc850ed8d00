package daemon

import (
	"context"
	"log/slog"
	"time"

	"github.com/zpam/zpam/agent/internal/kernel"
	"github.com/zpam/zpam/agent/internal/telemetry"
)

// Enforcer is the kernel side as the daemon uses it; OpenKernel wraps
// *kernel.Enforcer in it, and tests substitute a fake.
type Enforcer interface {
	Mode() kernel.Mode
	PutGrant(kernel.Grant) error
	DeleteGrant(uid, sessionID uint32) error
	ListGrants() ([]kernel.Grant, error)
	// Events is closed after Close.
	Events() <-chan kernel.Event
	// Stored says an event from Events is in the spool: an agent killed
	// before would have lost it, and the next one counts it.
	Stored(kernel.Event)
	// LostInFlight counts events an agent read and was killed before
	// storing, since the pins were made.
	LostInFlight() uint64
	// RefreshAllowlist re-resolves allowlisted helpers to their current
	// inodes (package upgrades replace them).
	RefreshAllowlist() (int, error)
	// RefreshScopes re-resolves the commands of scoped grants and forgets
	// the scopes of ended grants whose trees are gone.
	RefreshScopes() error
	// MarkTerminating makes the kernel kill any process of the grant's
	// tree that forks or execs; Terminate ends the tree; Terminating
	// lists the marked grants whose termination has not finished.
	MarkTerminating(grantID string) error
	Terminate(ctx context.Context, grantID string, grace time.Duration) (kernel.Termination, error)
	Terminating() ([]string, error)
	// Drops counts events lost in the kernel or before the agent read them.
	Drops() uint64
	// OpenTelemetry attaches process telemetry after the enforcement hook
	// and hands each record to handle, on the reader's goroutine.
	OpenTelemetry(ctx context.Context, opts kernel.TelemetryOptions, handle func(kernel.ProcessEvent)) (Telemetry, error)
	// RemoveTelemetry detaches telemetry an earlier run left pinned.
	RemoveTelemetry() error
	// Close stops reading and leaves the pins: enforcement outlives us.
	Close() error
}

// Telemetry is the kernel's process telemetry as the daemon uses it.
type Telemetry interface {
	// Drops counts records lost (ring buffer full, undecodable).
	Drops() uint64
	// LostInFlight counts records an agent read and was killed before
	// storing, since the pins were made.
	LostInFlight() uint64
	// GrantOf is the grant a live process is attributed to, or "".
	GrantOf(pid uint32) string
	telemetry.Tagger
	// Close stops the reader; handle is not called after it returns.
	Close() error
}

// kernelEnforcer adapts *kernel.Enforcer to Enforcer.
type kernelEnforcer struct {
	*kernel.Enforcer
}

func (k kernelEnforcer) OpenTelemetry(ctx context.Context, opts kernel.TelemetryOptions, handle func(kernel.ProcessEvent)) (Telemetry, error) {
	t, err := k.Enforcer.OpenTelemetry(ctx, opts, handle)
	if err != nil {
		return nil, err
	}
	return t, nil
}

var _ Telemetry = (*kernel.Telemetry)(nil)

// OpenKernel opens the real enforcer. It returns a nil interface, not a
// nil *kernel.Enforcer, on failure.
func OpenKernel(ctx context.Context, opts kernel.Options, log *slog.Logger) (Enforcer, error) {
	e, err := kernel.Open(ctx, opts, log)
	if err != nil {
		return nil, err
	}
	return kernelEnforcer{Enforcer: e}, nil
}
