package requests

import "github.com/zpam/zpam/controlplane/internal/store"

// EventKind is what a grant event tells a host.
type EventKind int

const (
	// Upsert: the grant is active; enforce it.
	Upsert EventKind = iota + 1
	// Remove: the grant ended; stop enforcing it now.
	Remove
	// Synced: the snapshot is complete; grants not named since the stream
	// opened must be removed.
	Synced
	// Resumed: the changes after the revision the host asked to resume
	// from have been sent; its other grants stand.
	Resumed
)

// GrantEvent is one message of a host's grant stream.
type GrantEvent struct {
	Kind     EventKind
	Revision int64
	Grant    store.Grant
	Reason   string
	// Terminate, on a Remove: the host also ends the grant's elevated tree.
	Terminate bool
}

// SessionUnset is the kernel's audit session id for "no session"; such
// callers cannot be bound to a session, so their grants widen to the user.
const SessionUnset = 4294967295

// Actor names used in the audit trail for the control plane itself.
const ActorSystem = "system"
