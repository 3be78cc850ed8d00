package requests

import (
	"context"
	"fmt"
	"time"

	"github.com/zpam/zpam/controlplane/internal/detect"
	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// Outcomes of a response, as a finding records them.
const (
	outcomeFlagged    = "flagged for review"
	outcomeSuspended  = "grant suspended until the requester gives a fresh one-time code"
	outcomeRevoked    = "grant revoked"
	outcomeTerminated = "grant revoked; its host ends the processes elevated under it"
)

// respond takes response on g for hit h, in the inspection's
// transaction, and says what was done. g is updated to its new state.
func (in *inspection) respond(g *store.Grant, h detect.Hit, resp detect.Response) (string, error) {
	if resp == detect.Flag {
		return outcomeFlagged, nil
	}
	if !g.State.Live() {
		return fmt.Sprintf("%s asked for; the grant had already ended (%s)", resp, g.State), nil
	}
	now := in.s.now()
	reason := fmt.Sprintf("detection %s (%s): %s", h.Rule.Name, h.Rule.Severity, h.Evidence)
	switch resp {
	case detect.Suspend:
		if g.State == store.GrantSuspended {
			return "suspend asked for; the grant was already suspended", nil
		}
		if err := suspendGrant(in.tx, in.out, *g, reason, now); err != nil {
			return "", err
		}
		g.State = store.GrantSuspended
		return outcomeSuspended, nil
	case detect.Revoke, detect.Terminate:
		e := ending{state: store.GrantRevoked, actor: ActorDetection, reason: reason, terminate: resp == detect.Terminate}
		if err := endGrant(in.tx, in.out, *g, e, now); err != nil {
			return "", err
		}
		g.State = store.GrantRevoked
		if resp == detect.Terminate {
			return outcomeTerminated, nil
		}
		return outcomeRevoked, nil
	}
	return "", fmt.Errorf("unknown response %q of rule %s", resp, h.Rule.Name)
}

// suspendGrant takes an active grant off its host (a REMOVE with the
// reason and how to resume) and marks it and its request suspended.
func suspendGrant(tx *store.Tx, out *outbox, g store.Grant, reason string, now time.Time) error {
	rev, err := tx.NextRevision()
	if err != nil {
		return err
	}
	moved, err := tx.MoveGrant(g.ID, store.GrantActive, store.GrantSuspended, rev)
	if err != nil {
		return err
	}
	if !moved {
		return fmt.Errorf("grant %s is no longer active: %w", g.ID, errdefs.ErrConflict)
	}
	r, err := tx.Request(g.RequestID)
	if err != nil {
		return err
	}
	hint := fmt.Sprintf("suspended by %s; %s resumes it with a fresh one-time code: pamctl elevate --resume %s", reason, g.User, r.ID)
	change := store.GrantChange{Revision: rev, HostID: g.HostID, GrantID: g.ID, Kind: store.ChangeRemove, At: now, Reason: hint}
	if err := tx.InsertGrantChange(change); err != nil {
		return err
	}
	out.grant(g.HostID)
	r.Status, r.StatusReason, r.UpdatedAt = store.StatusSuspended, hint, now
	if err := tx.UpdateRequest(r); err != nil {
		return err
	}
	out.request(r)
	return auditRequest(tx, AuditSuspended, ActorDetection, r, now, map[string]any{"reason": reason, "revision": rev})
}

// Resume puts person's suspended grant (named by a grant or request id)
// back in force once they give a fresh one-time code; its host enforces
// it again at once, until its original expiry. hostID, when set, is the
// host relaying the person, which must be the grant's. The code's check
// is committed on its own, so a wrong code counts towards the lockout.
func (s *Service) Resume(ctx context.Context, hostID, person, id, otp string) (View, error) {
	var r store.Request
	err := s.store.View(ctx, func(tx *store.Tx) (err error) {
		_, r, err = s.suspended(tx, hostID, person, id)
		return err
	})
	if err != nil {
		return View{}, err
	}
	if otp == "" {
		return View{}, fmt.Errorf("resuming grant %s needs a fresh one-time code from %s's authenticator; give it with --otp CODE: %w", r.GrantID, person, errdefs.ErrPermission)
	}
	if err := s.verifyPersonOTP(ctx, person, otp, r); err != nil {
		return View{}, err
	}
	return s.writeRequest(ctx, func(tx *store.Tx, out *outbox) (store.Request, error) {
		g, r, err := s.suspended(tx, hostID, person, id)
		if err != nil {
			return r, err
		}
		err = resumeGrant(tx, out, g, &r, person, s.now())
		return r, err
	})
}

// suspended finds the suspended grant id names, checking that person is
// its requester and, when hostID is set, that it is that host's.
func (s *Service) suspended(tx *store.Tx, hostID, person, id string) (store.Grant, store.Request, error) {
	g, err := grantByAnyID(tx, id)
	if err != nil {
		return g, store.Request{}, err
	}
	if hostID != "" && g.HostID != hostID {
		return g, store.Request{}, fmt.Errorf("no grant or request %q on this host: %w", id, errdefs.ErrNotFound)
	}
	r, err := tx.Request(g.RequestID)
	if err != nil {
		return g, r, err
	}
	switch {
	case r.User != person:
		return g, r, fmt.Errorf("only %s may resume grant %s, with their own one-time code: %w", r.User, g.ID, errdefs.ErrPermission)
	case g.State != store.GrantSuspended:
		return g, r, fmt.Errorf("grant %s is %s, not suspended: %w", g.ID, g.State, errdefs.ErrConflict)
	case !g.ExpiresAt.After(s.now()):
		return g, r, fmt.Errorf("grant %s expired at %s while suspended; ask again with pamctl elevate: %w", g.ID, g.ExpiresAt.UTC().Format(time.RFC3339), errdefs.ErrConflict)
	}
	return g, r, nil
}

func resumeGrant(tx *store.Tx, out *outbox, g store.Grant, r *store.Request, person string, now time.Time) error {
	rev, err := tx.NextRevision()
	if err != nil {
		return err
	}
	moved, err := tx.MoveGrant(g.ID, store.GrantSuspended, store.GrantActive, rev)
	if err != nil {
		return err
	}
	if !moved {
		return fmt.Errorf("grant %s is no longer suspended: %w", g.ID, errdefs.ErrConflict)
	}
	if err := tx.InsertGrantChange(store.GrantChange{Revision: rev, HostID: g.HostID, GrantID: g.ID, Kind: store.ChangeUpsert, At: now}); err != nil {
		return err
	}
	out.grant(g.HostID)
	r.Status, r.UpdatedAt = store.StatusGranted, now
	r.StatusReason = fmt.Sprintf("resumed by %s with a fresh one-time code", person)
	if err := tx.UpdateRequest(*r); err != nil {
		return err
	}
	out.request(*r)
	return auditRequest(tx, AuditResumed, person, *r, now, map[string]any{"reason": r.StatusReason, "revision": rev, "expires_at": g.ExpiresAt})
}
