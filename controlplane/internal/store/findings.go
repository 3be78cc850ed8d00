package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Finding is what a detection rule found on a grant's commands: one per
// rule and grant, counting every match and quoting the first ones.
type Finding struct {
	ID          string
	GrantID     string
	RequestID   string
	HostID      string
	User        string
	Rule        string
	Description string
	Severity    string
	// Response is what the rule asked for; Outcome what was done on the
	// first match ("grant revoked", "grant had already ended", …).
	Response string
	Outcome  string
	Evidence []Evidence
	Matches  int64
	FirstAt  time.Time
	LastAt   time.Time
}

// Evidence is one match: the telemetry event and what it ran.
type Evidence struct {
	EventID string    `json:"event_id"`
	At      time.Time `json:"at"`
	PID     uint32    `json:"pid"`
	Command string    `json:"command"`
}

// MaxEvidence is how many matches a finding quotes; the rest are counted.
const MaxEvidence = 10

const findingColumns = `id, grant_id, request_id, host_id, user_name, rule, description, severity, response, outcome,
	evidence, matches, first_at, last_at`

// RecordMatch notes that event eventID matched rule on grantID. It
// reports false when that match was recorded before (a resent batch),
// so nothing is counted or done twice.
func (t *Tx) RecordMatch(grantID, rule, eventID string) (bool, error) {
	res, err := t.exec(`INSERT INTO finding_matches (grant_id, rule, event_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, grantID, rule, eventID)
	if err != nil {
		return false, fmt.Errorf("record match of %s: %w", rule, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// FindingOf reads the finding of rule on grantID; found is false when
// there is none yet.
func (t *Tx) FindingOf(grantID, rule string) (f Finding, found bool, err error) {
	f, err = scanFinding(t.queryRow(`SELECT `+findingColumns+` FROM findings WHERE grant_id = ? AND rule = ?`, grantID, rule))
	if errors.Is(err, sql.ErrNoRows) {
		return Finding{}, false, nil
	}
	if err != nil {
		return Finding{}, false, fmt.Errorf("read finding %s of grant %s: %w", rule, grantID, err)
	}
	return f, true, nil
}

// InsertFinding stores a new finding.
func (t *Tx) InsertFinding(f Finding) error {
	_, err := t.exec(`INSERT INTO findings (`+findingColumns+`) VALUES (`+placeholders(14)+`)`,
		f.ID, f.GrantID, f.RequestID, f.HostID, f.User, f.Rule, f.Description, f.Severity, f.Response, f.Outcome,
		toJSON(nonNilEvidence(f.Evidence)), f.Matches, unixNano(f.FirstAt), unixNano(f.LastAt))
	if err != nil {
		return fmt.Errorf("insert finding: %w", err)
	}
	return nil
}

// UpdateFinding saves a finding's count, evidence, last match and
// outcome.
func (t *Tx) UpdateFinding(f Finding) error {
	_, err := t.exec(`UPDATE findings SET matches = ?, evidence = ?, last_at = ?, outcome = ? WHERE id = ?`,
		f.Matches, toJSON(nonNilEvidence(f.Evidence)), unixNano(f.LastAt), f.Outcome, f.ID)
	if err != nil {
		return fmt.Errorf("update finding: %w", err)
	}
	return nil
}

// FindingsOfGrant lists a grant's findings, first found first.
func (t *Tx) FindingsOfGrant(grantID string) ([]Finding, error) {
	return t.findings(`SELECT `+findingColumns+` FROM findings WHERE grant_id = ? ORDER BY first_at, rule`, grantID)
}

// FindingFilter narrows FindingsSince; empty fields select everything.
type FindingFilter struct {
	User   string
	HostID string
}

// FindingsSince lists findings first found at or after since, newest
// first, at most limit, of one person and one host when f says.
func (t *Tx) FindingsSince(f FindingFilter, since time.Time, limit int) ([]Finding, error) {
	where, args := "first_at >= ?", []any{unixNano(since)}
	if f.User != "" {
		where, args = where+" AND user_name = ?", append(args, f.User)
	}
	if f.HostID != "" {
		where, args = where+" AND host_id = ?", append(args, f.HostID)
	}
	return t.findings(`SELECT `+findingColumns+` FROM findings WHERE `+where+` ORDER BY first_at DESC, id LIMIT ?`, append(args, limit)...)
}

// CountFindings counts user's findings of the given severities first
// found at or after since.
func (t *Tx) CountFindings(user string, since time.Time, severities []string) (int, error) {
	args := []any{user, unixNano(since)}
	for _, s := range severities {
		args = append(args, s)
	}
	var n int
	err := t.queryRow(`SELECT COUNT(*) FROM findings WHERE user_name = ? AND first_at >= ? AND severity IN (`+placeholders(len(severities))+`)`, args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count findings of %s: %w", user, err)
	}
	return n, nil
}

func (t *Tx) findings(query string, args ...any) ([]Finding, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, fmt.Errorf("list findings: %w", err)
	}
	defer rows.Close()
	var out []Finding
	for rows.Next() {
		f, err := scanFinding(rows)
		if err != nil {
			return nil, fmt.Errorf("list findings: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

func scanFinding(row scanner) (Finding, error) {
	var f Finding
	var evidence string
	var first, last int64
	err := row.Scan(&f.ID, &f.GrantID, &f.RequestID, &f.HostID, &f.User, &f.Rule, &f.Description, &f.Severity,
		&f.Response, &f.Outcome, &evidence, &f.Matches, &first, &last)
	if err != nil {
		return Finding{}, err
	}
	f.FirstAt, f.LastAt = fromUnixNano(first), fromUnixNano(last)
	return f, fromJSON(evidence, &f.Evidence)
}

func nonNilEvidence(e []Evidence) []Evidence {
	if e == nil {
		return []Evidence{}
	}
	return e
}

// FirstElevated records that user ran filename elevated under grantID
// and reports whether that was the first time.
func (t *Tx) FirstElevated(user, filename, grantID string, at time.Time) (bool, error) {
	res, err := t.exec(`INSERT INTO elevated_commands (user_name, filename, first_grant_id, first_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		user, filename, grantID, unixNano(at))
	if err != nil {
		return false, fmt.Errorf("record elevated command: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ElevatedBefore reports whether user ran anything elevated under a
// grant other than grantID: only then is a command new to them telling.
func (t *Tx) ElevatedBefore(user, grantID string) (bool, error) {
	var one int
	err := t.queryRow(`SELECT 1 FROM elevated_commands WHERE user_name = ? AND first_grant_id <> ? LIMIT 1`, user, grantID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read elevated history of %s: %w", user, err)
	}
	return true, nil
}
