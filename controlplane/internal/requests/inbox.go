package requests

import (
	"context"
	"slices"

	"github.com/zpam/zpam/controlplane/internal/store"
)

// Inbox is what a person sees with pamctl requests.
type Inbox struct {
	ToApprove []View
	Own       []View
}

// ownLimit bounds the person's own requests listed.
const ownLimit = 50

// ListFor returns the pending requests name may decide (not their own)
// and name's own pending and granted requests. ctx carries the channel,
// as for Approve: a person sees only what policy names them for.
func (s *Service) ListFor(ctx context.Context, name string) (Inbox, error) {
	var in Inbox
	err := s.store.View(ctx, func(tx *store.Tx) error {
		pending, err := tx.Requests([]store.Status{store.StatusPendingApproval}, listLimit)
		if err != nil {
			return err
		}
		pending = slices.DeleteFunc(pending, func(r store.Request) bool {
			return r.User == name || s.mayDecide(tx, r, name) != nil
		})
		if in.ToApprove, err = viewsOf(tx, pending); err != nil {
			return err
		}
		own, err := tx.RequestsOfUser(name, []store.Status{store.StatusPendingMFA, store.StatusPendingApproval, store.StatusGranted, store.StatusSuspended}, ownLimit)
		if err != nil {
			return err
		}
		in.Own, err = viewsOf(tx, own)
		return err
	})
	return in, err
}
