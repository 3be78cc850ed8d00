package spool

import (
	"context"
	"errors"
)

// Batch is a run of events from one queue, handed out by Next and
// removed from the spool by Ack.
type Batch struct {
	// Records are the events as Publish encoded them (commonv1.Event in
	// protobuf), checked against their checksums: the uploader sends
	// them as they are, without decoding and encoding each event again,
	// or holding the decoded events while they are in flight.
	Records [][]byte
	// Bytes is the size of the batch's records on disk.
	Bytes int
	class class
	end   pos
}

// Next waits until events are unread and returns up to maxEvents of them
// (and about maxBytes at most), privileged events first. Events handed
// out stay in the spool until acknowledged; Rewind hands them out again.
func (s *Spool) Next(ctx context.Context, maxEvents, maxBytes int) (*Batch, error) {
	for {
		b, err := s.take(maxEvents, maxBytes)
		if err != nil || b != nil {
			return b, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.stop:
			return nil, ErrClosed
		case <-s.notify:
		}
	}
}

func (s *Spool) take(maxEvents, maxBytes int) (*Batch, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	var recs [][]byte
	var b *Batch
	for c, q := range s.queues {
		if !q.hasUnread() {
			continue
		}
		var end pos
		var err error
		recs, end, err = q.take(maxEvents, maxBytes)
		if errors.Is(err, errTorn) {
			s.o.Log.Error("spool: skipped a corrupt segment tail", "queue", classDirs[c], "err", err)
			s.drops[dropKey{cause: CauseCorrupt}]++
		} else if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		b = &Batch{class: class(c), end: end}
		break
	}
	s.mu.Unlock()
	if b == nil {
		return nil, nil
	}
	b.Records = recs
	for _, r := range recs {
		b.Bytes += len(r) + headerLen
	}
	return b, nil
}

// Ack removes the batch from the spool: the control plane has stored it.
// Acknowledging an older batch after a newer one, or one whose events the
// drop policy already removed, changes nothing.
func (s *Spool) Ack(b *Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if err := s.queues[b.class].ack(b.end); err != nil {
		return err
	}
	s.acked.Add(uint64(len(b.Records)))
	return nil
}

// Rewind makes Next hand out every unacknowledged event again, oldest
// first: after a lost connection, nothing in flight is known stored.
func (s *Spool) Rewind() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range s.queues {
		q.rewind()
	}
	select {
	case s.notify <- struct{}{}:
	default:
	}
}
