package store

import (
	"time"

	"github.com/zpam/zpam/controlplane/internal/risk"
)

// Status is where a request stands.
type Status string

const (
	// StatusPendingMFA waits for the requester's one-time code.
	StatusPendingMFA      Status = "pending_mfa"
	StatusPendingApproval Status = "pending_approval"
	StatusGranted         Status = "granted"
	StatusDenied          Status = "denied"
	StatusExpired         Status = "expired"
	StatusRevoked         Status = "revoked"
	StatusCanceled        Status = "canceled"
	// StatusTimedOut: nobody decided before the approval deadline.
	StatusTimedOut Status = "timed_out"
	// StatusSuspended: the grant was taken off the host by a detection's
	// response until the requester gives a fresh one-time code.
	StatusSuspended Status = "suspended"
)

// Pending reports whether the request may still change by a decision.
func (s Status) Pending() bool { return s == StatusPendingApproval || s == StatusPendingMFA }

// Scope says which processes of the user may use a grant.
type Scope string

const (
	ScopeSession Scope = "session"
	ScopeUser    Scope = "user"
)

// GrantState is the life of a grant; only active grants are enforced.
type GrantState string

const (
	GrantActive  GrantState = "active"
	GrantExpired GrantState = "expired"
	GrantRevoked GrantState = "revoked"
	// GrantSuspended is not enforced (hosts removed it) but may become
	// active again before its expiry; it expires and is revoked like an
	// active grant.
	GrantSuspended GrantState = "suspended"
)

// Live reports whether the grant may still be or become enforced.
func (s GrantState) Live() bool { return s == GrantActive || s == GrantSuspended }

// ChangeKind is what a grant change tells a host to do.
type ChangeKind string

const (
	ChangeUpsert ChangeKind = "upsert"
	ChangeRemove ChangeKind = "remove"
)

// JoinToken is a stored enrollment token; only the secret's hash is kept.
type JoinToken struct {
	SecretHash string
	Labels     map[string]string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	UsedAt     time.Time
	UsedByHost string
}

// Host is an enrolled agent.
type Host struct {
	ID         string
	Hostname   string
	Labels     map[string]string
	Facts      map[string]string
	EnrolledAt time.Time
	RemovedAt  time.Time
	// CertSerial and CertExpiresAt describe the last certificate issued to
	// the host, at enrollment or rotation.
	CertSerial    string
	CertExpiresAt time.Time
}

// User is a registered person.
type User struct {
	Name       string
	Groups     []string
	TOTPSecret string
	// LastOTPStep is the TOTP time step last accepted, to refuse replays.
	LastOTPStep int64
	// OTPFailures counts wrong codes since the last good one; reaching the
	// limit sets OTPLockedUntil.
	OTPFailures    int
	OTPLockedUntil time.Time
	CreatedAt      time.Time
}

// RequestContext is what the agent observed about the caller.
type RequestContext struct {
	TTY           bool   `json:"tty"`
	TTYName       string `json:"tty_name,omitempty"`
	SourceAddress string `json:"source_address,omitempty"`
	SessionID     uint32 `json:"session_id"`
	ParentCommand string `json:"parent_command,omitempty"`
	PID           uint32 `json:"pid,omitempty"`
	// Recorded: the session runs under the agent's recording PTY.
	Recorded bool `json:"recorded,omitempty"`
}

// Request is an elevation request.
type Request struct {
	ID               string
	HostID           string
	Hostname         string
	User             string
	UID              uint32
	Duration         time.Duration
	Reason           string
	Commands         []string
	Context          RequestContext
	Status           Status
	StatusReason     string
	Role             string
	Scope            Scope
	ApprovalsNeeded  int
	ApproversAllowed []string
	ApprovedBy       []string
	GrantID          string
	CreatedAt        time.Time
	UpdatedAt        time.Time
	// ApprovalDeadline is when a pending request times out.
	ApprovalDeadline time.Time
	// ApprovalMFA: each approver must give a current TOTP code.
	ApprovalMFA bool
	// MFAVerified: the requester passed a TOTP check for this request.
	MFAVerified bool
	// BreakGlass: opened by an agent offline under the signed break-glass
	// policy, reported afterwards.
	BreakGlass bool
	// TerminateOnEnd: the role ends the elevated processes whenever the
	// grant ends (kept from the decision for a grant issued later).
	TerminateOnEnd bool
	// WorkloadID is the SPIFFE ID of a non-human requester; User is then
	// the service account it asked for.
	WorkloadID string
	// Version counts the request's changes; watchers skip versions they
	// have already seen, whichever replica told them.
	Version int64
	// Risk is the assessment the request was decided with.
	Risk risk.Assessment
}

// Grant is an approved, time-boxed elevation.
type Grant struct {
	ID        string
	RequestID string
	HostID    string
	User      string
	UID       uint32
	Scope     Scope
	SessionID uint32
	GrantedAt time.Time
	ExpiresAt time.Time
	Commands  []string
	Approvers []string
	Role      string
	State     GrantState
	EndedAt   time.Time
	// Revision is the revision of the grant's last change.
	Revision   int64
	BreakGlass bool
	// TerminateOnEnd: the host ends the grant's elevated processes when
	// it ends, however it ends (expiry, revocation, re-evaluation).
	TerminateOnEnd bool
	// WorkloadID is set for a workload's grant: the agent resolves User,
	// a service account, to a uid itself.
	WorkloadID string
}

// GrantChange is one entry of the per-database grant change log.
type GrantChange struct {
	Revision int64
	HostID   string
	GrantID  string
	Kind     ChangeKind
	At       time.Time
	// Reason is why a grant was removed, for the host to tell its user.
	Reason string
	// Terminate: a removal that also ends the grant's elevated processes
	// on the host (a revocation with terminate).
	Terminate bool
}

// AuditEvent is one entry of the append-only audit trail.
type AuditEvent struct {
	ID        int64
	Kind      string
	Actor     string
	RequestID string
	GrantID   string
	HostID    string
	User      string
	At        time.Time
	Detail    map[string]any
	// PrevHash and Hash chain the trail: Hash covers this event and
	// PrevHash, which is the Hash of the event before it.
	PrevHash string
	Hash     string
}
