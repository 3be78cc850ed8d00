package store

import "fmt"

// AppendAudit adds an event to the audit trail. There is deliberately no
// method to change or delete one.
func (t *Tx) AppendAudit(e AuditEvent) error {
	detail := e.Detail
	if detail == nil {
		detail = map[string]any{}
	}
	_, err := t.exec(`INSERT INTO audit_events (kind, actor, request_id, grant_id, host_id, user_name, at, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Kind, e.Actor, e.RequestID, e.GrantID, e.HostID, e.User, unixNano(e.At), toJSON(detail))
	if err != nil {
		return fmt.Errorf("append audit event: %w", err)
	}
	return t.appendLifecycle(e)
}

// AuditEvents lists the events of one request, oldest first.
func (t *Tx) AuditEvents(requestID string) ([]AuditEvent, error) {
	rows, err := t.query(`SELECT id, kind, actor, request_id, grant_id, host_id, user_name, at, detail
		FROM audit_events WHERE request_id = ? ORDER BY id`, requestID)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	var out []AuditEvent
	for rows.Next() {
		var e AuditEvent
		var at int64
		var detail string
		if err := rows.Scan(&e.ID, &e.Kind, &e.Actor, &e.RequestID, &e.GrantID, &e.HostID, &e.User, &at, &detail); err != nil {
			return nil, err
		}
		e.At = fromUnixNano(at)
		if err := fromJSON(detail, &e.Detail); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
