package requests

import (
	"context"
	"fmt"
	"slices"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// MayApprove says whether approver may approve r now, with the reason
// when not: the same check Approve makes, for showing or hiding the
// action. Approve checks again; this answer is advice only.
func (s *Service) MayApprove(ctx context.Context, approver string, r store.Request) error {
	if !r.Status.Pending() {
		return fmt.Errorf("request %s is %s, not pending: %w", r.ID, r.Status, errdefs.ErrConflict)
	}
	return s.store.View(ctx, func(tx *store.Tx) error { return s.mayApprove(tx, r, approver) })
}

// MayRevoke says whether actor may revoke the grant of r. Admin
// credentials may revoke any grant; a person may give up their own grant
// or revoke one they could have approved.
func (s *Service) MayRevoke(ctx context.Context, actor string, r store.Request) error {
	return s.store.View(ctx, func(tx *store.Tx) error { return s.mayRevoke(tx, r, actor) })
}

func (s *Service) mayRevoke(tx *store.Tx, r store.Request, actor string) error {
	if !byPerson(tx.Context()) || actor == r.User {
		return nil
	}
	if len(r.ApproversAllowed) > 0 {
		u, _, err := lookupUser(tx, actor)
		if err != nil {
			return err
		}
		if s.policy.Current().Matches(r.ApproversAllowed, actor, u.Groups) || slices.Contains(r.ApprovedBy, actor) {
			return nil
		}
	}
	return fmt.Errorf("%s may revoke only their own grants and those of requests they may approve; request %s is %s's: %w", actor, r.ID, r.User, errdefs.ErrPermission)
}

// IsApprover says whether the person name approves for some role of the
// policy in force, with the groups they are registered in.
func (s *Service) IsApprover(ctx context.Context, name string) (bool, error) {
	var ok bool
	err := s.store.View(ctx, func(tx *store.Tx) error {
		u, _, err := lookupUser(tx, name)
		ok = err == nil && s.policy.Current().Approver(name, u.Groups)
		return err
	})
	return ok, err
}
