package store

import (
	"fmt"
	"strings"
	"time"
)

// NextRevision bumps and returns the grant revision. The UPDATE takes the
// counter's row lock until commit, so concurrent writers, on one process
// or on several replicas, get distinct values and commit in revision
// order: whoever sees revision N committed sees every revision below it.
// A rolled-back transaction gives its revision back, so there are no gaps.
func (t *Tx) NextRevision() (int64, error) {
	var rev int64
	err := t.queryRow(`UPDATE counters SET value = value + 1 WHERE name = 'grant_revision' RETURNING value`).Scan(&rev)
	if err != nil {
		return 0, fmt.Errorf("bump revision: %w", err)
	}
	return rev, nil
}

// Revision is the latest grant revision.
func (t *Tx) Revision() (int64, error) {
	return t.counter("grant_revision")
}

// BumpDirectory marks a change of people's groups or hosts' labels; the
// serving process polls DirectoryRevision to re-evaluate active grants.
func (t *Tx) BumpDirectory() error {
	if _, err := t.exec(`UPDATE counters SET value = value + 1 WHERE name = 'directory_revision'`); err != nil {
		return fmt.Errorf("bump directory revision: %w", err)
	}
	return nil
}

// DirectoryRevision counts changes of groups and labels so far.
func (t *Tx) DirectoryRevision() (int64, error) {
	return t.counter("directory_revision")
}

// ChangesHorizon is the highest revision whose change may have been
// pruned: a watcher that last saw an older revision needs a snapshot.
func (t *Tx) ChangesHorizon() (int64, error) {
	return t.counter("grant_changes_horizon")
}

func (t *Tx) counter(name string) (int64, error) {
	var v int64
	if err := t.queryRow(`SELECT value FROM counters WHERE name = ?`, name).Scan(&v); err != nil {
		return 0, fmt.Errorf("read counter %s: %w", name, err)
	}
	return v, nil
}

// InsertGrantChange appends to the change log that lets a watcher resume.
func (t *Tx) InsertGrantChange(c GrantChange) error {
	_, err := t.exec(`INSERT INTO grant_changes (revision, host_id, grant_id, kind, created_at, reason, terminate) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.Revision, c.HostID, c.GrantID, string(c.Kind), unixNano(c.At), c.Reason, boolInt(c.Terminate))
	if err != nil {
		return fmt.Errorf("insert grant change: %w", err)
	}
	return nil
}

const changeColumns = `revision, host_id, grant_id, kind, created_at, reason, terminate`

// GrantChanges lists a host's changes after revision, oldest first.
func (t *Tx) GrantChanges(hostID string, after int64) ([]GrantChange, error) {
	return t.changes(`SELECT `+changeColumns+` FROM grant_changes
		WHERE host_id = ? AND revision > ? ORDER BY revision`, hostID, after)
}

// ChangesAfter lists every host's changes after revision, oldest first,
// at most limit of them: what a replica has not yet fanned out.
func (t *Tx) ChangesAfter(after int64, limit int) ([]GrantChange, error) {
	return t.changes(`SELECT `+changeColumns+` FROM grant_changes
		WHERE revision > ? ORDER BY revision LIMIT ?`, after, limit)
}

func (t *Tx) changes(query string, args ...any) ([]GrantChange, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, fmt.Errorf("list grant changes: %w", err)
	}
	defer rows.Close()
	var out []GrantChange
	for rows.Next() {
		var c GrantChange
		var kind string
		var at, terminate int64
		if err := rows.Scan(&c.Revision, &c.HostID, &c.GrantID, &kind, &at, &c.Reason, &terminate); err != nil {
			return nil, err
		}
		c.Kind, c.At, c.Terminate = ChangeKind(kind), fromUnixNano(at), terminate != 0
		out = append(out, c)
	}
	return out, rows.Err()
}

// PruneGrantChanges deletes changes older than before, keeping the newest
// change of the log so the horizon never passes the current revision,
// and raises the horizon to the highest revision deleted. It returns how
// many it deleted.
func (t *Tx) PruneGrantChanges(before time.Time) (int64, error) {
	var highest int64
	err := t.queryRow(`SELECT COALESCE(MAX(revision), 0) FROM grant_changes WHERE created_at < ?
		AND revision < (SELECT MAX(revision) FROM grant_changes)`, unixNano(before)).Scan(&highest)
	if err != nil || highest == 0 {
		return 0, err
	}
	if _, err := t.exec(`UPDATE counters SET value = ? WHERE name = 'grant_changes_horizon' AND value < ?`, highest, highest); err != nil {
		return 0, fmt.Errorf("raise changes horizon: %w", err)
	}
	res, err := t.exec(`DELETE FROM grant_changes WHERE revision <= ?`, highest)
	if err != nil {
		return 0, fmt.Errorf("prune grant changes: %w", err)
	}
	return res.RowsAffected()
}

// HostChange is a change of one host's grants with the grant as it is
// stored now.
type HostChange struct {
	GrantChange
	Grant Grant
}

// HostChanges lists a host's changes after revision with their grants,
// oldest first, at most limit of them: what a watcher of the host has
// not yet been sent.
func (t *Tx) HostChanges(hostID string, after int64, limit int) ([]HostChange, error) {
	rows, err := t.query(`SELECT c.revision, c.host_id, c.grant_id, c.kind, c.created_at, c.reason, c.terminate, `+prefixed("g.", grantColumns)+`
		FROM grant_changes c JOIN grants g ON g.id = c.grant_id
		WHERE c.host_id = ? AND c.revision > ? ORDER BY c.revision LIMIT ?`, hostID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list host changes: %w", err)
	}
	defer rows.Close()
	var out []HostChange
	for rows.Next() {
		var c HostChange
		var kind string
		var at, terminate int64
		g, err := scanGrantAfter(rows, &c.Revision, &c.HostID, &c.GrantID, &kind, &at, &c.Reason, &terminate)
		if err != nil {
			return nil, err
		}
		c.Kind, c.At, c.Grant, c.Terminate = ChangeKind(kind), fromUnixNano(at), g, terminate != 0
		out = append(out, c)
	}
	return out, rows.Err()
}

// prefixed qualifies each column of a comma-separated list.
func prefixed(prefix, columns string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = prefix + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}
