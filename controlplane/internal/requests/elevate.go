package requests

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/policy"
	"github.com/zpam/zpam/controlplane/internal/risk"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// Elevation is a request as the agent files it. HostID comes from the
// agent's certificate, never from the message.
type Elevation struct {
	HostID   string
	User     string
	UID      uint32
	Duration time.Duration
	Reason   string
	Commands []string
	OTP      string
	Context  store.RequestContext
	// WorkloadID is the SPIFFE ID of a workload requester (from its
	// certificate); User is then the service account asked for.
	WorkloadID string
}

// RequestElevation evaluates and stores a request, granting it at once when
// policy auto-approves.
func (s *Service) RequestElevation(ctx context.Context, in Elevation) (View, error) {
	if err := in.validate(); err != nil {
		return View{}, err
	}
	return s.writeRequest(ctx, func(tx *store.Tx, out *outbox) (store.Request, error) {
		return s.elevate(tx, out, in, s.now())
	})
}

func (s *Service) elevate(tx *store.Tx, out *outbox, in Elevation, now time.Time) (store.Request, error) {
	host, err := tx.Host(in.HostID)
	if err != nil {
		return store.Request{}, err
	}
	return s.elevateOn(tx, out, in, host, nil, now)
}

// elevateOn is elevate on in.HostID's host, already read in tx, scored
// against past when it is not nil: a workload's request for a thousand
// hosts reads them, and its requester's history, once.
func (s *Service) elevateOn(tx *store.Tx, out *outbox, in Elevation, host store.Host, past *risk.History, now time.Time) (store.Request, error) {
	user, registered, err := lookupUser(tx, in.User)
	if err != nil {
		return store.Request{}, err
	}
	assessed, err := s.assess(tx, subjectOf(in, host, now), user, past)
	if err != nil {
		return store.Request{}, err
	}
	pin := policyInput(in, host, user, now)
	pin.Risk = assessed
	d := s.policy.Current().Evaluate(pin)
	// A registered requester without a code is asked for one on the same
	// request (awaitCode); a locked one is refused at once below.
	waitCode := d.Outcome != policy.Deny && d.MFA && registered && in.OTP == "" && !now.Before(user.OTPLockedUntil)
	var otp *otpVerdict
	if d.Outcome != policy.Deny && d.MFA && !waitCode {
		v, err := checkOTP(tx, user, registered, in.OTP, now)
		if err != nil {
			return store.Request{}, err
		}
		otp = &v
		if !v.ok() {
			d = policy.Decision{Outcome: policy.Deny, Role: d.Role, Reason: fmt.Sprintf("role %s requires MFA: %s", d.Role, v.Reason), Risk: d.Risk}
		}
	}
	r := newRequest(in, host, d, now)
	r.Risk = assessed
	r.MFAVerified = otp != nil && otp.ok()
	if waitCode && r.ApprovalDeadline.IsZero() {
		// A request whose requester went away with its host (agent
		// crash) must not wait for a code for ever.
		r.ApprovalDeadline = now.Add(CodeTimeout)
	}
	if err := tx.InsertRequest(r); err != nil {
		return store.Request{}, err
	}
	if err := auditRequest(tx, AuditRequested, requester(in), r, now, requestDetail(r)); err != nil {
		return store.Request{}, err
	}
	if otp != nil {
		out.mfa(otp.Result)
		if err := auditOTP(tx, in.User, r, *otp, now); err != nil {
			return store.Request{}, err
		}
	}
	if waitCode {
		return r, s.awaitCode(tx, out, &r, d.RiskNote, now)
	}
	return r, s.applyDecision(tx, out, &r, d, now)
}

// requester is the actor of a request: the person, or the workload.
func requester(in Elevation) string {
	if in.WorkloadID != "" {
		return in.WorkloadID
	}
	return in.User
}

func (s *Service) applyDecision(tx *store.Tx, out *outbox, r *store.Request, d policy.Decision, now time.Time) error {
	var err error
	switch d.Outcome {
	case policy.Grant:
		err = issueGrant(tx, out, r, ActorSystem, now)
	case policy.NeedApprovals:
		err = auditRequest(tx, AuditPending, ActorSystem, *r, now, map[string]any{
			"reason": d.Reason, "approvals_needed": d.ApprovalsNeeded, "approvers_allowed": d.Approvers,
			"approval_mfa": d.ApprovalMFA, "approval_deadline": r.ApprovalDeadline})
	default:
		err = auditRequest(tx, AuditDenied, ActorSystem, *r, now, map[string]any{"reason": d.Reason})
	}
	if err != nil {
		return err
	}
	r.StatusReason = d.Reason
	out.request(*r)
	return tx.UpdateRequest(*r)
}

func newRequest(in Elevation, host store.Host, d policy.Decision, now time.Time) store.Request {
	r := store.Request{
		ID: uuid.NewString(), HostID: host.ID, Hostname: host.Hostname, User: in.User, UID: in.UID,
		Duration: in.Duration, Reason: in.Reason, Commands: grantCommands(in, d), Context: in.Context,
		Status: store.StatusDenied, StatusReason: d.Reason, Role: d.Role, Scope: store.Scope(d.Scope),
		CreatedAt: now, UpdatedAt: now, WorkloadID: in.WorkloadID, TerminateOnEnd: d.TerminateOnEnd,
	}
	if r.Scope == "" {
		r.Scope = store.ScopeSession
	}
	if d.Outcome == policy.NeedApprovals {
		r.Status, r.ApprovalsNeeded, r.ApproversAllowed = store.StatusPendingApproval, d.ApprovalsNeeded, d.Approvers
		r.ApprovalMFA, r.ApprovalDeadline = d.ApprovalMFA, now.Add(d.ApprovalTimeout)
	}
	return r
}

// grantCommands are the commands the request is filed with: the
// decision's (the role's when the request named none) unless denied.
func grantCommands(in Elevation, d policy.Decision) []string {
	if d.Outcome == policy.Deny || len(d.Commands) == 0 {
		return in.Commands
	}
	return d.Commands
}

func policyInput(in Elevation, host store.Host, user store.User, now time.Time) policy.Input {
	name := host.Hostname
	if name == "" {
		name = host.ID
	}
	return policy.Input{
		User: in.User, UserGroups: user.Groups, Host: name, HostLabels: host.Labels,
		Duration: in.Duration, Reason: in.Reason, TTY: in.Context.TTY,
		SourceAddress: in.Context.SourceAddress, Recorded: in.Context.Recorded, Time: now, WorkloadID: in.WorkloadID,
		Commands: in.Commands,
	}
}

func requestDetail(r store.Request) map[string]any {
	return map[string]any{
		"duration_seconds": int64(r.Duration / time.Second), "reason": r.Reason, "uid": r.UID,
		"commands": r.Commands, "tty": r.Context.TTY, "source_address": r.Context.SourceAddress,
		"session_id": r.Context.SessionID, "workload_id": r.WorkloadID, "recorded": r.Context.Recorded,
		"risk_score": r.Risk.Score, "risk_factors": r.Risk.Factors,
	}
}

// lookupUser finds the registered person; not being registered is normal.
func lookupUser(tx *store.Tx, name string) (store.User, bool, error) {
	u, err := tx.User(name)
	if errors.Is(err, errdefs.ErrNotFound) {
		return store.User{Name: name}, false, nil
	}
	return u, err == nil, err
}
