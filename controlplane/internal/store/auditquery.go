package store

import (
	"fmt"
	"strings"
)

// AuditQuery selects audit events for browsing, newest first. Empty
// fields do not filter. Pages are keyset-based: BeforeID is the smallest
// id of the previous page, so a page stays stable while events are added.
type AuditQuery struct {
	User string
	// Host is a hostname or a host id.
	Host     string
	Kind     string
	BeforeID int64
	Limit    int
}

// AuditEntry is an audit event with its host's name, for display.
type AuditEntry struct {
	AuditEvent
	Hostname string
}

// QueryAudit lists the events q selects.
func (t *Tx) QueryAudit(q AuditQuery) ([]AuditEntry, error) {
	where, args := q.conditions()
	query := `SELECT e.id, e.kind, e.actor, e.request_id, e.grant_id, e.host_id, e.user_name, e.at, e.detail,
		COALESCE(h.hostname, '') FROM audit_events e LEFT JOIN hosts h ON h.id = e.host_id`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := t.query(query+" ORDER BY e.id DESC LIMIT ?", append(args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("query audit events: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		var detail string
		if err := rows.Scan(&e.ID, &e.Kind, &e.Actor, &e.RequestID, &e.GrantID, &e.HostID, &e.User, &at, &detail, &e.Hostname); err != nil {
			return nil, fmt.Errorf("query audit events: %w", err)
		}
		e.At = fromUnixNano(at)
		if err := fromJSON(detail, &e.Detail); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (q AuditQuery) conditions() ([]string, []any) {
	var where []string
	var args []any
	if q.User != "" {
		where, args = append(where, "(e.user_name = ? OR e.actor = ?)"), append(args, q.User, q.User)
	}
	if q.Host != "" {
		where, args = append(where, "(e.host_id = ? OR h.hostname = ?)"), append(args, q.Host, q.Host)
	}
	if q.Kind != "" {
		where, args = append(where, "e.kind = ?"), append(args, q.Kind)
	}
	if q.BeforeID > 0 {
		where, args = append(where, "e.id < ?"), append(args, q.BeforeID)
	}
	return where, args
}
