package requests

import (
	"time"

	"github.com/zpam/zpam/controlplane/internal/store"
)

// Audit event kinds.
const (
	AuditRequested = "requested"
	AuditPending   = "pending_approval"
	AuditApproved  = "approved"
	AuditGranted   = "granted"
	AuditDenied    = "denied"
	AuditCanceled  = "canceled"
	AuditRevoked   = "revoked"
	AuditExpired   = "expired"
)

func auditRequest(tx *store.Tx, kind, actor string, r store.Request, at time.Time, detail map[string]any) error {
	return tx.AppendAudit(store.AuditEvent{
		Kind: kind, Actor: actor, RequestID: r.ID, GrantID: r.GrantID,
		HostID: r.HostID, User: r.User, At: at, Detail: detail,
	})
}
