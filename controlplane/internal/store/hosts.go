package store

import "fmt"

// InsertHost records a newly enrolled host.
func (t *Tx) InsertHost(h Host) error {
	_, err := t.exec(`INSERT INTO hosts (id, hostname, labels, facts, enrolled_at) VALUES (?, ?, ?, ?, ?)`,
		h.ID, h.Hostname, toJSON(nonNilMap(h.Labels)), toJSON(nonNilMap(h.Facts)), unixNano(h.EnrolledAt))
	if err != nil {
		return fmt.Errorf("insert host: %w", err)
	}
	return nil
}

// Host reads one host.
func (t *Tx) Host(id string) (Host, error) {
	var h Host
	var labels, facts string
	var enrolled, removed int64
	err := t.queryRow(`SELECT id, hostname, labels, facts, enrolled_at, removed_at FROM hosts WHERE id = ?`, id).
		Scan(&h.ID, &h.Hostname, &labels, &facts, &enrolled, &removed)
	if err != nil {
		return Host{}, notFound(err, "host", id)
	}
	h.EnrolledAt, h.RemovedAt = fromUnixNano(enrolled), fromUnixNano(removed)
	if err := fromJSON(labels, &h.Labels); err != nil {
		return Host{}, err
	}
	return h, fromJSON(facts, &h.Facts)
}
