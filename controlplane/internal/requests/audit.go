package requests

import (
	"time"

	"github.com/zpam/zpam/controlplane/internal/store"
)

// Audit event kinds.
const (
	AuditRequested = "requested"
	AuditPending   = "pending_approval"
	AuditAwaitMFA  = "pending_mfa"
	AuditApproved  = "approved"
	AuditGranted   = "granted"
	AuditDenied    = "denied"
	AuditCanceled  = "canceled"
	AuditRevoked   = "revoked"
	AuditExpired   = "expired"
	// AuditLogin and AuditLoginFailed record console sign-ins; AuditLogout
	// a sign-out.
	AuditLogin       = "login"
	AuditLoginFailed = "login_failed"
	AuditLogout      = "logout"
	// AuditMFAVerified and AuditMFAFailed record each TOTP check of the
	// requester or an approver.
	AuditMFAVerified = "mfa_verified"
	AuditMFAFailed   = "mfa_failed"
	// AuditTimedOut: no decision before the approval deadline.
	AuditTimedOut = "timed_out"
	// AuditBreakGlass: an agent reported an offline break-glass window.
	AuditBreakGlass = "break_glass"
)

func auditRequest(tx *store.Tx, kind, actor string, r store.Request, at time.Time, detail map[string]any) error {
	return tx.AppendAudit(store.AuditEvent{
		Kind: kind, Actor: actor, RequestID: r.ID, GrantID: r.GrantID,
		HostID: r.HostID, User: r.User, At: at, Detail: withChannel(tx, detail),
	})
}

// withChannel adds the channel the transaction's action came through.
func withChannel(tx *store.Tx, detail map[string]any) map[string]any {
	ch := channelFrom(tx.Context())
	if ch == "" {
		return detail
	}
	if detail == nil {
		detail = map[string]any{}
	}
	detail["channel"] = string(ch)
	if h := relayHostFrom(tx.Context()); h != "" {
		detail["via_host"] = h
	}
	return detail
}
