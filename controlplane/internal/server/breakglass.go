package server

import (
	"context"

	"github.com/zpam/zpam/controlplane/internal/breakglass"
	"github.com/zpam/zpam/controlplane/internal/requests"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// breakGlassService adapts BreakGlassService to the core and the signer.
// The host is the one named by the caller's certificate.
type breakGlassService struct {
	agentv1.UnimplementedBreakGlassServiceServer
	core   *requests.Service
	signer *breakglass.Signer
}

func (b *breakGlassService) GetPolicy(ctx context.Context, _ *agentv1.GetBreakGlassPolicyRequest) (*agentv1.SignedBreakGlassPolicy, error) {
	t, err := b.core.BreakGlassTerms(ctx, identityFrom(ctx).Name)
	if err != nil {
		return nil, toStatus(err)
	}
	msg, err := proto.Marshal(&agentv1.BreakGlassPolicy{
		HostId: t.HostID, Users: t.Users, MaxDuration: durationpb.New(t.MaxDuration),
		IssuedAt: timestamppb.New(t.IssuedAt), ExpiresAt: timestamppb.New(t.ExpiresAt),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	sig, cert := b.signer.Sign(msg)
	return &agentv1.SignedBreakGlassPolicy{Policy: msg, Signature: sig, SignerCertificateDer: cert}, nil
}

func (b *breakGlassService) Report(ctx context.Context, r *agentv1.BreakGlassReport) (*agentv1.BreakGlassReportAck, error) {
	id, _, err := b.core.ReportBreakGlass(ctx, requests.BreakGlassReport{
		HostID: identityFrom(ctx).Name, GrantID: r.GetGrantId(), User: r.GetUser(), UID: r.GetUid(), Reason: r.GetReason(),
		StartedAt: r.GetStartedAt().AsTime(), ExpiresAt: r.GetExpiresAt().AsTime(), SessionID: r.GetSessionId(),
		TTY: r.GetTty(), PID: r.GetPid(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &agentv1.BreakGlassReportAck{RequestId: id}, nil
}
