package requests

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// Approve counts approver's approval; reaching the number needed grants.
// Approvers never approve their own request. A role that asks approvers
// for MFA refuses it; use ApproveWithOTP.
func (s *Service) Approve(ctx context.Context, approver, id, comment string) (View, error) {
	return s.ApproveWithOTP(ctx, approver, id, comment, "")
}

// ApproveWithOTP is Approve with the approver's TOTP code, checked when
// the request's role asks approvers for MFA. The check is committed on
// its own, so a wrong code counts towards the lockout.
func (s *Service) ApproveWithOTP(ctx context.Context, approver, id, comment, otp string) (View, error) {
	if err := checkText("comment", comment, maxCommentBytes); err != nil {
		return View{}, err
	}
	verified, err := s.approverMFA(ctx, approver, id, otp)
	if err != nil {
		return View{}, err
	}
	return s.writeRequest(ctx, func(tx *store.Tx, out *outbox) (store.Request, error) {
		return s.approve(tx, out, approver, id, comment, verified, s.now())
	})
}

// approverMFA checks approver's code if request id needs one, or the
// approval is relayed by a host (see ChannelHost), after the checks that
// need no code, so a code is never consumed for nothing.
func (s *Service) approverMFA(ctx context.Context, approver, id, otp string) (bool, error) {
	var r store.Request
	err := s.store.View(ctx, func(tx *store.Tx) error {
		var err error
		if r, err = pendingRequest(tx, id); err != nil {
			return err
		}
		return s.mayApprove(tx, r, approver)
	})
	relayed := channelFrom(ctx) == ChannelHost
	if err != nil || (!r.ApprovalMFA && !relayed) {
		return false, err
	}
	if otp == "" && relayed {
		return false, fmt.Errorf("an approval from a host needs your one-time code; run again with --otp CODE: %w", errdefs.ErrPermission)
	}
	if otp == "" {
		return false, fmt.Errorf("role %s asks approvers for a one-time code; approve %s with --otp CODE: %w", r.Role, id, errdefs.ErrPermission)
	}
	return true, s.verifyPersonOTP(ctx, approver, otp, r)
}

func (s *Service) approve(tx *store.Tx, out *outbox, approver, id, comment string, mfaVerified bool, now time.Time) (store.Request, error) {
	r, err := pendingRequest(tx, id)
	if err != nil {
		return r, err
	}
	if err := s.mayApprove(tx, r, approver); err != nil {
		return r, err
	}
	if r.ApprovalMFA && !mfaVerified {
		return r, fmt.Errorf("role %s asks approvers for a one-time code; approve %s with --otp CODE: %w", r.Role, id, errdefs.ErrPermission)
	}
	r.ApprovedBy = append(r.ApprovedBy, approver)
	r.UpdatedAt = now
	r.StatusReason = fmt.Sprintf("approved by %s (%d of %d)", approver, len(r.ApprovedBy), r.ApprovalsNeeded)
	if err := auditRequest(tx, AuditApproved, approver, r, now, map[string]any{
		"comment": comment, "reason": r.StatusReason, "approval": len(r.ApprovedBy), "approvals_needed": r.ApprovalsNeeded,
		"mfa_verified": mfaVerified}); err != nil {
		return r, err
	}
	if len(r.ApprovedBy) >= r.ApprovalsNeeded {
		if err := issueGrant(tx, out, &r, approver, now); err != nil {
			return r, err
		}
	}
	out.request(r)
	return r, tx.UpdateRequest(r)
}

func (s *Service) mayApprove(tx *store.Tx, r store.Request, approver string) error {
	if approver == r.User {
		return fmt.Errorf("%s cannot approve their own request: %w", approver, errdefs.ErrPermission)
	}
	if r.Status == store.StatusPendingMFA {
		return fmt.Errorf("request %s still waits for the requester's one-time code: %w", r.ID, errdefs.ErrConflict)
	}
	if slices.Contains(r.ApprovedBy, approver) {
		return fmt.Errorf("%s has already approved request %s: %w", approver, r.ID, errdefs.ErrConflict)
	}
	return s.mayDecide(tx, r, approver)
}

// mayDecide checks that approver is among the request's approvers.
func (s *Service) mayDecide(tx *store.Tx, r store.Request, approver string) error {
	if len(r.ApproversAllowed) == 0 {
		if byPerson(tx.Context()) {
			return fmt.Errorf("request %s names no approvers (role %s has no approvals.from), so only an admin credential may approve it: %w", r.ID, r.Role, errdefs.ErrPermission)
		}
		return nil
	}
	u, _, err := lookupUser(tx, approver)
	if err != nil {
		return err
	}
	if !s.policy.Current().Matches(r.ApproversAllowed, approver, u.Groups) {
		return fmt.Errorf("%s is not among the approvers %v of request %s: %w", approver, r.ApproversAllowed, r.ID, errdefs.ErrPermission)
	}
	return nil
}

// Deny refuses a pending request; the comment is the reason shown to the
// requester, so it is required.
func (s *Service) Deny(ctx context.Context, approver, id, comment string) (View, error) {
	if comment == "" {
		return View{}, fmt.Errorf("a comment saying why is required to deny: %w", errdefs.ErrInvalid)
	}
	if err := checkText("comment", comment, maxCommentBytes); err != nil {
		return View{}, err
	}
	return s.finish(ctx, id, approver, store.StatusDenied, AuditDenied, fmt.Sprintf("denied by %s: %s", approver, comment),
		func(tx *store.Tx, r store.Request) error { return s.mayDeny(tx, r, approver) })
}

// MayDeny says whether approver may deny r now: the check Deny makes.
func (s *Service) MayDeny(ctx context.Context, approver string, r store.Request) error {
	if !r.Status.Pending() {
		return fmt.Errorf("request %s is %s, not pending: %w", r.ID, r.Status, errdefs.ErrConflict)
	}
	return s.store.View(ctx, func(tx *store.Tx) error { return s.mayDeny(tx, r, approver) })
}

// mayDeny lets admin credentials deny any request; a person must be among
// its approvers, and withdraws their own request on the host instead.
func (s *Service) mayDeny(tx *store.Tx, r store.Request, approver string) error {
	if !byPerson(tx.Context()) {
		return nil
	}
	if approver == r.User {
		return fmt.Errorf("%s cannot deny their own request; cancel it on the host: %w", approver, errdefs.ErrPermission)
	}
	return s.mayDecide(tx, r, approver)
}

// Cancel withdraws a pending request of hostID; other hosts' requests are
// reported as not found so their existence does not leak.
func (s *Service) Cancel(ctx context.Context, hostID, id string) (View, error) {
	var req store.Request
	err := s.store.View(ctx, func(tx *store.Tx) error {
		var err error
		req, err = hostRequest(tx, hostID, id)
		return err
	})
	if err != nil {
		return View{}, err
	}
	return s.finish(ctx, id, req.User, store.StatusCanceled, AuditCanceled, "canceled by the requester", nil)
}

// finish moves a pending request to a final status without a grant, once
// check (when set) allows it.
func (s *Service) finish(ctx context.Context, id, actor string, status store.Status, kind, reason string, check func(*store.Tx, store.Request) error) (View, error) {
	return s.writeRequest(ctx, func(tx *store.Tx, out *outbox) (store.Request, error) {
		r, err := pendingRequest(tx, id)
		if err != nil {
			return r, err
		}
		if check != nil {
			if err := check(tx, r); err != nil {
				return r, err
			}
		}
		r.Status, r.StatusReason, r.UpdatedAt = status, reason, s.now()
		if err := auditRequest(tx, kind, actor, r, r.UpdatedAt, map[string]any{"reason": reason}); err != nil {
			return r, err
		}
		out.request(r)
		return r, tx.UpdateRequest(r)
	})
}

func pendingRequest(tx *store.Tx, id string) (store.Request, error) {
	r, err := tx.Request(id)
	if err != nil {
		return r, err
	}
	if !r.Status.Pending() {
		return r, fmt.Errorf("request %s is %s, not pending: %w", id, r.Status, errdefs.ErrConflict)
	}
	return r, nil
}

func hostRequest(tx *store.Tx, hostID, id string) (store.Request, error) {
	r, err := tx.Request(id)
	if err != nil {
		return r, err
	}
	if r.HostID != hostID {
		return store.Request{}, fmt.Errorf("request %q: %w", id, errdefs.ErrNotFound)
	}
	return r, nil
}
