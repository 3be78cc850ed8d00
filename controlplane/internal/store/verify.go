package store

import (
	"context"
	"fmt"
)

// AuditReport is the outcome of VerifyAudit.
type AuditReport struct {
	// Events is how many events were checked; Head is the last one's
	// hash, worth recording elsewhere: a trail cut back to an earlier
	// head would still chain.
	Events int64
	Head   string
	// Broken is the first event that does not chain, nil when intact.
	Broken *AuditBreak
}

// AuditBreak names the first event that fails verification and why.
type AuditBreak struct {
	ID     int64
	Reason string
}

// VerifyAudit recomputes the chain from the first event to the last, in
// one snapshot, and reports the first event whose content, link or id
// does not match.
func (s *Store) VerifyAudit(ctx context.Context) (AuditReport, error) {
	var rep AuditReport
	err := s.View(ctx, func(tx *Tx) error {
		rep = AuditReport{}
		if err := tx.verifyRows(&rep); err != nil || rep.Broken != nil {
			return err
		}
		seq, err := tx.counter("audit_seq")
		if err != nil {
			return err
		}
		if seq != rep.Events {
			rep.Broken = &AuditBreak{ID: rep.Events + 1, Reason: fmt.Sprintf("events %d to %d are missing: the chain counter says %d were written", rep.Events+1, seq, seq)}
		}
		return nil
	})
	return rep, err
}

func (t *Tx) verifyRows(rep *AuditReport) error {
	rows, err := t.query(`SELECT ` + auditColumns + ` FROM audit_events ORDER BY id`)
	if err != nil {
		return fmt.Errorf("read audit events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, detail, err := scanAudit(rows)
		if err != nil {
			return err
		}
		if reason := checkLink(e, detail, rep); reason != "" {
			rep.Broken = &AuditBreak{ID: e.ID, Reason: reason}
			return nil
		}
		rep.Events, rep.Head = e.ID, e.Hash
	}
	return rows.Err()
}

// checkLink says what is wrong with e as the successor of rep's head.
func checkLink(e AuditEvent, detail string, rep *AuditReport) string {
	switch {
	case e.ID != rep.Events+1:
		return fmt.Sprintf("events %d to %d are missing", rep.Events+1, e.ID-1)
	case e.Hash == "":
		return "the event has no hash"
	case e.PrevHash != rep.Head:
		return "its link to the event before does not match that event's hash"
	case chainHash(e, detail) != e.Hash:
		return "its content does not match its hash"
	}
	return ""
}
