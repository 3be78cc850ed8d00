package cpclient

import (
	"context"

	"google.golang.org/grpc"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// UploadStream is one TelemetryService.Upload stream; its SendMsg also
// takes an EncodedBatch.
type UploadStream = grpc.BidiStreamingClient[agentv1.EventBatch, agentv1.UploadAck]

// Upload opens a telemetry upload stream on the host's connection; the
// uploader owns its flow control and its reconnects.
func (c *Client) Upload(ctx context.Context) (UploadStream, error) {
	return c.telemetry.Upload(ctx, uploadCodecOption())
}

// AuditQuery asks for this host's audit trail, narrowed to onlyUser
// unless it is empty (a root caller).
func (c *Client) AuditQuery(ctx context.Context, f *commonv1.AuditFilter, onlyUser string) (*commonv1.AuditEvents, error) {
	return c.audit.Query(ctx, &agentv1.HostAuditRequest{Filter: f, OnlyUser: onlyUser})
}

// AuditFollow streams this host's audit trail as AuditQuery selects it,
// then every later matching event, calling fn for each until fn fails,
// the stream ends or ctx ends.
func (c *Client) AuditFollow(ctx context.Context, f *commonv1.AuditFilter, onlyUser string, fn func(*commonv1.Event) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.audit.Follow(ctx, &agentv1.HostAuditRequest{Filter: f, OnlyUser: onlyUser})
	if err != nil {
		return err
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			return err
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
}
