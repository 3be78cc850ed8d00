// Package policy parses, validates and evaluates the YAML policy that says
// who may elevate, where, for how long and with which checks.
package policy

import (
	"time"

	"github.com/zpam/zpam/controlplane/internal/detect"
)

// Scope says which processes of the user may use a grant.
type Scope string

const (
	ScopeSession Scope = "session"
	ScopeUser    Scope = "user"
)

// Policy is a validated policy file. It is immutable once parsed, so a
// pointer to it may be shared by concurrent evaluations.
type Policy struct {
	File   string
	Groups map[string][]string
	Roles  []Role
	// BreakGlass is nil when the file has no break_glass section: nobody
	// may break glass.
	BreakGlass *BreakGlass
	// RiskWeights overrides risk.DefaultWeights by factor name (risk:
	// weights: in the file); 0 turns a factor off.
	RiskWeights map[string]int
	// Detections are the rules run over elevated commands as they are
	// ingested: the built-in set as the file's detections: section
	// changes it.
	Detections *detect.Set
}

// DefaultApprovalTimeout is how long a request waits for approvers when
// its role does not say.
const DefaultApprovalTimeout = time.Hour

// BreakGlass is who may open an emergency window offline, on which hosts,
// for how long. Agents get it signed and cache it.
type BreakGlass struct {
	Line  int
	Users []string
	// Hosts is a label selector; nil means every host.
	Hosts       map[string]string
	MaxDuration time.Duration
	// ValidFor bounds how long an agent may use a signed copy without
	// fetching a fresh one.
	ValidFor time.Duration
}

// DefaultBreakGlassValidity is ValidFor when the file does not say.
const DefaultBreakGlassValidity = 72 * time.Hour

// Role grants elevation to some users on some hosts.
type Role struct {
	Name string
	// Line is where the role starts in File, for messages.
	Line  int
	Users []string
	// Hosts is a label selector; nil means every host.
	Hosts       map[string]string
	MaxDuration time.Duration
	AutoApprove bool
	MFA         bool
	Approvals   Approvals
	Hours       *Hours
	When        *Condition
	Scope       Scope
	// Workloads lists SPIFFE ID patterns (path.Match globs). A role with
	// workloads is for workloads only: Users then names the service
	// accounts they may ask for.
	Workloads []string
	// ApprovalTimeout is how long a request waits for approvers.
	ApprovalTimeout time.Duration
	// Record: elevation only into a shell the agent records
	// (pamctl elevate --shell); the grant is bound to that shell's session.
	Record bool
	// Risk says what the request's risk score changes.
	Risk RoleRisk
	// Commands, when set, scope the role's grants: only these programs
	// (absolute paths) may run with euid 0 in the elevated tree. A request
	// may name a subset; one that names none gets them all.
	Commands []string
	// TerminateOnEnd: when a grant of the role ends (expiry, revocation,
	// re-evaluation), its host ends the processes elevated under it.
	TerminateOnEnd bool
}

// RoleRisk are a role's thresholds on the risk score: above each, the
// request needs more than the role otherwise asks. "Above" is strictly
// greater, so mfa_above: 30 asks for a code from a score of 31.
type RoleRisk struct {
	MFAAbove       Threshold
	ApprovalsAbove Threshold
	DenyAbove      Threshold
	// Approvals are what a request above ApprovalsAbove needs instead of
	// the role's own approvals or auto-approval.
	Approvals Approvals
}

// Threshold is a score limit that may be unset.
type Threshold struct {
	Set   bool
	Value int
}

// Exceeded reports whether score is above a set threshold.
func (t Threshold) Exceeded(score int) bool { return t.Set && score > t.Value }

// Approvals is how many approvers must agree, and who may.
type Approvals struct {
	Count int
	// From lists names and @groups; empty means any admin credential.
	From []string
	// MFA: each approver must give a current TOTP code.
	MFA bool
}
