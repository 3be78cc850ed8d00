package pamctl

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/zpam/zpam/agent/internal/cli"
	"github.com/zpam/zpam/agent/internal/localapi/localclient"
	adminv1 "github.com/zpam/zpam/proto/zpam/admin/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// auditClient is what LocalAudit on the agent and AuditService on the
// control plane have in common.
type auditClient interface {
	Query(ctx context.Context, in *commonv1.AuditFilter, opts ...grpc.CallOption) (*commonv1.AuditEvents, error)
	Follow(ctx context.Context, in *commonv1.AuditFilter, opts ...grpc.CallOption) (grpc.ServerStreamingClient[commonv1.Event], error)
}

// auditSource is where pamctl audit asks: the local agent, which scopes
// the answer to the caller, or the control plane with a credential.
type auditSource interface {
	client() auditClient
	explain(err error) *cli.ExitError
	Close() error
}

func openAudit(g *globals) (auditSource, error) {
	if g.server != "" {
		return dialAuditServer(g.server, g.credential)
	}
	c, err := dialAgent(g.socket)
	if err != nil {
		return nil, err
	}
	return &agentAudit{c: c, socket: g.socket}, nil
}

type agentAudit struct {
	c      *localclient.Client
	socket string
}

func (a *agentAudit) client() auditClient { return a.c.Audit }
func (a *agentAudit) Close() error        { return a.c.Close() }

func (a *agentAudit) explain(err error) *cli.ExitError {
	if status.Code(err) == codes.Unimplemented {
		return cli.Exit(cli.ExitFailure, "the agent at %s does not serve the audit trail; upgrade pam-agent", a.socket)
	}
	return rpcError(a.c, a.socket, err)
}

// serverAudit is AuditService on the control plane, reached with the
// person's or admin's own credential (--server): approvers and admins see
// the fleet's events, anyone else their own.
type serverAudit struct{ *remote }

func dialAuditServer(server, dir string) (*serverAudit, error) {
	r, err := dialRemote(server, dir)
	if err != nil {
		return nil, err
	}
	return &serverAudit{r}, nil
}

func (s *serverAudit) client() auditClient { return adminv1.NewAuditServiceClient(s.conn) }
