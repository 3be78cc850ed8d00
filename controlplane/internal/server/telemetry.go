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

// telemetryService adapts TelemetryService to the telemetry core. A
// stream handles one batch at a time: the agent's window bounds what is
// in flight, and this process holds one batch per stream.
type telemetryService struct {
	agentv1.UnimplementedTelemetryServiceServer
	core *telemetry.Service
}

func (t *telemetryService) Upload(stream grpc.BidiStreamingServer[agentv1.EventBatch, agentv1.UploadAck]) error {
	ctx := stream.Context()
	host := identityFrom(ctx).Name
	for {
		b, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		res, err := t.core.Ingest(ctx, host, b.GetEvents())
		if err != nil {
			return toStatus(err)
		}
		ack := &agentv1.UploadAck{BatchSeq: b.GetBatchSeq(), Stored: uint32(res.Stored), Duplicates: uint32(res.Duplicates), Rejected: uint32(res.Rejected)}
		if err := stream.Send(ack); err != nil {
			return err
		}
	}
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
