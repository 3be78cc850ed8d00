package cptest

import (
	"context"
	"errors"
	"io"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// telemetryState is what hosts uploaded; Server.mu guards it.
type telemetryState struct {
	ids        map[string]bool // host/id stored
	events     []*commonv1.Event
	duplicates int
	batches    int
	streams    int
	// hold, when set, is called with each batch before it is stored and
	// acked; a non-nil error ends the stream without an ack.
	hold func(*agentv1.EventBatch) error
}

type telemetryService struct {
	agentv1.UnimplementedTelemetryServiceServer
	s *Server
}

// Upload stores each batch once per event id, for the host of the
// certificate, and acks it, like the real control plane.
func (v *telemetryService) Upload(stream agentv1.TelemetryService_UploadServer) error {
	host, err := hostOf(stream.Context())
	if err != nil {
		return err
	}
	v.s.mu.Lock()
	v.s.telemetry.streams++
	v.s.mu.Unlock()
	for {
		b, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		v.s.mu.Lock()
		hold := v.s.telemetry.hold
		v.s.mu.Unlock()
		if hold != nil {
			if err := hold(b); err != nil {
				return err
			}
		}
		if err := stream.Send(v.s.store(host, b)); err != nil {
			return err
		}
	}
}

func (s *Server) store(host string, b *agentv1.EventBatch) *agentv1.UploadAck {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &s.telemetry
	t.batches++
	ack := &agentv1.UploadAck{BatchSeq: b.GetBatchSeq()}
	for _, ev := range b.GetEvents() {
		key := host + "/" + ev.GetId()
		if t.ids[key] {
			ack.Duplicates++
			t.duplicates++
			continue
		}
		t.ids[key] = true
		ev = proto.Clone(ev).(*commonv1.Event)
		ev.HostId = host
		t.events = append(t.events, ev)
		ack.Stored++
	}
	return ack
}

// HoldUploads calls hold with every uploaded batch before it is stored;
// an error from hold ends that stream unacknowledged. nil restores the
// default.
func (s *Server) HoldUploads(hold func(*agentv1.EventBatch) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.telemetry.hold = hold
}

// Uploaded returns copies of the events stored, in arrival order.
func (s *Server) Uploaded() []*commonv1.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*commonv1.Event, 0, len(s.telemetry.events))
	for _, ev := range s.telemetry.events {
		out = append(out, proto.Clone(ev).(*commonv1.Event))
	}
	return out
}

// UploadStats are the duplicates received, the batches and the streams.
func (s *Server) UploadStats() (duplicates, batches, streams int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.telemetry.duplicates, s.telemetry.batches, s.telemetry.streams
}

// auditService answers the host-scoped audit relay from what was
// uploaded: the host's own events, narrowed to only_user.
type auditService struct {
	agentv1.UnimplementedHostAuditServiceServer
	s *Server
}

func (a *auditService) Query(ctx context.Context, req *agentv1.HostAuditRequest) (*commonv1.AuditEvents, error) {
	host, err := hostOf(ctx)
	if err != nil {
		return nil, err
	}
	out := &commonv1.AuditEvents{}
	for _, ev := range a.s.Uploaded() {
		if ev.GetHostId() == host && matches(ev, req) {
			out.Events = append(out.Events, ev)
		}
	}
	return out, nil
}

// Follow sends what Query would, then polls for later uploads until the
// caller leaves.
func (a *auditService) Follow(req *agentv1.HostAuditRequest, stream agentv1.HostAuditService_FollowServer) error {
	host, err := hostOf(stream.Context())
	if err != nil {
		return err
	}
	sent := 0
	for {
		evs := a.s.Uploaded()
		for _, ev := range evs[sent:] {
			if ev.GetHostId() == host && matches(ev, req) {
				if err := stream.Send(ev); err != nil {
					return err
				}
			}
		}
		sent = len(evs)
		select {
		case <-stream.Context().Done():
			return nil
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Record stores events as if host had uploaded them.
func (s *Server) Record(host string, evs ...*commonv1.Event) {
	s.store(host, &agentv1.EventBatch{Events: evs})
}

func matches(ev *commonv1.Event, req *agentv1.HostAuditRequest) bool {
	f := req.GetFilter()
	switch {
	case req.GetOnlyUser() != "" && ev.GetUser() != req.GetOnlyUser():
		return false
	case f.GetUser() != "" && ev.GetUser() != f.GetUser():
		return false
	case len(f.GetKinds()) > 0 && !slices.Contains(f.GetKinds(), ev.GetKind()):
		return false
	case f.GetGrant() != "" && ev.GetGrantId() != f.GetGrant() && ev.GetRequestId() != f.GetGrant():
		return false
	}
	return true
}
