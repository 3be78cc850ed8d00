package spool

import (
	"time"

	"google.golang.org/protobuf/proto"

	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// Stats are the spool's counters since Open.
type Stats struct {
	// Seen counts Publish calls; Spooled the events written; Acked the
	// events the control plane acknowledged.
	Seen, Spooled, Acked uint64
	// Bytes is the size of the segment files on disk.
	Bytes int64
}

// Stats reads the counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Seen: s.seen.Load(), Spooled: s.spooled.Load(), Acked: s.acked.Load(), Bytes: s.bytes()}
}

// Drop is one loss counter: events of Kind (empty when unknown) lost for
// Cause.
type Drop struct {
	Cause, Kind string
	Count       uint64
}

// Drops lists the loss counters since Open.
func (s *Spool) Drops() []Drop {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Drop, 0, len(s.drops))
	for k, n := range s.drops {
		out = append(out, Drop{Cause: k.cause, Kind: k.kind, Count: n})
	}
	return out
}

// Key is how a drop is named in AgentEvent.dropped: cause_kind, or the
// cause alone when the kind is unknown.
func (d Drop) Key() string {
	if d.Kind == "" {
		return d.Cause
	}
	return d.Cause + "_" + d.Kind
}

// OldestUnacked is the time of the oldest event not yet acknowledged,
// zero when everything is: the upload lag is how far behind now it is.
func (s *Spool) OldestUnacked() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var oldest time.Time
	for _, q := range s.queues {
		if !q.hasUnacked() {
			continue
		}
		recs, _, err := q.readFrom(q.head, q.last().n, 1, MaxRecord)
		if err != nil || len(recs) == 0 {
			continue
		}
		var ev commonv1.Event
		if proto.Unmarshal(recs[0], &ev) != nil {
			continue
		}
		if t := ev.GetTime().AsTime(); oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	return oldest
}
