package pamctl

import (
	"context"

	"github.com/zpam/zpam/agent/internal/cli"
	"github.com/zpam/zpam/agent/internal/localapi/localclient"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

// approvals is where requests, approve, deny and revoke go: the local
// agent, which relays for the caller it identified, or the control plane
// directly with the person's own credential (--server).
type approvals interface {
	List(ctx context.Context) (toApprove, own []*commonv1.Request, err error)
	Approve(ctx context.Context, id, comment, otp string) (*commonv1.Request, error)
	Deny(ctx context.Context, id, comment string) (*commonv1.Request, error)
	// Revoke ends a grant; with terminate its host also ends the
	// processes elevated under it.
	Revoke(ctx context.Context, id, comment string, terminate bool) (*commonv1.Request, error)
	// explain turns an error of this backend into one sentence and a code.
	explain(err error) *cli.ExitError
	Close() error
}

// openApprovals picks the backend the global flags name.
func openApprovals(g *globals) (approvals, error) {
	if g.server != "" {
		return dialRemote(g.server, g.credential)
	}
	c, err := dialAgent(g.socket)
	if err != nil {
		return nil, err
	}
	return &viaAgent{c: c, socket: g.socket}, nil
}

// viaAgent relays through the local agent.
type viaAgent struct {
	c      *localclient.Client
	socket string
}

func (a *viaAgent) List(ctx context.Context) ([]*commonv1.Request, []*commonv1.Request, error) {
	resp, err := a.c.ListRequests(ctx, &localv1.LocalListRequestsRequest{})
	return resp.GetToApprove(), resp.GetOwn(), err
}

func (a *viaAgent) Approve(ctx context.Context, id, comment, otp string) (*commonv1.Request, error) {
	return a.c.Approve(ctx, &localv1.LocalDecideRequest{RequestId: id, Comment: comment, Otp: otp})
}

func (a *viaAgent) Deny(ctx context.Context, id, comment string) (*commonv1.Request, error) {
	return a.c.Deny(ctx, &localv1.LocalDecideRequest{RequestId: id, Comment: comment})
}

func (a *viaAgent) Revoke(ctx context.Context, id, comment string, terminate bool) (*commonv1.Request, error) {
	return a.c.Revoke(ctx, &localv1.LocalRevokeRequest{Id: id, Comment: comment, Terminate: terminate})
}

func (a *viaAgent) explain(err error) *cli.ExitError { return rpcError(a.c, a.socket, err) }
func (a *viaAgent) Close() error                     { return a.c.Close() }
