package telemetry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/store"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// MaxBatch bounds one uploaded batch; the agent sends 512 events at most.
const MaxBatch = 4096

// maxIDLen bounds an event id (a UUID is 36 bytes).
const maxIDLen = 128

// Result is what one batch did.
type Result struct {
	Stored, Duplicates, Rejected int
}

// Ingest stores a batch of hostID's events and returns once they are
// committed; see Submit.
func (s *Service) Ingest(ctx context.Context, hostID string, events []*commonv1.Event) (Result, error) {
	p, err := s.Submit(ctx, hostID, events)
	if err != nil {
		return Result{}, err
	}
	return p.Wait(ctx)
}

// Submit queues a batch of hostID's events for the next group commit and
// returns without waiting for it; Wait gives the result once committed,
// after handing the batch's commands run under a grant to the inspector.
// The batches one caller submits commit in the order submitted. hostID
// comes from the uploader's certificate and overrides whatever the
// events say, as does the hostname the host enrolled with. Malformed
// events are counted as rejected, not stored.
func (s *Service) Submit(ctx context.Context, hostID string, events []*commonv1.Event) (*Pending, error) {
	start := time.Now()
	if len(events) > MaxBatch {
		return nil, fmt.Errorf("batch of %d events is over the limit of %d: %w", len(events), MaxBatch, errdefs.ErrInvalid)
	}
	hostname, err := s.hostname(ctx, hostID)
	if err != nil {
		return nil, err
	}
	rows, rejected, err := s.rows(hostID, hostname, events)
	if err != nil {
		return nil, err
	}
	p := &Pending{rows: rows, rejected: rejected, start: start, done: make(chan struct{}),
		afterCommit: func(ctx context.Context) { s.inspect(ctx, hostID, events) }}
	if err := s.commits.submit(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// committed reports a group's batches and wakes the followers.
func (s *Service) committed(group []*Pending) {
	stored := 0
	for _, p := range group {
		if p.err != nil {
			continue
		}
		stored += p.stored
		s.cfg.Observer.Ingested(p.stored, len(p.rows)-p.stored, p.rejected, time.Since(p.start))
	}
	if stored > 0 {
		s.wake.fire()
	}
}

func (s *Service) rows(hostID, hostname string, events []*commonv1.Event) ([]store.EventRow, int, error) {
	rows := make([]store.EventRow, 0, len(events))
	rejected := 0
	now := s.cfg.Now()
	for _, ev := range events {
		if !valid(ev) {
			rejected++
			continue
		}
		ev.HostId, ev.Hostname = hostID, hostname
		if g := ev.GetGrant(); g != nil {
			// A host reports what it did with a grant (applied, removed);
			// it cannot speak for a person or the control plane.
			g.Actor = "host:" + hostID
		}
		if ev.GetTime() == nil {
			ev.Time = timestamppb.New(now)
		}
		data, err := proto.Marshal(ev)
		if err != nil {
			return nil, 0, fmt.Errorf("encode event: %w", err)
		}
		rows = append(rows, store.EventRow{
			HostID: hostID, ID: ev.GetId(), Hostname: hostname, At: ev.GetTime().AsTime(), Kind: int32(ev.GetKind()),
			User: ev.GetUser(), GrantID: ev.GetGrantId(), RequestID: ev.GetRequestId(), Data: data,
		})
	}
	return rows, rejected, nil
}

// valid: an id to store it once by, and a kind this control plane knows.
func valid(ev *commonv1.Event) bool {
	_, known := commonv1.EventKind_name[int32(ev.GetKind())]
	return ev.GetId() != "" && len(ev.GetId()) <= maxIDLen && known && ev.GetKind() != commonv1.EventKind_EVENT_KIND_UNSPECIFIED
}

// hostname is the name hostID enrolled with, cached: it does not change.
func (s *Service) hostname(ctx context.Context, hostID string) (string, error) {
	if name, ok := s.hosts.Load(hostID); ok {
		return name.(string), nil
	}
	var h store.Host
	err := s.cfg.Store.View(ctx, func(tx *store.Tx) error {
		var err error
		h, err = tx.Host(hostID)
		return err
	})
	if errors.Is(err, errdefs.ErrNotFound) {
		return "", fmt.Errorf("host %s is not enrolled: %w", hostID, errdefs.ErrPermission)
	}
	if err != nil {
		return "", err
	}
	s.hosts.Store(hostID, h.Hostname)
	return h.Hostname, nil
}

// inspect hands the batch's commands run under a grant to the
// inspector. A failure is logged (the inspector counts it), not
// returned: the events are stored, and refusing the ack would have the
// host resend them for ever if detection kept failing.
func (s *Service) inspect(ctx context.Context, hostID string, events []*commonv1.Event) {
	if s.cfg.Inspector == nil {
		return
	}
	var execs []*commonv1.Event
	for _, ev := range events {
		if ev.GetKind() == commonv1.EventKind_EVENT_KIND_EXEC && ev.GetGrantId() != "" && ev.GetExec() != nil && valid(ev) {
			execs = append(execs, ev)
		}
	}
	if len(execs) == 0 {
		return
	}
	if err := s.cfg.Inspector.InspectExecs(ctx, hostID, execs); err != nil {
		s.cfg.Log.Error("detection over ingested commands failed; they are stored but were not inspected", "host_id", hostID, "commands", len(execs), "err", err)
	}
}
