package daemon

import (
	"context"
	"log/slog"

	"github.com/zpam/zpam/agent/internal/kernel"
)

// Enforcer is the kernel side as the daemon uses it; *kernel.Enforcer
// satisfies it, and tests substitute a fake.
type Enforcer interface {
	Mode() kernel.Mode
	PutGrant(kernel.Grant) error
	DeleteGrant(uid, sessionID uint32) error
	ListGrants() ([]kernel.Grant, error)
	// Events is closed after Close.
	Events() <-chan kernel.Event
	// RefreshAllowlist re-resolves allowlisted helpers to their current
	// inodes (package upgrades replace them).
	RefreshAllowlist() (int, error)
	// Drops counts events lost in the kernel or before the agent read them.
	Drops() uint64
	// Close stops reading and leaves the pins: enforcement outlives us.
	Close() error
}

var _ Enforcer = (*kernel.Enforcer)(nil)

// OpenKernel opens the real enforcer. It returns a nil interface, not a
// nil *kernel.Enforcer, on failure.
func OpenKernel(ctx context.Context, opts kernel.Options, log *slog.Logger) (Enforcer, error) {
	e, err := kernel.Open(ctx, opts, log)
	if err != nil {
		return nil, err
	}
	return e, nil
}
