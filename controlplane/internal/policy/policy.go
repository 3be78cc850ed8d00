// Package policy parses, validates and evaluates the YAML policy that says
// who may elevate, where, for how long and with which checks.
package policy

import "time"

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
}

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
}

// Approvals is how many approvers must agree, and who may.
type Approvals struct {
	Count int
	// From lists names and @groups; empty means any admin credential.
	From []string
}
