package cptest

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	"github.com/zpam/zpam/proto/zpam/jointoken"
)

type service struct {
	agentv1.UnimplementedAgentServiceServer
	s *Server
}

func (v *service) Enroll(_ context.Context, req *agentv1.EnrollRequest) (*agentv1.EnrollResponse, error) {
	tok, err := jointoken.Parse(req.GetJoinToken())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.tokens[tok.Secret] {
		return nil, status.Error(codes.PermissionDenied, "join token unknown or already used")
	}
	s.hosts++
	hostID := fmt.Sprintf("h-%d", s.hosts)
	cert, err := s.pki.signHost(req.GetCsrDer(), hostID, s.certTTL)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	s.tokens[tok.Secret] = false
	s.enrollments++
	return &agentv1.EnrollResponse{HostId: hostID, CertificatePem: cert, CaPem: pemCert(s.pki.ca.Raw), Labels: req.GetLabels()}, nil
}

// hostOf is the host id from the verified client certificate.
func hostOf(ctx context.Context) (string, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "", status.Error(codes.Unauthenticated, "no peer")
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 {
		return "", status.Error(codes.Unauthenticated, "a host certificate is required")
	}
	for _, u := range ti.State.VerifiedChains[0][0].URIs {
		if u.Scheme == "zpam" && u.Host == "host" {
			return u.Path[1:], nil
		}
	}
	return "", status.Error(codes.PermissionDenied, "not a host certificate")
}

func (v *service) WatchGrants(_ *agentv1.WatchGrantsRequest, stream agentv1.AgentService_WatchGrantsServer) error {
	host, err := hostOf(stream.Context())
	if err != nil {
		return err
	}
	v.s.recordSerial(stream.Context())
	snap, ch := v.s.subscribeGrants(host)
	defer v.s.unsubscribeGrants(ch)
	for _, ev := range snap {
		if err := stream.Send(ev); err != nil {
			return err
		}
	}
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case ev := <-ch:
			if !forHost(ev.GetGrant(), host) {
				continue
			}
			if err := stream.Send(ev); err != nil {
				return err
			}
		}
	}
}

func (v *service) RequestElevation(ctx context.Context, req *agentv1.ElevationRequest) (*commonv1.Request, error) {
	host, err := hostOf(ctx)
	if err != nil {
		return nil, err
	}
	return v.s.file(host, req), nil
}

func (v *service) WatchRequest(req *agentv1.WatchRequestRequest, stream agentv1.AgentService_WatchRequestServer) error {
	if _, err := hostOf(stream.Context()); err != nil {
		return err
	}
	cur, ch := v.s.subscribeRequest(req.GetRequestId())
	if cur == nil {
		return status.Errorf(codes.NotFound, "no request %s", req.GetRequestId())
	}
	defer v.s.unsubscribeRequest(req.GetRequestId(), ch)
	for r := cur; ; {
		if err := stream.Send(r); err != nil || isFinal(r.GetStatus()) {
			return err
		}
		select {
		case <-stream.Context().Done():
			return nil
		case r = <-ch:
		}
	}
}

func (v *service) CancelRequest(ctx context.Context, req *agentv1.CancelRequestRequest) (*commonv1.Request, error) {
	if _, err := hostOf(ctx); err != nil {
		return nil, err
	}
	s := v.s
	s.mu.Lock()
	s.canceled = append(s.canceled, req.GetRequestId())
	s.mu.Unlock()
	r := s.update(req.GetRequestId(), func(r *commonv1.Request) {
		r.Status = commonv1.RequestStatus_REQUEST_STATUS_CANCELED
	})
	if r == nil {
		return nil, status.Errorf(codes.NotFound, "no request %s", req.GetRequestId())
	}
	return proto.Clone(r).(*commonv1.Request), nil
}

type identityService struct {
	agentv1.UnimplementedIdentityServiceServer
	s *Server
}

func (v *identityService) RotateCertificate(ctx context.Context, req *agentv1.RotateCertificateRequest) (*agentv1.RotateCertificateResponse, error) {
	host, err := hostOf(ctx)
	if err != nil {
		return nil, err
	}
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	cert, err := s.pki.signHost(req.GetCsrDer(), host, s.certTTL)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	s.rotations++
	return &agentv1.RotateCertificateResponse{CertificatePem: cert}, nil
}

// recordSerial notes the serial of the client certificate of ctx.
func (s *Server) recordSerial(ctx context.Context) {
	p, _ := peer.FromContext(ctx)
	ti, _ := p.AuthInfo.(credentials.TLSInfo)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serials = append(s.serials, ti.State.VerifiedChains[0][0].SerialNumber.String())
}
