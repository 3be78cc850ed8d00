package server

import (
	"context"
	"fmt"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/requests"
	"github.com/zpam/zpam/controlplane/internal/store"
	adminv1 "github.com/zpam/zpam/proto/zpam/admin/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// adminService adapts AdminService to the core. The approver is the name
// in the caller's admin certificate.
type adminService struct {
	adminv1.UnimplementedAdminServiceServer
	core *requests.Service
}

func (a *adminService) ListRequests(ctx context.Context, req *adminv1.ListRequestsRequest) (*adminv1.ListRequestsResponse, error) {
	statuses := make([]store.Status, 0, len(req.GetStatuses()))
	for _, s := range req.GetStatuses() {
		st, ok := statusFromProto(s)
		if !ok {
			return nil, toStatus(fmt.Errorf("status %s cannot be listed: %w", s, errdefs.ErrInvalid))
		}
		statuses = append(statuses, st)
	}
	views, err := a.core.List(ctx, statuses)
	if err != nil {
		return nil, toStatus(err)
	}
	out := &adminv1.ListRequestsResponse{Requests: make([]*commonv1.Request, 0, len(views))}
	for _, v := range views {
		out.Requests = append(out.Requests, viewToProto(v))
	}
	return out, nil
}

func (a *adminService) Approve(ctx context.Context, req *adminv1.DecideRequest) (*commonv1.Request, error) {
	return reply(a.core.ApproveWithOTP(ctx, identityFrom(ctx).Name, req.GetRequestId(), req.GetComment(), req.GetOtp()))
}

func (a *adminService) Deny(ctx context.Context, req *adminv1.DecideRequest) (*commonv1.Request, error) {
	return reply(a.core.Deny(ctx, identityFrom(ctx).Name, req.GetRequestId(), req.GetComment()))
}

func (a *adminService) Revoke(ctx context.Context, req *adminv1.RevokeRequest) (*commonv1.Request, error) {
	return reply(a.core.Revoke(ctx, identityFrom(ctx).Name, req.GetId(), req.GetComment()))
}

func reply(v requests.View, err error) (*commonv1.Request, error) {
	if err != nil {
		return nil, toStatus(err)
	}
	return viewToProto(v), nil
}
