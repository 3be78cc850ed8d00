package server

import (
	"context"
	"crypto/x509"
	"slices"
	"strings"

	"github.com/zpam/zpam/controlplane/internal/ca"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

const (
	agentPrefix = "/zpam.agent.v1.AgentService/"
	// enrollMethod is the only RPC served without a client certificate.
	enrollMethod = agentPrefix + "Enroll"
)

// serviceKinds says which kinds of certificate may call each service: the
// one table of who may call what. What a person may do on AdminService is
// decided per request by the core (the credential channel).
var serviceKinds = map[string][]ca.Kind{
	agentPrefix:                         {ca.KindHost},
	"/zpam.agent.v1.IdentityService/":   {ca.KindHost},
	"/zpam.agent.v1.BreakGlassService/": {ca.KindHost},
	"/zpam.agent.v1.TelemetryService/":  {ca.KindHost},
	"/zpam.agent.v1.HostAuditService/":  {ca.KindHost},
	"/zpam.agent.v1.RelayService/":      {ca.KindHost},
	"/zpam.agent.v1.HostRiskService/":   {ca.KindHost},
	"/zpam.admin.v1.RiskService/":       {ca.KindAdmin, ca.KindPerson},
	"/zpam.admin.v1.AdminService/":      {ca.KindAdmin, ca.KindPerson},
	"/zpam.admin.v1.AuditService/":      {ca.KindAdmin, ca.KindPerson},
	"/zpam.admin.v1.WorkloadService/":   {ca.KindWorkload},
}

// serviceOf is the "/package.Service/" part of a full method name.
func serviceOf(method string) string {
	i := strings.LastIndexByte(method, '/')
	if i <= 0 {
		return method
	}
	return method[:i+1]
}

// HostChecker says whether a host id is enrolled and not removed.
type HostChecker func(ctx context.Context, hostID string) (bool, error)

// authorizer decides who may call what, from the verified client
// certificate alone.
type authorizer struct {
	hostActive HostChecker
}

type identityKey struct{}

// identityFrom returns the caller's identity set by the interceptor.
func identityFrom(ctx context.Context) ca.Identity {
	id, _ := ctx.Value(identityKey{}).(ca.Identity)
	return id
}

func (a *authorizer) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, err := a.authorize(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (a *authorizer) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, err := a.authorize(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	return handler(srv, &identityStream{ServerStream: ss, ctx: ctx})
}

func (a *authorizer) authorize(ctx context.Context, method string) (context.Context, error) {
	if method == enrollMethod {
		return ctx, nil
	}
	id, err := peerIdentity(ctx)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(serviceKinds[serviceOf(method)], id.Kind) {
		return nil, status.Errorf(codes.PermissionDenied, "%s may not call %s", id, method)
	}
	if id.Kind == ca.KindHost {
		if err := a.checkHost(ctx, id.Name); err != nil {
			return nil, err
		}
	}
	return context.WithValue(ctx, identityKey{}, id), nil
}

func (a *authorizer) checkHost(ctx context.Context, hostID string) error {
	ok, err := a.hostActive(ctx, hostID)
	if err != nil {
		return toStatus(err)
	}
	if !ok {
		return status.Errorf(codes.PermissionDenied, "host %s is not enrolled or was removed", hostID)
	}
	return nil
}

// peerIdentity reads the identity of the client certificate that TLS
// already verified against the CA.
func peerIdentity(ctx context.Context) (ca.Identity, error) {
	cert := peerCert(ctx)
	if cert == nil {
		return ca.Identity{}, status.Error(codes.Unauthenticated, "a client certificate issued by this control plane is required")
	}
	id, err := ca.IdentityOf(cert)
	if err != nil {
		return ca.Identity{}, status.Error(codes.Unauthenticated, err.Error())
	}
	return id, nil
}

func peerCert(ctx context.Context) *x509.Certificate {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return nil
	}
	return info.State.VerifiedChains[0][0]
}

type identityStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *identityStream) Context() context.Context { return s.ctx }
