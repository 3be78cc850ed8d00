package server

import (
	"context"

	"github.com/zpam/zpam/controlplane/internal/enroll"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// identityService adapts IdentityService to enrollment. The host is the
// one named by the certificate it authenticated with.
type identityService struct {
	agentv1.UnimplementedIdentityServiceServer
	enroll *enroll.Service
}

func (s *identityService) RotateCertificate(ctx context.Context, req *agentv1.RotateCertificateRequest) (*agentv1.RotateCertificateResponse, error) {
	res, err := s.enroll.Rotate(ctx, identityFrom(ctx).Name, req.GetCsrDer())
	if err != nil {
		return nil, toStatus(err)
	}
	return &agentv1.RotateCertificateResponse{CertificatePem: res.CertPEM, ExpiresAt: timestamppb.New(res.ExpiresAt)}, nil
}
