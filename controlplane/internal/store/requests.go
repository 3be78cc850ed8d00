package store

import (
	"fmt"
	"time"

	"github.com/zpam/zpam/controlplane/internal/risk"
)

const requestColumns = `id, host_id, hostname, user_name, uid, duration_ns, reason, commands, context,
	status, status_reason, role, scope, approvals_needed, approvers_allowed, approved_by, grant_id,
	created_at, updated_at, approval_deadline, approval_mfa, mfa_verified, break_glass, workload_id, version, risk, terminate_on_end`

// InsertRequest stores a new request.
func (t *Tx) InsertRequest(r Request) error {
	_, err := t.exec(`INSERT INTO requests (`+requestColumns+`) VALUES (`+placeholders(27)+`)`,
		r.ID, r.HostID, r.Hostname, r.User, int64(r.UID), int64(r.Duration), r.Reason,
		toJSON(nonNilSlice(r.Commands)), toJSON(r.Context), string(r.Status), r.StatusReason, r.Role,
		string(r.Scope), r.ApprovalsNeeded, toJSON(nonNilSlice(r.ApproversAllowed)),
		toJSON(nonNilSlice(r.ApprovedBy)), r.GrantID, unixNano(r.CreatedAt), unixNano(r.UpdatedAt),
		unixNano(r.ApprovalDeadline), boolInt(r.ApprovalMFA), boolInt(r.MFAVerified), boolInt(r.BreakGlass), r.WorkloadID, int64(1), riskJSON(r.Risk),
		boolInt(r.TerminateOnEnd))
	if err != nil {
		return fmt.Errorf("insert request: %w", err)
	}
	return nil
}

// UpdateRequest saves the mutable fields of a request: status, reason,
// approvals, MFA and grant; each save is a new version.
func (t *Tx) UpdateRequest(r Request) error {
	_, err := t.exec(`UPDATE requests SET status = ?, status_reason = ?, approved_by = ?, grant_id = ?, updated_at = ?, mfa_verified = ?, version = version + 1 WHERE id = ?`,
		string(r.Status), r.StatusReason, toJSON(nonNilSlice(r.ApprovedBy)), r.GrantID, unixNano(r.UpdatedAt), boolInt(r.MFAVerified), r.ID)
	if err != nil {
		return fmt.Errorf("update request: %w", err)
	}
	return nil
}

// Request reads one request.
func (t *Tx) Request(id string) (Request, error) {
	r, err := scanRequest(t.queryRow(`SELECT `+requestColumns+` FROM requests WHERE id = ?`, id))
	if err != nil {
		return Request{}, notFound(err, "request", id)
	}
	return r, nil
}

// Requests lists requests in the given statuses, newest first.
func (t *Tx) Requests(statuses []Status, limit int) ([]Request, error) {
	args := make([]any, 0, len(statuses)+1)
	for _, s := range statuses {
		args = append(args, string(s))
	}
	args = append(args, limit)
	return t.requests(`SELECT `+requestColumns+` FROM requests WHERE status IN (`+placeholders(len(statuses))+`)
		ORDER BY created_at DESC, id LIMIT ?`, args...)
}

func scanRequest(row scanner) (Request, error) {
	var r Request
	var uid, dur, created, updated, deadline, approvalMFA, mfaVerified, breakGlass, terminate int64
	var status, scope, commands, rctx, allowed, approved, assessed string
	err := row.Scan(&r.ID, &r.HostID, &r.Hostname, &r.User, &uid, &dur, &r.Reason, &commands, &rctx,
		&status, &r.StatusReason, &r.Role, &scope, &r.ApprovalsNeeded, &allowed, &approved, &r.GrantID,
		&created, &updated, &deadline, &approvalMFA, &mfaVerified, &breakGlass, &r.WorkloadID, &r.Version, &assessed, &terminate)
	if err != nil {
		return Request{}, err
	}
	r.UID, r.Duration, r.Status, r.Scope = uint32(uid), time.Duration(dur), Status(status), Scope(scope)
	r.CreatedAt, r.UpdatedAt, r.ApprovalDeadline = fromUnixNano(created), fromUnixNano(updated), fromUnixNano(deadline)
	r.ApprovalMFA, r.MFAVerified, r.BreakGlass, r.TerminateOnEnd = approvalMFA != 0, mfaVerified != 0, breakGlass != 0, terminate != 0
	fields := []struct {
		src string
		dst any
	}{{commands, &r.Commands}, {rctx, &r.Context}, {allowed, &r.ApproversAllowed}, {approved, &r.ApprovedBy}}
	for _, f := range fields {
		if err := fromJSON(f.src, f.dst); err != nil {
			return Request{}, err
		}
	}
	if assessed != "" {
		if err := fromJSON(assessed, &r.Risk); err != nil {
			return Request{}, err
		}
	}
	if r.Risk.Factors == nil {
		r.Risk.Factors = []risk.Factor{}
	}
	return r, nil
}

func riskJSON(a risk.Assessment) string {
	if a.Factors == nil {
		a.Factors = []risk.Factor{}
	}
	return toJSON(a)
}

// DuePending lists pending requests (waiting for approvers or for the
// requester's code) whose deadline is at or before now.
func (t *Tx) DuePending(now time.Time, limit int) ([]Request, error) {
	return t.requests(`SELECT `+requestColumns+` FROM requests WHERE status IN (?, ?) AND approval_deadline > 0 AND approval_deadline <= ?
		ORDER BY approval_deadline LIMIT ?`, string(StatusPendingApproval), string(StatusPendingMFA), unixNano(now), limit)
}

func (t *Tx) requests(query string, args ...any) ([]Request, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	defer rows.Close()
	var out []Request
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// RequestsOfUser lists user's requests in the given statuses, newest first.
func (t *Tx) RequestsOfUser(user string, statuses []Status, limit int) ([]Request, error) {
	args := []any{user}
	for _, s := range statuses {
		args = append(args, string(s))
	}
	args = append(args, limit)
	rows, err := t.query(`SELECT `+requestColumns+` FROM requests WHERE user_name = ? AND status IN (`+placeholders(len(statuses))+`)
		ORDER BY created_at DESC, id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list requests of %s: %w", user, err)
	}
	defer rows.Close()
	var out []Request
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RequestSummary is what risk scoring reads of an earlier request.
type RequestSummary struct {
	HostID        string
	SourceAddress string
	Duration      time.Duration
	CreatedAt     time.Time
	Granted       bool
}

// RequestHistory lists user's requests filed at or after since, newest
// first, at most limit: the history a new request is scored against.
func (t *Tx) RequestHistory(user string, since time.Time, limit int) ([]RequestSummary, error) {
	rows, err := t.query(`SELECT host_id, context, duration_ns, created_at, grant_id FROM requests
		WHERE user_name = ? AND created_at >= ? ORDER BY created_at DESC LIMIT ?`, user, unixNano(since), limit)
	if err != nil {
		return nil, fmt.Errorf("read request history of %s: %w", user, err)
	}
	defer rows.Close()
	var out []RequestSummary
	for rows.Next() {
		var r RequestSummary
		var rctx, grant string
		var dur, created int64
		if err := rows.Scan(&r.HostID, &rctx, &dur, &created, &grant); err != nil {
			return nil, fmt.Errorf("read request history of %s: %w", user, err)
		}
		var c RequestContext
		if err := fromJSON(rctx, &c); err != nil {
			return nil, err
		}
		r.SourceAddress, r.Duration, r.CreatedAt, r.Granted = c.SourceAddress, time.Duration(dur), fromUnixNano(created), grant != ""
		out = append(out, r)
	}
	return out, rows.Err()
}
