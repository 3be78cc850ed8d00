package requests

import (
	"context"
	"fmt"
	"time"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// CodeTimeout is how long a request of an auto-approving role waits for
// the requester's code; roles with approvers wait approval_timeout for
// the code and the approvals together.
const CodeTimeout = 10 * time.Minute

// awaitCode leaves a new request waiting for the requester's one-time
// code, so that pamctl can prompt for it and send it on the same request
// instead of the person filing twice. The policy's decision is already
// stored in r (role, scope, approvals); SubmitOTP carries it out.
func (s *Service) awaitCode(tx *store.Tx, out *outbox, r *store.Request, riskNote string, now time.Time) error {
	r.Status = store.StatusPendingMFA
	r.StatusReason = fmt.Sprintf("role %s requires a one-time code from the requester's authenticator", r.Role)
	if riskNote != "" {
		r.StatusReason += "; " + riskNote
	}
	if err := auditRequest(tx, AuditAwaitMFA, ActorSystem, *r, now, map[string]any{"reason": r.StatusReason}); err != nil {
		return err
	}
	out.request(*r)
	return tx.UpdateRequest(*r)
}

// SubmitOTP checks the requester's code for a PENDING_MFA request of
// hostID. A wrong code denies the request: one guess per request, so a
// code cannot be searched for on one request.
func (s *Service) SubmitOTP(ctx context.Context, hostID, id, code string) (View, error) {
	return s.writeRequest(ctx, func(tx *store.Tx, out *outbox) (store.Request, error) {
		r, err := hostRequest(tx, hostID, id)
		if err != nil {
			return r, err
		}
		if r.Status != store.StatusPendingMFA {
			return r, fmt.Errorf("request %s is %s and does not wait for a one-time code: %w", id, r.Status, errdefs.ErrConflict)
		}
		return r, s.verifyCode(tx, out, &r, code, s.now())
	})
}

func (s *Service) verifyCode(tx *store.Tx, out *outbox, r *store.Request, code string, now time.Time) error {
	user, registered, err := lookupUser(tx, r.User)
	if err != nil {
		return err
	}
	v, err := checkOTP(tx, user, registered, code, now)
	if err != nil {
		return err
	}
	out.mfa(v.Result)
	if err := auditOTP(tx, r.User, *r, v, now); err != nil {
		return err
	}
	r.UpdatedAt = now
	if !v.ok() {
		r.Status, r.StatusReason = store.StatusDenied, fmt.Sprintf("role %s requires MFA: %s", r.Role, v.Reason)
		if err := auditRequest(tx, AuditDenied, ActorSystem, *r, now, map[string]any{"reason": r.StatusReason}); err != nil {
			return err
		}
		out.request(*r)
		return tx.UpdateRequest(*r)
	}
	r.MFAVerified = true
	return s.afterCode(tx, out, r, now)
}

// afterCode carries out the decision stored when the request was filed.
func (s *Service) afterCode(tx *store.Tx, out *outbox, r *store.Request, now time.Time) error {
	if r.ApprovalsNeeded > 0 {
		r.Status = store.StatusPendingApproval
		r.StatusReason = fmt.Sprintf("role %s needs %d approval(s)", r.Role, r.ApprovalsNeeded)
		if r.Risk.Score > 0 {
			r.StatusReason += fmt.Sprintf(" (risk score %s)", r.Risk)
		}
		if err := auditRequest(tx, AuditPending, ActorSystem, *r, now, map[string]any{"reason": r.StatusReason}); err != nil {
			return err
		}
	} else {
		if err := issueGrant(tx, out, r, ActorSystem, now); err != nil {
			return err
		}
		r.StatusReason = fmt.Sprintf("auto-approved by role %s after the one-time code", r.Role)
	}
	out.request(*r)
	return tx.UpdateRequest(*r)
}
