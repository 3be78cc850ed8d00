package server

import (
	"context"
	"errors"

	"google.golang.org/grpc"

	"github.com/zpam/zpam/controlplane/internal/ca"
	"github.com/zpam/zpam/controlplane/internal/telemetry"
	adminv1 "github.com/zpam/zpam/proto/zpam/admin/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// auditService is the fleet's audit trail for approvers and admins. A
// person who approves for no role sees only their own events.
type auditService struct {
	adminv1.UnimplementedAuditServiceServer
	core      *telemetry.Service
	approvers interface {
		IsApprover(ctx context.Context, name string) (bool, error)
	}
}

// filter is f within what the caller may see.
func (a *auditService) filter(ctx context.Context, f *commonv1.AuditFilter) (telemetry.Filter, error) {
	out := filterFromProto(f)
	id := identityFrom(ctx)
	if id.Kind != ca.KindPerson {
		return out, nil
	}
	approver, err := a.approvers.IsApprover(ctx, id.Name)
	if err != nil {
		return out, err
	}
	if !approver {
		out.OnlyUser = id.Name
	}
	return out, nil
}

func (a *auditService) Query(ctx context.Context, f *commonv1.AuditFilter) (*commonv1.AuditEvents, error) {
	tf, err := a.filter(ctx, f)
	if err != nil {
		return nil, toStatus(err)
	}
	evs, err := a.core.Query(ctx, tf)
	if err != nil {
		return nil, toStatus(err)
	}
	return &commonv1.AuditEvents{Events: evs}, nil
}

func (a *auditService) Follow(f *commonv1.AuditFilter, stream grpc.ServerStreamingServer[commonv1.Event]) error {
	ctx := stream.Context()
	tf, err := a.filter(ctx, f)
	if err != nil {
		return toStatus(err)
	}
	return followStatus(ctx, a.core.Follow(ctx, tf, stream.Send))
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
