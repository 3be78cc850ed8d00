package requests

import (
	"context"
	"fmt"
	"time"

	"github.com/zpam/zpam/controlplane/internal/store"
)

// expireBatch bounds one expiry transaction so a backlog after downtime
// does not hold the write lock for long.
const expireBatch = 100

// RunExpiry expires grants at their expiry, checking every tick, until ctx
// ends. Agents enforce expiry in the kernel on their own; this keeps the
// control plane's state and the audit trail in step.
func (s *Service) RunExpiry(ctx context.Context, tick time.Duration) {
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if _, err := s.ExpireDue(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("expire grants", "error", err)
			}
		}
	}
}

// ExpireDue expires every active grant whose expiry has passed, and times
// out every pending request whose approval deadline has passed. It
// returns how many of both it ended.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	total := 0
	for _, batch := range []func(context.Context) (int, error){s.expireBatch, s.timeoutBatch} {
		for {
			n, err := batch(ctx)
			total += n
			if err != nil {
				return total, err
			}
			if n < expireBatch {
				break
			}
		}
	}
	return total, nil
}

// timeoutBatch moves requests nobody decided in time to TIMED_OUT; the
// requester's watch ends with that status.
func (s *Service) timeoutBatch(ctx context.Context) (int, error) {
	n := 0
	err := s.write(ctx, func(tx *store.Tx, out *outbox) error {
		now := s.now()
		due, err := tx.DuePending(now, expireBatch)
		if err != nil {
			return err
		}
		for _, r := range due {
			reason := timeoutReason(r)
			r.Status, r.StatusReason, r.UpdatedAt = store.StatusTimedOut, reason, now
			if err := auditRequest(tx, AuditTimedOut, ActorSystem, r, now, map[string]any{"reason": reason}); err != nil {
				return err
			}
			out.request(r)
			if err := tx.UpdateRequest(r); err != nil {
				return err
			}
		}
		n = len(due)
		return nil
	})
	return n, err
}

func (s *Service) expireBatch(ctx context.Context) (int, error) {
	n := 0
	err := s.write(ctx, func(tx *store.Tx, out *outbox) error {
		now := s.now()
		due, err := tx.DueGrants(now, expireBatch)
		if err != nil {
			return err
		}
		for _, g := range due {
			if err := endGrant(tx, out, g, ending{state: store.GrantExpired, actor: ActorSystem, reason: "the grant expired"}, now); err != nil {
				return err
			}
		}
		n = len(due)
		return nil
	})
	return n, err
}

func timeoutReason(r store.Request) string {
	waited := r.ApprovalDeadline.Sub(r.CreatedAt).Round(time.Second)
	if r.Status == store.StatusPendingMFA {
		return fmt.Sprintf("no one-time code from the requester within %s", waited)
	}
	return fmt.Sprintf("no decision within %s (approval_timeout of role %s); %d of %d approvals given",
		waited, r.Role, len(r.ApprovedBy), r.ApprovalsNeeded)
}
