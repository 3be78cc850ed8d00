package requests

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// issueGrant grants r (already stored) and queues the UPSERT. The caller
// saves r afterwards.
func issueGrant(tx *store.Tx, out *outbox, r *store.Request, actor string, now time.Time) error {
	rev, err := tx.NextRevision()
	if err != nil {
		return err
	}
	g := newGrant(*r, now, rev)
	if err := tx.InsertGrant(g); err != nil {
		return err
	}
	if err := tx.InsertGrantChange(store.GrantChange{Revision: rev, HostID: g.HostID, GrantID: g.ID, Kind: store.ChangeUpsert, At: now}); err != nil {
		return err
	}
	r.Status, r.GrantID, r.UpdatedAt = store.StatusGranted, g.ID, now
	out.grant(g.HostID)
	return auditRequest(tx, AuditGranted, actor, *r, now, map[string]any{
		"reason": grantReason(*r, actor), "expires_at": g.ExpiresAt, "scope": g.Scope, "session_id": g.SessionID,
		"revision": rev, "approvers": g.Approvers, "workload_id": g.WorkloadID,
	})
}

func grantReason(r store.Request, actor string) string {
	if actor == ActorSystem {
		return fmt.Sprintf("auto-approved by role %s", r.Role)
	}
	return fmt.Sprintf("approved by %s (%d of %d)", strings.Join(r.ApprovedBy, ", "), len(r.ApprovedBy), r.ApprovalsNeeded)
}

func newGrant(r store.Request, now time.Time, rev int64) store.Grant {
	scope, session := r.Scope, r.Context.SessionID
	if session == SessionUnset {
		scope = store.ScopeUser
	}
	if scope == store.ScopeUser {
		session = 0
	}
	return store.Grant{
		ID: uuid.NewString(), RequestID: r.ID, HostID: r.HostID, User: r.User, UID: r.UID,
		Scope: scope, SessionID: session, GrantedAt: now, ExpiresAt: now.Add(r.Duration),
		Commands: r.Commands, Approvers: r.ApprovedBy, Role: r.Role, State: store.GrantActive, Revision: rev,
		WorkloadID: r.WorkloadID, BreakGlass: r.BreakGlass, TerminateOnEnd: r.TerminateOnEnd,
	}
}

// ending is how a grant ends: its new state, who ended it and why, and
// whether its host also ends the processes elevated under it.
type ending struct {
	state     store.GrantState
	actor     string
	reason    string
	terminate bool
}

// endGrant moves an active grant to e.state, updates its request and
// queues the REMOVE. The caller has read g in the same transaction; the
// conditional update still refuses a grant that already ended.
func endGrant(tx *store.Tx, out *outbox, g store.Grant, e ending, now time.Time) error {
	rev, err := tx.NextRevision()
	if err != nil {
		return err
	}
	ended, err := tx.EndGrant(g.ID, e.state, now, rev)
	if err != nil {
		return err
	}
	if !ended {
		return fmt.Errorf("grant %s has already ended: %w", g.ID, errdefs.ErrConflict)
	}
	// The role's terminate_on_end makes every ending a terminating one.
	e.terminate = e.terminate || g.TerminateOnEnd
	change := store.GrantChange{Revision: rev, HostID: g.HostID, GrantID: g.ID, Kind: store.ChangeRemove, At: now,
		Reason: e.reason, Terminate: e.terminate}
	if err := tx.InsertGrantChange(change); err != nil {
		return err
	}
	g.State, g.EndedAt, g.Revision = e.state, now, rev
	out.grant(g.HostID)
	return endRequest(tx, out, g, e, now)
}

func endRequest(tx *store.Tx, out *outbox, g store.Grant, e ending, now time.Time) error {
	r, err := tx.Request(g.RequestID)
	if err != nil {
		return err
	}
	r.Status, r.StatusReason, r.UpdatedAt = store.StatusExpired, e.reason, now
	kind := AuditExpired
	if e.state == store.GrantRevoked {
		r.Status, kind = store.StatusRevoked, AuditRevoked
	}
	if err := tx.UpdateRequest(r); err != nil {
		return err
	}
	out.request(r)
	detail := map[string]any{"reason": e.reason}
	if e.terminate {
		detail["terminate"] = true
	}
	return auditRequest(tx, kind, e.actor, r, now, detail)
}
