package store

import "fmt"

// NextRevision bumps and returns the grant revision. The UPDATE takes the
// counter's row lock, so concurrent writers get distinct, increasing values.
func (t *Tx) NextRevision() (int64, error) {
	if _, err := t.exec(`UPDATE counters SET value = value + 1 WHERE name = 'grant_revision'`); err != nil {
		return 0, fmt.Errorf("bump revision: %w", err)
	}
	return t.Revision()
}

// Revision is the latest grant revision.
func (t *Tx) Revision() (int64, error) {
	var rev int64
	if err := t.queryRow(`SELECT value FROM counters WHERE name = 'grant_revision'`).Scan(&rev); err != nil {
		return 0, fmt.Errorf("read revision: %w", err)
	}
	return rev, nil
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
	var rev int64
	if err := t.queryRow(`SELECT value FROM counters WHERE name = 'directory_revision'`).Scan(&rev); err != nil {
		return 0, fmt.Errorf("read directory revision: %w", err)
	}
	return rev, nil
}

// InsertGrantChange appends to the change log that lets a watcher resume.
func (t *Tx) InsertGrantChange(c GrantChange) error {
	_, err := t.exec(`INSERT INTO grant_changes (revision, host_id, grant_id, kind, created_at) VALUES (?, ?, ?, ?, ?)`,
		c.Revision, c.HostID, c.GrantID, string(c.Kind), unixNano(c.At))
	if err != nil {
		return fmt.Errorf("insert grant change: %w", err)
	}
	return nil
}

// GrantChanges lists a host's changes after revision, oldest first.
func (t *Tx) GrantChanges(hostID string, after int64) ([]GrantChange, error) {
	rows, err := t.query(`SELECT revision, host_id, grant_id, kind, created_at FROM grant_changes
		WHERE host_id = ? AND revision > ? ORDER BY revision`, hostID, after)
	if err != nil {
		return nil, fmt.Errorf("list grant changes: %w", err)
	}
	defer rows.Close()
	var out []GrantChange
	for rows.Next() {
		var c GrantChange
		var kind string
		var at int64
		if err := rows.Scan(&c.Revision, &c.HostID, &c.GrantID, &kind, &at); err != nil {
			return nil, err
		}
		c.Kind, c.At = ChangeKind(kind), fromUnixNano(at)
		out = append(out, c)
	}
	return out, rows.Err()
}
