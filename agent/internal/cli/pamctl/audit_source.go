package pamctl

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
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
	c, err := localclient.Dial(g.socket)
	if err != nil {
		return nil, cli.Exit(cli.ExitUnreachable, "cannot reach the agent at %s: %v", g.socket, err)
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

// serverAudit is AuditService on the control plane, for approvers and
// admins off-host.
type serverAudit struct {
	conn         *grpc.ClientConn
	server, cred string
}

func dialAuditServer(server, dir string) (*serverAudit, error) {
	tlsConf, _, err := loadCredential(dir)
	if err != nil {
		return nil, cli.Usage("--credential %s: %v; it must hold cert.pem, key.pem and ca.pem", dir, err)
	}
	conn, err := grpc.NewClient(server, grpc.WithTransportCredentials(credentials.NewTLS(tlsConf)))
	if err != nil {
		return nil, cli.Usage("--server %q is not HOST:PORT: %v", server, err)
	}
	return &serverAudit{conn: conn, server: server, cred: dir}, nil
}

func (s *serverAudit) client() auditClient { return adminv1.NewAuditServiceClient(s.conn) }
func (s *serverAudit) Close() error        { return s.conn.Close() }

func (s *serverAudit) explain(err error) *cli.ExitError {
	st := status.Convert(err)
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded:
		return cli.Exit(cli.ExitUnreachable, "cannot reach the control plane at %s: %s", s.server, st.Message())
	case codes.Unauthenticated:
		return cli.Exit(cli.ExitUnreachable, "the control plane at %s does not accept the credential in %s: %s", s.server, s.cred, st.Message())
	case codes.InvalidArgument:
		return cli.Exit(cli.ExitUsage, "%s", st.Message())
	}
	return cli.Exit(cli.ExitFailure, "%s", st.Message())
}
