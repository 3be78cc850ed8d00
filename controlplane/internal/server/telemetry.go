package server

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"

	"github.com/zpam/zpam/controlplane/internal/telemetry"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// telemetryService adapts TelemetryService to the telemetry core.
type telemetryService struct {
	agentv1.UnimplementedTelemetryServiceServer
	core *telemetry.Service
}

// uploadDepth is the most batches of one stream submitted and not yet
// acked. Taking the next batch while the last one commits lets one
// agent's batches share a group commit; the agent sends at most 4
// unacknowledged, and past this bound the stream is not read, so one
// stream never holds more than this in memory here.
const uploadDepth = 8

// Upload submits each batch as it arrives and acks them in order, each
// only once its transaction has committed. The acks are sent from the
// handler's goroutine; when one fails the handler returns, which ends the
// stream and with it the receiving goroutine's Recv.
func (t *telemetryService) Upload(stream grpc.BidiStreamingServer[agentv1.EventBatch, agentv1.UploadAck]) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	host := identityFrom(ctx).Name
	queued := make(chan submitted, uploadDepth)
	received := make(chan error, 1)
	go func() {
		defer close(queued)
		received <- t.receive(ctx, stream, host, queued)
	}()
	if err := ackInOrder(ctx, stream, queued); err != nil {
		return err
	}
	return <-received
}

// submitted is a batch queued for commit, to be acked with seq.
type submitted struct {
	seq     uint64
	pending *telemetry.Pending
}

// receive submits the stream's batches until it ends (nil) or fails.
func (t *telemetryService) receive(ctx context.Context, stream grpc.BidiStreamingServer[agentv1.EventBatch, agentv1.UploadAck], host string, queued chan<- submitted) error {
	for {
		b, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		p, err := t.core.Submit(ctx, host, b.GetEvents())
		if err != nil {
			return toStatus(err)
		}
		select {
		case queued <- submitted{seq: b.GetBatchSeq(), pending: p}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ackInOrder acks each queued batch once committed, in the order queued
// (the core commits one stream's batches in that order).
func ackInOrder(ctx context.Context, stream grpc.BidiStreamingServer[agentv1.EventBatch, agentv1.UploadAck], queued <-chan submitted) error {
	for q := range queued {
		res, err := q.pending.Wait(ctx)
		if err != nil {
			return toStatus(err)
		}
		ack := &agentv1.UploadAck{BatchSeq: q.seq, Stored: uint32(res.Stored), Duplicates: uint32(res.Duplicates), Rejected: uint32(res.Rejected)}
		if err := stream.Send(ack); err != nil {
			return err
		}
	}
	return nil
}

// hostAuditService is `pamctl audit` on a host, relayed by its agent:
// the answer is the calling host's events only, and only one user's when
// the agent says the local caller is not root.
type hostAuditService struct {
	agentv1.UnimplementedHostAuditServiceServer
	core *telemetry.Service
}

func hostFilter(host string, req *agentv1.HostAuditRequest) telemetry.Filter {
	f := filterFromProto(req.GetFilter())
	f.OnlyHost, f.OnlyUser = host, req.GetOnlyUser()
	return f
}

func (h *hostAuditService) Query(ctx context.Context, req *agentv1.HostAuditRequest) (*commonv1.AuditEvents, error) {
	evs, err := h.core.Query(ctx, hostFilter(identityFrom(ctx).Name, req))
	if err != nil {
		return nil, toStatus(err)
	}
	return &commonv1.AuditEvents{Events: evs}, nil
}

func (h *hostAuditService) Follow(req *agentv1.HostAuditRequest, stream grpc.ServerStreamingServer[commonv1.Event]) error {
	ctx := stream.Context()
	return followStatus(ctx, h.core.Follow(ctx, hostFilter(identityFrom(ctx).Name, req), stream.Send))
}
