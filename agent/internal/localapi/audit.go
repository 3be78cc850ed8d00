package localapi

import (
	"context"
	"errors"

	"google.golang.org/grpc"

	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

// AuditRelay asks the control plane for this host's audit trail; the
// control plane answers for the host of the certificate only.
type AuditRelay interface {
	AuditQuery(ctx context.Context, f *commonv1.AuditFilter, onlyUser string) (*commonv1.AuditEvents, error)
	AuditFollow(ctx context.Context, f *commonv1.AuditFilter, onlyUser string, fn func(*commonv1.Event) error) error
}

// errNoRelay means the agent was started without a control plane relay.
var errNoRelay = errors.New("this agent does not relay the audit trail")

// auditServer is `pamctl audit`: root sees the host's events, any other
// caller only their own, as SO_PEERCRED names them; the filter the caller
// sent can narrow that, never widen it.
type auditServer struct {
	localv1.UnimplementedLocalAuditServer
	s *Server
}

func (a auditServer) Query(ctx context.Context, f *commonv1.AuditFilter) (*commonv1.AuditEvents, error) {
	only, err := a.scope(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	resp, err := a.s.o.Audit.AuditQuery(ctx, f, only)
	return resp, toStatus(err)
}

func (a auditServer) Follow(f *commonv1.AuditFilter, stream grpc.ServerStreamingServer[commonv1.Event]) error {
	ctx := stream.Context()
	only, err := a.scope(ctx)
	if err != nil {
		return toStatus(err)
	}
	err = a.s.o.Audit.AuditFollow(ctx, f, only, stream.Send)
	if ctx.Err() != nil {
		return nil // pamctl left: the follow is over
	}
	return toStatus(err)
}

// scope is the one user whose events the caller may see, "" for root.
func (a auditServer) scope(ctx context.Context) (string, error) {
	if a.s.o.Audit == nil {
		return "", errNoRelay
	}
	return callerScope(ctx)
}
