package requests

import (
	"context"
	"errors"
	"fmt"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// Revoke ends the grant named by a grant id or a request id, and tells its
// host at once. Processes already elevated under it run on; see
// RevokeTerminating.
func (s *Service) Revoke(ctx context.Context, actor, id, comment string) (View, error) {
	return s.revoke(ctx, actor, id, comment, false)
}

// RevokeTerminating is Revoke, and the host also ends every process of
// the tree elevated under the grant (the sudo -i shell and all it started).
func (s *Service) RevokeTerminating(ctx context.Context, actor, id, comment string) (View, error) {
	return s.revoke(ctx, actor, id, comment, true)
}

func (s *Service) revoke(ctx context.Context, actor, id, comment string, terminate bool) (View, error) {
	if err := checkText("comment", comment, maxCommentBytes); err != nil {
		return View{}, err
	}
	reason := "revoked by " + actor
	if comment != "" {
		reason += ": " + comment
	}
	return s.writeRequest(ctx, func(tx *store.Tx, out *outbox) (store.Request, error) {
		g, err := grantByAnyID(tx, id)
		if err != nil {
			return store.Request{}, err
		}
		if !g.State.Live() {
			return store.Request{}, fmt.Errorf("grant %s is already %s: %w", g.ID, g.State, errdefs.ErrConflict)
		}
		r, err := tx.Request(g.RequestID)
		if err != nil {
			return store.Request{}, err
		}
		if err := s.mayRevoke(tx, r, actor); err != nil {
			return store.Request{}, err
		}
		if err := endGrant(tx, out, g, ending{state: store.GrantRevoked, actor: actor, reason: reason, terminate: terminate}, s.now()); err != nil {
			return store.Request{}, err
		}
		return tx.Request(g.RequestID)
	})
}

func grantByAnyID(tx *store.Tx, id string) (store.Grant, error) {
	g, err := tx.Grant(id)
	if !errors.Is(err, errdefs.ErrNotFound) {
		return g, err
	}
	r, err := tx.Request(id)
	if err != nil {
		return store.Grant{}, fmt.Errorf("no grant or request %q: %w", id, errdefs.ErrNotFound)
	}
	if r.GrantID == "" {
		return store.Grant{}, fmt.Errorf("request %s is %s and has no grant: %w", id, r.Status, errdefs.ErrConflict)
	}
	return tx.Grant(r.GrantID)
}
