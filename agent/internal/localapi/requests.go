package localapi

import (
	"context"
	"fmt"

	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

// requestsAPI serves LocalRequests: each call is relayed upstream for the
// caller SO_PEERCRED names, resolved to a user name by this host.
type requestsAPI struct {
	localv1.UnimplementedLocalRequestsServer
	s *Server
}

// person is the caller's uid and user name.
func (a *requestsAPI) person(ctx context.Context) (Caller, string, error) {
	c, err := CallerFrom(ctx)
	if err != nil {
		return Caller{}, "", err
	}
	name, err := lookupName(ctx, c.UID)
	if err != nil {
		return Caller{}, "", toStatus(fmt.Errorf("%w: %w", errBadRequest, err))
	}
	return c, name, nil
}

// ownElevation checks that id is the caller's open elevation; another
// user's id is reported as unknown, so ids of others do not leak.
func (a *requestsAPI) ownElevation(ctx context.Context, id string) error {
	c, err := CallerFrom(ctx)
	if err != nil {
		return err
	}
	if !a.s.ownOpen(id, c.UID) {
		return toStatus(fmt.Errorf("%w: no elevation %s of yours is waiting on this host", errNotFound, id))
	}
	return nil
}

func (a *requestsAPI) SubmitOTP(ctx context.Context, req *localv1.LocalSubmitOTPRequest) (*commonv1.Request, error) {
	if err := a.ownElevation(ctx, req.GetRequestId()); err != nil {
		return nil, err
	}
	r, err := a.s.o.ControlPlane.SubmitOTP(ctx, req.GetRequestId(), req.GetOtp())
	return r, toStatus(err)
}

func (a *requestsAPI) CancelRequest(ctx context.Context, req *localv1.LocalCancelRequest) (*commonv1.Request, error) {
	if err := a.ownElevation(ctx, req.GetRequestId()); err != nil {
		return nil, err
	}
	r, err := a.s.o.ControlPlane.CancelRequest(ctx, req.GetRequestId())
	return r, toStatus(err)
}

func (a *requestsAPI) ListRequests(ctx context.Context, _ *localv1.LocalListRequestsRequest) (*localv1.LocalListRequestsResponse, error) {
	_, name, err := a.person(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := a.s.o.ControlPlane.ListRequestsFor(ctx, name)
	if err != nil {
		return nil, toStatus(err)
	}
	return &localv1.LocalListRequestsResponse{ToApprove: resp.GetToApprove(), Own: resp.GetOwn()}, nil
}

func (a *requestsAPI) Approve(ctx context.Context, req *localv1.LocalDecideRequest) (*commonv1.Request, error) {
	_, name, err := a.person(ctx)
	if err != nil {
		return nil, err
	}
	a.s.o.Log.Info("relaying approval", "user", name, "request_id", req.GetRequestId())
	r, err := a.s.o.ControlPlane.ApproveFor(ctx, name, req.GetRequestId(), req.GetComment(), req.GetOtp())
	return r, toStatus(err)
}

func (a *requestsAPI) Deny(ctx context.Context, req *localv1.LocalDecideRequest) (*commonv1.Request, error) {
	_, name, err := a.person(ctx)
	if err != nil {
		return nil, err
	}
	a.s.o.Log.Info("relaying denial", "user", name, "request_id", req.GetRequestId())
	r, err := a.s.o.ControlPlane.DenyFor(ctx, name, req.GetRequestId(), req.GetComment())
	return r, toStatus(err)
}

func (a *requestsAPI) Revoke(ctx context.Context, req *localv1.LocalRevokeRequest) (*commonv1.Request, error) {
	_, name, err := a.person(ctx)
	if err != nil {
		return nil, err
	}
	a.s.o.Log.Info("relaying revocation", "user", name, "id", req.GetId(), "terminate", req.GetTerminate())
	r, err := a.s.o.ControlPlane.RevokeFor(ctx, name, req.GetId(), req.GetComment(), req.GetTerminate())
	return r, toStatus(err)
}
