package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// AppendAudit adds an event to the audit trail. There is deliberately no
// method to change or delete one. The event is queued and chained at
// commit (see Tx.flush), so it is in the trail exactly when the change it
// records is; its copy among the telemetry events is written at once.
func (t *Tx) AppendAudit(e AuditEvent) error {
	if e.Detail == nil {
		e.Detail = map[string]any{}
	}
	t.audit = append(t.audit, e)
	return t.appendLifecycle(e)
}

// appendAudit writes events at the head of the chain. Bumping audit_seq
// takes that row's lock until commit: appends from every process and
// replica queue there, each reads the hash the previous one committed,
// and ids follow the chain without gaps.
func (t *Tx) appendAudit(events []AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	var last int64
	err := t.queryRow(`UPDATE counters SET value = value + ? WHERE name = 'audit_seq' RETURNING value`, len(events)).Scan(&last)
	if err != nil {
		return fmt.Errorf("take the audit chain: %w", err)
	}
	first := last - int64(len(events)) + 1
	prev, err := t.auditHash(first - 1)
	if err != nil {
		return err
	}
	for i, e := range events {
		e.ID, e.PrevHash = first+int64(i), prev
		detail := toJSON(e.Detail)
		e.Hash = chainHash(e, detail)
		_, err := t.exec(`INSERT INTO audit_events (id, kind, actor, request_id, grant_id, host_id, user_name, at, detail, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, e.Kind, e.Actor, e.RequestID, e.GrantID, e.HostID, e.User, unixNano(e.At), detail, e.PrevHash, e.Hash)
		if err != nil {
			return fmt.Errorf("append audit event: %w", err)
		}
		prev = e.Hash
	}
	return nil
}

// auditHash is the hash of event id; the chain starts from "".
func (t *Tx) auditHash(id int64) (string, error) {
	if id <= 0 {
		return "", nil
	}
	var h string
	if err := t.queryRow(`SELECT hash FROM audit_events WHERE id = ?`, id).Scan(&h); err != nil {
		return "", fmt.Errorf("read the audit chain head %d: %w", id, err)
	}
	return h, nil
}

// chainHash is SHA-256 over the previous hash and a JSON array of the
// event's stored fields. detail is hashed as stored, byte for byte, so
// verification never depends on how JSON is re-encoded.
func chainHash(e AuditEvent, detail string) string {
	content, err := json.Marshal([]any{e.ID, e.Kind, e.Actor, e.RequestID, e.GrantID, e.HostID, e.User, unixNano(e.At), detail})
	if err != nil {
		panic(fmt.Sprintf("store: encode audit event: %v", err)) // strings and integers always encode
	}
	h := sha256.New()
	h.Write([]byte(e.PrevHash))
	h.Write([]byte{'\n'})
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

const auditColumns = `id, kind, actor, request_id, grant_id, host_id, user_name, at, detail, prev_hash, hash`

// AuditEvents lists the events of one request, oldest first.
func (t *Tx) AuditEvents(requestID string) ([]AuditEvent, error) {
	rows, err := t.query(`SELECT `+auditColumns+` FROM audit_events WHERE request_id = ? ORDER BY id`, requestID)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	var out []AuditEvent
	for rows.Next() {
		e, _, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func scanAudit(row scanner) (AuditEvent, string, error) {
	var e AuditEvent
	var at int64
	var detail string
	err := row.Scan(&e.ID, &e.Kind, &e.Actor, &e.RequestID, &e.GrantID, &e.HostID, &e.User, &at, &detail, &e.PrevHash, &e.Hash)
	if err != nil {
		return e, "", err
	}
	e.At = fromUnixNano(at)
	if err := fromJSON(detail, &e.Detail); err != nil {
		return e, "", fmt.Errorf("audit event %d: %w", e.ID, err)
	}
	return e, detail, nil
}

// sealAudit chains the events written before the trail had a chain, once:
// only while no event has a hash yet, so a hash blanked later is reported
// by VerifyAudit instead of being quietly sealed again.
func (s *Store) sealAudit(ctx context.Context) error {
	return s.Update(ctx, func(tx *Tx) error {
		var hashed, unhashed int64
		err := tx.queryRow(`SELECT COUNT(CASE WHEN hash <> '' THEN 1 END), COUNT(CASE WHEN hash = '' THEN 1 END) FROM audit_events`).Scan(&hashed, &unhashed)
		if err != nil || hashed > 0 || unhashed == 0 {
			return err
		}
		// Take the chain, so no append runs while the old rows are sealed.
		if _, err := tx.exec(`UPDATE counters SET value = value WHERE name = 'audit_seq'`); err != nil {
			return err
		}
		return tx.sealRows()
	})
}

func (t *Tx) sealRows() error {
	rows, err := t.query(`SELECT ` + auditColumns + ` FROM audit_events ORDER BY id`)
	if err != nil {
		return err
	}
	type sealed struct {
		id         int64
		prev, hash string
	}
	var out []sealed
	prev := ""
	for rows.Next() {
		e, detail, err := scanAudit(rows)
		if err != nil {
			rows.Close()
			return err
		}
		e.PrevHash = prev
		prev = chainHash(e, detail)
		out = append(out, sealed{e.ID, e.PrevHash, prev})
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for _, r := range out {
		if _, err := t.exec(`UPDATE audit_events SET prev_hash = ?, hash = ? WHERE id = ?`, r.prev, r.hash, r.id); err != nil {
			return fmt.Errorf("seal audit event %d: %w", r.id, err)
		}
	}
	return nil
}
