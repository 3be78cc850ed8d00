package server

import (
	"context"
	"fmt"
	"regexp"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/requests"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// relayService adapts RelayService to the core. The host is the caller's
// certificate; the person is the host's word, never an admin.
type relayService struct {
	agentv1.UnimplementedRelayServiceServer
	core *requests.Service
}

// personName is what useradd accepts, as for elevation requests.
var personName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?$`)

// relayed is ctx for the core: the host channel, naming the host.
func relayed(ctx context.Context, user string) (context.Context, error) {
	if !personName.MatchString(user) {
		return nil, toStatus(fmt.Errorf("user %q is not a unix user name: %w", user, errdefs.ErrInvalid))
	}
	return requests.WithRelayHost(ctx, identityFrom(ctx).Name), nil
}

func (r *relayService) SubmitOTP(ctx context.Context, req *agentv1.SubmitOTPRequest) (*commonv1.Request, error) {
	return reply(r.core.SubmitOTP(ctx, identityFrom(ctx).Name, req.GetRequestId(), req.GetOtp()))
}

func (r *relayService) ListRequests(ctx context.Context, req *agentv1.RelayListRequest) (*agentv1.RelayListResponse, error) {
	ctx, err := relayed(ctx, req.GetUser())
	if err != nil {
		return nil, err
	}
	in, err := r.core.ListFor(ctx, req.GetUser())
	if err != nil {
		return nil, toStatus(err)
	}
	return &agentv1.RelayListResponse{ToApprove: viewsToProto(in.ToApprove), Own: viewsToProto(in.Own)}, nil
}

func (r *relayService) Approve(ctx context.Context, req *agentv1.RelayDecision) (*commonv1.Request, error) {
	ctx, err := relayed(ctx, req.GetUser())
	if err != nil {
		return nil, err
	}
	return reply(r.core.ApproveWithOTP(ctx, req.GetUser(), req.GetRequestId(), req.GetComment(), req.GetOtp()))
}

func (r *relayService) Deny(ctx context.Context, req *agentv1.RelayDecision) (*commonv1.Request, error) {
	ctx, err := relayed(ctx, req.GetUser())
	if err != nil {
		return nil, err
	}
	return reply(r.core.Deny(ctx, req.GetUser(), req.GetRequestId(), req.GetComment()))
}

func (r *relayService) Revoke(ctx context.Context, req *agentv1.RelayRevoke) (*commonv1.Request, error) {
	ctx, err := relayed(ctx, req.GetUser())
	if err != nil {
		return nil, err
	}
	return reply(revoke(ctx, r.core, req.GetUser(), req.GetId(), req.GetComment(), req.GetTerminate()))
}
