package server

import (
	"context"

	"github.com/zpam/zpam/controlplane/internal/enroll"
	"github.com/zpam/zpam/controlplane/internal/requests"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	"google.golang.org/grpc"
)

// agentService adapts AgentService to the core. The host is always the
// one named by the caller's certificate.
type agentService struct {
	agentv1.UnimplementedAgentServiceServer
	core   *requests.Service
	enroll *enroll.Service
}

func (a *agentService) Enroll(ctx context.Context, req *agentv1.EnrollRequest) (*agentv1.EnrollResponse, error) {
	res, err := a.enroll.Enroll(ctx, enroll.Request{
		JoinToken: req.GetJoinToken(), CSRDER: req.GetCsrDer(), Hostname: req.GetFacts().GetHostname(),
		Facts: factsMap(req.GetFacts()), Labels: req.GetLabels(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &agentv1.EnrollResponse{HostId: res.HostID, CertificatePem: res.CertPEM, CaPem: res.CAPEM, Labels: res.Labels}, nil
}

func factsMap(f *agentv1.HostFacts) map[string]string {
	return map[string]string{
		"hostname": f.GetHostname(), "os": f.GetOs(), "platform": f.GetPlatform(),
		"platform_version": f.GetPlatformVersion(), "kernel_version": f.GetKernelVersion(), "host_uuid": f.GetHostUuid(),
	}
}

func (a *agentService) WatchGrants(req *agentv1.WatchGrantsRequest, stream grpc.ServerStreamingServer[agentv1.GrantEvent]) error {
	host := identityFrom(stream.Context()).Name
	err := a.core.WatchGrants(stream.Context(), host, req.GetFromRevision(), func(ev requests.GrantEvent) error {
		return stream.Send(eventToProto(ev))
	})
	return toStatus(err)
}

func (a *agentService) RequestElevation(ctx context.Context, req *agentv1.ElevationRequest) (*commonv1.Request, error) {
	v, err := a.core.RequestElevation(ctx, requests.Elevation{
		HostID: identityFrom(ctx).Name, User: req.GetUser(), UID: req.GetUid(),
		Duration: req.GetDuration().AsDuration(), Reason: req.GetReason(), Commands: req.GetCommands(),
		OTP: req.GetOtp(), Context: contextFromProto(req.GetContext()),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return viewToProto(v), nil
}

func (a *agentService) WatchRequest(req *agentv1.WatchRequestRequest, stream grpc.ServerStreamingServer[commonv1.Request]) error {
	host := identityFrom(stream.Context()).Name
	err := a.core.WatchRequest(stream.Context(), host, req.GetRequestId(), func(v requests.View) error {
		return stream.Send(viewToProto(v))
	})
	return toStatus(err)
}

func (a *agentService) CancelRequest(ctx context.Context, req *agentv1.CancelRequestRequest) (*commonv1.Request, error) {
	v, err := a.core.Cancel(ctx, identityFrom(ctx).Name, req.GetRequestId())
	if err != nil {
		return nil, toStatus(err)
	}
	return viewToProto(v), nil
}
