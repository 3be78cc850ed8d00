package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/zpam/zpam/controlplane/internal/risk"
)

// Outcome is what the policy decided.
type Outcome string

const (
	Deny Outcome = "deny"
	// Grant: grant now (after MFA if the decision asks for it).
	Grant Outcome = "grant"
	// NeedApprovals: wait for approvers (after MFA if asked for).
	NeedApprovals Outcome = "need_approvals"
)

// MinDuration is the shortest grant anyone may ask for.
const MinDuration = time.Second

// Input is what the policy judges; the core fills it from the agent's
// observations, the host record and the user registry.
type Input struct {
	User string
	// UserGroups are the groups the user is registered in.
	UserGroups    []string
	Host          string
	HostLabels    map[string]string
	Duration      time.Duration
	Reason        string
	TTY           bool
	SourceAddress string
	Time          time.Time
	// WorkloadID is the SPIFFE ID of a workload requester; User is then
	// the service account asked for. Empty for people.
	WorkloadID string
	// Recorded: the agent runs the session under its recording PTY.
	Recorded bool
	// Risk is the request's risk assessment, scored before evaluation
	// from the control plane's history (see package risk).
	Risk risk.Assessment
	// Commands are the programs the request names (absolute paths).
	Commands []string
	// Granted: the input is a grant already issued, judged again; its
	// Commands are what it runs with, so none means unscoped.
	Granted bool
}

// Decision is the result of Evaluate.
type Decision struct {
	Outcome Outcome
	Role    string
	// Reason explains the decision in one sentence.
	Reason          string
	MFA             bool
	Scope           Scope
	ApprovalsNeeded int
	Approvers       []string
	// ApprovalMFA: approvers must give a TOTP code.
	ApprovalMFA bool
	// ApprovalTimeout is how long the request may stay pending.
	ApprovalTimeout time.Duration
	// Risk is the assessment the decision was made with; RiskNote says
	// what it changed, or is empty when the thresholds changed nothing.
	Risk     risk.Assessment
	RiskNote string
	// Commands scope the grant: the request's, or the role's when the
	// request names none. Empty: unscoped.
	Commands []string
	// TerminateOnEnd: the grant's elevated processes end with it.
	TerminateOnEnd bool
}

// Evaluate decides a request: the first role, in file order, whose users
// and hosts match decides it; later roles are never consulted.
func (p *Policy) Evaluate(in Input) Decision {
	for i := range p.Roles {
		r := &p.Roles[i]
		if p.roleMatches(r, in) {
			return r.decide(in)
		}
	}
	if in.WorkloadID != "" {
		return Decision{Outcome: Deny, Reason: fmt.Sprintf("no role allows workload %s as %s on host %s", in.WorkloadID, in.User, in.Host)}
	}
	return Decision{Outcome: Deny, Reason: fmt.Sprintf("no role allows user %s on host %s", in.User, in.Host)}
}

// roleMatches keeps people and workloads apart: a role with workloads is
// only for workloads, and the others only for people.
func (p *Policy) roleMatches(r *Role, in Input) bool {
	if (len(r.Workloads) > 0) != (in.WorkloadID != "") {
		return false
	}
	if in.WorkloadID != "" && !matchesWorkload(r.Workloads, in.WorkloadID) {
		return false
	}
	return p.Matches(r.Users, in.User, in.UserGroups) && selects(r.Hosts, in.HostLabels)
}

func (r *Role) decide(in Input) Decision {
	if reason := r.refusal(in); reason != "" {
		return Decision{Outcome: Deny, Role: r.Name, Reason: reason, Risk: in.Risk}
	}
	d := Decision{Role: r.Name, MFA: r.MFA, Scope: r.Scope, Commands: in.Commands, Risk: in.Risk, TerminateOnEnd: r.TerminateOnEnd}
	if len(d.Commands) == 0 {
		d.Commands = r.Commands
	}
	switch {
	case r.Approvals.Count > 0:
		d.Outcome, d.ApprovalsNeeded, d.Approvers = NeedApprovals, r.Approvals.Count, r.Approvals.From
		d.ApprovalMFA, d.ApprovalTimeout = r.Approvals.MFA, r.ApprovalTimeout
		d.Reason = fmt.Sprintf("role %s needs %d approval(s)", r.Name, r.Approvals.Count)
	case r.AutoApprove:
		d.Outcome, d.Reason = Grant, fmt.Sprintf("auto-approved by role %s", r.Name)
	default:
		return Decision{Outcome: Deny, Role: r.Name, Reason: fmt.Sprintf("role %s needs approvals or auto_approve", r.Name), Risk: in.Risk}
	}
	return r.riskDecision(d, in.Risk)
}

// refusal is the reason a matching role still refuses, or "".
func (r *Role) refusal(in Input) string {
	if in.Duration < MinDuration || in.Duration > r.MaxDuration {
		return fmt.Sprintf("duration %s is outside 1s to %s allowed by role %s", in.Duration, r.MaxDuration, r.Name)
	}
	if r.Record && !in.Recorded {
		return fmt.Sprintf("role %s allows only recorded elevated shells; run: pamctl elevate --shell", r.Name)
	}
	if reason := r.commandRefusal(in); reason != "" {
		return reason
	}
	if r.Hours != nil && !r.Hours.Contains(in.Time) {
		return fmt.Sprintf("role %s allows requests only %s", r.Name, r.Hours)
	}
	if r.When == nil {
		return ""
	}
	ok, err := r.When.Eval(conditionInput(in), RiskInput{Score: int64(in.Risk.Score), Factors: in.Risk.Names()})
	if err != nil {
		return fmt.Sprintf("condition of role %s failed: %v", r.Name, err)
	}
	if !ok {
		return fmt.Sprintf("condition of role %s is false: %s", r.Name, r.When)
	}
	return ""
}

// commandRefusal: a scoped role allows only requests for its commands,
// and keeps no issued grant that runs unscoped.
func (r *Role) commandRefusal(in Input) string {
	if len(r.Commands) == 0 {
		return ""
	}
	for _, c := range in.Commands {
		if !slices.Contains(r.Commands, c) {
			return fmt.Sprintf("command %s is not one of role %s's commands: %s", c, r.Name, strings.Join(r.Commands, ", "))
		}
	}
	if in.Granted && len(in.Commands) == 0 {
		return fmt.Sprintf("role %s now allows only its commands (%s), and the grant runs without any", r.Name, strings.Join(r.Commands, ", "))
	}
	return ""
}

func conditionInput(in Input) ConditionInput {
	labels := in.HostLabels
	if labels == nil {
		labels = map[string]string{}
	}
	return ConditionInput{
		User: in.User, Host: labels, Duration: int64(in.Duration / time.Second), Reason: in.Reason,
		TTY: in.TTY, SourceAddress: in.SourceAddress, Time: in.Time,
	}
}

// Matches reports whether name is in list: a name, "*", or "@group" where
// the group comes from the policy's groups or the person's registered groups.
func (p *Policy) Matches(list []string, name string, registered []string) bool {
	for _, entry := range list {
		group, isGroup := strings.CutPrefix(entry, "@")
		switch {
		case entry == "*" || entry == name:
			return true
		case isGroup && (contains(p.Groups[group], name) || contains(registered, group)):
			return true
		}
	}
	return false
}

func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
