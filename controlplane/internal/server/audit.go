package server

import (
	"context"
	"errors"

	"google.golang.org/grpc"

	"github.com/zpam/zpam/controlplane/internal/telemetry"
	adminv1 "github.com/zpam/zpam/proto/zpam/admin/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// auditService is the fleet's audit trail for approvers and admins.
type auditService struct {
	adminv1.UnimplementedAuditServiceServer
	core *telemetry.Service
}

func (a *auditService) Query(ctx context.Context, f *commonv1.AuditFilter) (*commonv1.AuditEvents, error) {
	evs, err := a.core.Query(ctx, filterFromProto(f))
	if err != nil {
		return nil, toStatus(err)
	}
	return &commonv1.AuditEvents{Events: evs}, nil
}

func (a *auditService) Follow(f *commonv1.AuditFilter, stream grpc.ServerStreamingServer[commonv1.Event]) error {
	ctx := stream.Context()
	return followStatus(ctx, a.core.Follow(ctx, filterFromProto(f), stream.Send))
}

// followStatus: a Follow ends when its caller leaves; that is not an
// error worth a status.
func followStatus(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil
	}
	return toStatus(err)
}

func filterFromProto(f *commonv1.AuditFilter) telemetry.Filter {
	out := telemetry.Filter{User: f.GetUser(), Host: f.GetHost(), Grant: f.GetGrant(), Kinds: f.GetKinds(), Limit: int(f.GetLimit())}
	if f.GetSince() != nil {
		out.Since = f.GetSince().AsTime()
	}
	return out
}
