package store

import (
	"fmt"
	"time"
)

// InsertHost records a newly enrolled host.
func (t *Tx) InsertHost(h Host) error {
	_, err := t.exec(`INSERT INTO hosts (id, hostname, labels, facts, enrolled_at, cert_serial, cert_expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		h.ID, h.Hostname, toJSON(nonNilMap(h.Labels)), toJSON(nonNilMap(h.Facts)), unixNano(h.EnrolledAt), h.CertSerial, unixNano(h.CertExpiresAt))
	if err != nil {
		return fmt.Errorf("insert host: %w", err)
	}
	return nil
}

const hostColumns = `id, hostname, labels, facts, enrolled_at, removed_at, cert_serial, cert_expires_at`

// Host reads one host.
func (t *Tx) Host(id string) (Host, error) {
	h, err := scanHost(t.queryRow(`SELECT `+hostColumns+` FROM hosts WHERE id = ?`, id))
	if err != nil {
		return Host{}, notFound(err, "host", id)
	}
	return h, nil
}

// Hosts lists every host ever enrolled, removed ones included.
func (t *Tx) Hosts() ([]Host, error) {
	rows, err := t.query(`SELECT ` + hostColumns + ` FROM hosts ORDER BY hostname, id`)
	if err != nil {
		return nil, fmt.Errorf("list hosts: %w", err)
	}
	defer rows.Close()
	var out []Host
	for rows.Next() {
		h, err := scanHost(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

func scanHost(row scanner) (Host, error) {
	var h Host
	var labels, facts string
	var enrolled, removed, certExpires int64
	if err := row.Scan(&h.ID, &h.Hostname, &labels, &facts, &enrolled, &removed, &h.CertSerial, &certExpires); err != nil {
		return Host{}, err
	}
	h.EnrolledAt, h.RemovedAt, h.CertExpiresAt = fromUnixNano(enrolled), fromUnixNano(removed), fromUnixNano(certExpires)
	if err := fromJSON(labels, &h.Labels); err != nil {
		return Host{}, err
	}
	return h, fromJSON(facts, &h.Facts)
}

// SetHostLabels replaces a host's labels.
func (t *Tx) SetHostLabels(id string, labels map[string]string) error {
	res, err := t.exec(`UPDATE hosts SET labels = ? WHERE id = ?`, toJSON(nonNilMap(labels)), id)
	if err != nil {
		return fmt.Errorf("set host labels: %w", err)
	}
	return oneRow(res, "host", id)
}

// SetHostCert records the certificate last issued to a host.
func (t *Tx) SetHostCert(id, serial string, expires time.Time) error {
	res, err := t.exec(`UPDATE hosts SET cert_serial = ?, cert_expires_at = ? WHERE id = ?`, serial, unixNano(expires), id)
	if err != nil {
		return fmt.Errorf("record host certificate: %w", err)
	}
	return oneRow(res, "host", id)
}
