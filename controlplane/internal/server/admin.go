package server

import (
	"context"
	"fmt"

	"github.com/zpam/zpam/controlplane/internal/ca"
	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/requests"
	"github.com/zpam/zpam/controlplane/internal/store"
	adminv1 "github.com/zpam/zpam/proto/zpam/admin/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// adminService adapts AdminService to the core. The actor is the name in
// the caller's admin or person certificate.
type adminService struct {
	adminv1.UnimplementedAdminServiceServer
	core *requests.Service
}

// asCaller is ctx for the core: a person's certificate acts on the
// credential channel, where policy decides what the person may do; an
// admin certificate on none, which the core trusts with every request.
func asCaller(ctx context.Context) (context.Context, string) {
	id := identityFrom(ctx)
	if id.Kind == ca.KindPerson {
		return requests.WithChannel(ctx, requests.ChannelCredential), id.Name
	}
	return ctx, id.Name
}

func (a *adminService) ListRequests(ctx context.Context, req *adminv1.ListRequestsRequest) (*adminv1.ListRequestsResponse, error) {
	if identityFrom(ctx).Kind == ca.KindPerson {
		return a.listForPerson(ctx, req)
	}
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
	return &adminv1.ListRequestsResponse{Requests: viewsToProto(views)}, nil
}

// listForPerson answers a person's credential with what ListFor shows
// them: requests they may decide, then their own.
func (a *adminService) listForPerson(ctx context.Context, req *adminv1.ListRequestsRequest) (*adminv1.ListRequestsResponse, error) {
	if len(req.GetStatuses()) > 0 {
		return nil, toStatus(fmt.Errorf("a person's credential lists the requests they may approve and their own, without a status filter: %w", errdefs.ErrInvalid))
	}
	ctx, name := asCaller(ctx)
	in, err := a.core.ListFor(ctx, name)
	if err != nil {
		return nil, toStatus(err)
	}
	return &adminv1.ListRequestsResponse{Requests: append(viewsToProto(in.ToApprove), viewsToProto(in.Own)...)}, nil
}

func viewsToProto(views []requests.View) []*commonv1.Request {
	out := make([]*commonv1.Request, 0, len(views))
	for _, v := range views {
		out = append(out, viewToProto(v))
	}
	return out
}

func (a *adminService) Approve(ctx context.Context, req *adminv1.DecideRequest) (*commonv1.Request, error) {
	ctx, name := asCaller(ctx)
	return reply(a.core.ApproveWithOTP(ctx, name, req.GetRequestId(), req.GetComment(), req.GetOtp()))
}

func (a *adminService) Deny(ctx context.Context, req *adminv1.DecideRequest) (*commonv1.Request, error) {
	ctx, name := asCaller(ctx)
	return reply(a.core.Deny(ctx, name, req.GetRequestId(), req.GetComment()))
}

func (a *adminService) Revoke(ctx context.Context, req *adminv1.RevokeRequest) (*commonv1.Request, error) {
	ctx, name := asCaller(ctx)
	return reply(revoke(ctx, a.core, name, req.GetId(), req.GetComment(), req.GetTerminate()))
}

// revoke ends a grant, and with terminate its elevated processes too.
func revoke(ctx context.Context, core *requests.Service, actor, id, comment string, terminate bool) (requests.View, error) {
	if terminate {
		return core.RevokeTerminating(ctx, actor, id, comment)
	}
	return core.Revoke(ctx, actor, id, comment)
}

func reply(v requests.View, err error) (*commonv1.Request, error) {
	if err != nil {
		return nil, toStatus(err)
	}
	return viewToProto(v), nil
}
