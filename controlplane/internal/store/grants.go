package store

import (
	"fmt"
	"time"
)

const grantColumns = `id, request_id, host_id, user_name, uid, scope, session_id, granted_at, expires_at,
	commands, approvers, role, state, ended_at, revision, break_glass, workload_id, terminate_on_end`

// InsertGrant stores a new active grant.
func (t *Tx) InsertGrant(g Grant) error {
	_, err := t.exec(`INSERT INTO grants (`+grantColumns+`) VALUES (`+placeholders(18)+`)`,
		g.ID, g.RequestID, g.HostID, g.User, int64(g.UID), string(g.Scope), int64(g.SessionID),
		unixNano(g.GrantedAt), unixNano(g.ExpiresAt), toJSON(nonNilSlice(g.Commands)),
		toJSON(nonNilSlice(g.Approvers)), g.Role, string(g.State), unixNano(g.EndedAt), g.Revision,
		boolInt(g.BreakGlass), g.WorkloadID, boolInt(g.TerminateOnEnd))
	if err != nil {
		return fmt.Errorf("insert grant: %w", err)
	}
	return nil
}

// EndGrant moves a live (active or suspended) grant to state at
// revision. It reports false when the grant had already ended, so two
// enders never both win.
func (t *Tx) EndGrant(id string, state GrantState, at time.Time, revision int64) (bool, error) {
	res, err := t.exec(`UPDATE grants SET state = ?, ended_at = ?, revision = ? WHERE id = ? AND state IN (?, ?)`,
		string(state), unixNano(at), revision, id, string(GrantActive), string(GrantSuspended))
	if err != nil {
		return false, fmt.Errorf("end grant: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// MoveGrant changes a grant from state from to state to at revision, for
// suspending (active → suspended) and resuming (suspended → active). It
// reports false when the grant was not in state from.
func (t *Tx) MoveGrant(id string, from, to GrantState, revision int64) (bool, error) {
	res, err := t.exec(`UPDATE grants SET state = ?, revision = ? WHERE id = ? AND state = ?`,
		string(to), revision, id, string(from))
	if err != nil {
		return false, fmt.Errorf("move grant %s from %s to %s: %w", id, from, to, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Grant reads one grant.
func (t *Tx) Grant(id string) (Grant, error) {
	g, err := scanGrant(t.queryRow(`SELECT `+grantColumns+` FROM grants WHERE id = ?`, id))
	if err != nil {
		return Grant{}, notFound(err, "grant", id)
	}
	return g, nil
}

// ActiveGrants lists a host's active grants that have not expired at now.
func (t *Tx) ActiveGrants(hostID string, now time.Time) ([]Grant, error) {
	return t.grants(`SELECT `+grantColumns+` FROM grants WHERE host_id = ? AND state = ? AND expires_at > ? ORDER BY id`,
		hostID, string(GrantActive), unixNano(now))
}

// AllActiveGrants lists every host's live (active or suspended) grants
// that have not expired at now, by id, from after the grant id after
// (for batching): what re-evaluation judges again.
func (t *Tx) AllActiveGrants(now time.Time, after string, limit int) ([]Grant, error) {
	return t.grants(`SELECT `+grantColumns+` FROM grants WHERE state IN (?, ?) AND expires_at > ? AND id > ? ORDER BY id LIMIT ?`,
		string(GrantActive), string(GrantSuspended), unixNano(now), after, limit)
}

// DueGrants lists live grants whose expiry is at or before now.
func (t *Tx) DueGrants(now time.Time, limit int) ([]Grant, error) {
	return t.grants(`SELECT `+grantColumns+` FROM grants WHERE state IN (?, ?) AND expires_at <= ? ORDER BY expires_at LIMIT ?`,
		string(GrantActive), string(GrantSuspended), unixNano(now), limit)
}

// CountActiveGrants counts grants in force at now, for metrics.
func (t *Tx) CountActiveGrants(now time.Time) (int, error) {
	var n int
	err := t.queryRow(`SELECT COUNT(*) FROM grants WHERE state = ? AND expires_at > ?`, string(GrantActive), unixNano(now)).Scan(&n)
	return n, err
}

func (t *Tx) grants(query string, args ...any) ([]Grant, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	defer rows.Close()
	var out []Grant
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

func scanGrant(row scanner) (Grant, error) {
	return scanGrantAfter(row)
}

// scanGrantAfter scans the columns in before, then a grant's.
func scanGrantAfter(row scanner, before ...any) (Grant, error) {
	var g Grant
	var uid, session, granted, expires, ended, breakGlass, terminate int64
	var scope, state, commands, approvers string
	err := row.Scan(append(before, &g.ID, &g.RequestID, &g.HostID, &g.User, &uid, &scope, &session, &granted, &expires,
		&commands, &approvers, &g.Role, &state, &ended, &g.Revision, &breakGlass, &g.WorkloadID, &terminate)...)
	if err != nil {
		return Grant{}, err
	}
	g.BreakGlass, g.TerminateOnEnd = breakGlass != 0, terminate != 0
	g.UID, g.SessionID, g.Scope, g.State = uint32(uid), uint32(session), Scope(scope), GrantState(state)
	g.GrantedAt, g.ExpiresAt, g.EndedAt = fromUnixNano(granted), fromUnixNano(expires), fromUnixNano(ended)
	if err := fromJSON(commands, &g.Commands); err != nil {
		return Grant{}, err
	}
	return g, fromJSON(approvers, &g.Approvers)
}
