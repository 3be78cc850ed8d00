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
		WorkloadID: r.WorkloadID, BreakGlass: r.BreakGlass,
	}
}

// endGrant moves an active grant to state, updates its request and queues
// the REMOVE. The caller has read g in the same transaction; the
// conditional update still refuses a grant that already ended.
func endGrant(tx *store.Tx, out *outbox, g store.Grant, state store.GrantState, actor, reason string, now time.Time) error {
	rev, err := tx.NextRevision()
	if err != nil {
		return err
	}
	ended, err := tx.EndGrant(g.ID, state, now, rev)
	if err != nil {
		return err
	}
	if !ended {
		return fmt.Errorf("grant %s has already ended: %w", g.ID, errdefs.ErrConflict)
	}
	change := store.GrantChange{Revision: rev, HostID: g.HostID, GrantID: g.ID, Kind: store.ChangeRemove, At: now, Reason: reason}
	if err := tx.InsertGrantChange(change); err != nil {
		return err
	}
	g.State, g.EndedAt, g.Revision = state, now, rev
	out.grant(g.HostID)
	return endRequest(tx, out, g, state, actor, reason, now)
}

func endRequest(tx *store.Tx, out *outbox, g store.Grant, state store.GrantState, actor, reason string, now time.Time) error {
	r, err := tx.Request(g.RequestID)
	if err != nil {
		return err
	}
	r.Status, r.StatusReason, r.UpdatedAt = store.StatusExpired, reason, now
	kind := AuditExpired
	if state == store.GrantRevoked {
		r.Status, kind = store.StatusRevoked, AuditRevoked
	}
	if err := tx.UpdateRequest(r); err != nil {
		return err
	}
	out.request(r)
	return auditRequest(tx, kind, actor, r, now, map[string]any{"reason": reason})
}
