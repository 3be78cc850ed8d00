package pamctl

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/zpam/zpam/agent/internal/cli"
	"github.com/zpam/zpam/agent/internal/localapi/localclient"
	adminv1 "github.com/zpam/zpam/proto/zpam/admin/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

// riskSource is where pamctl residue and findings ask: the local agent,
// which scopes the answer to the caller and this host, or the control
// plane with a credential (--server).
type riskSource interface {
	Residue(ctx context.Context, id string) (*commonv1.ResidueReport, error)
	Findings(ctx context.Context, q *adminv1.ListFindingsRequest) ([]*commonv1.Finding, error)
	explain(err error) *cli.ExitError
	Close() error
}

func openRisk(g *globals) (riskSource, error) {
	if g.server != "" {
		r, err := dialRemote(g.server, g.credential)
		if err != nil {
			return nil, err
		}
		return &serverRisk{remote: r, api: adminv1.NewRiskServiceClient(r.conn)}, nil
	}
	c, err := dialAgent(g.socket)
	if err != nil {
		return nil, err
	}
	return &agentRisk{c: c, socket: g.socket}, nil
}

type agentRisk struct {
	c      *localclient.Client
	socket string
}

func (a *agentRisk) Residue(ctx context.Context, id string) (*commonv1.ResidueReport, error) {
	return a.c.Risk.Residue(ctx, &localv1.LocalResidueRequest{Id: id})
}

// Findings on a host are this host's grants' (root: all; others: their
// own), so --user means nothing here.
func (a *agentRisk) Findings(ctx context.Context, q *adminv1.ListFindingsRequest) ([]*commonv1.Finding, error) {
	if q.GetUser() != "" {
		return nil, cli.Usage("--user %q selects among the fleet's findings: give --server HOST:PORT and --credential DIR; "+
			"on this host root sees every finding of the host, anyone else their own", q.GetUser())
	}
	resp, err := a.c.Risk.Findings(ctx, &localv1.LocalFindingsRequest{Grant: q.GetGrant(), Since: q.GetSince()})
	return resp.GetFindings(), err
}

func (a *agentRisk) explain(err error) *cli.ExitError {
	if status.Code(err) == codes.Unimplemented {
		return cli.Exit(cli.ExitFailure, "the agent at %s does not relay findings and residue reports; upgrade pam-agent", a.socket)
	}
	return rpcError(a.c, a.socket, err)
}

func (a *agentRisk) Close() error { return a.c.Close() }

// serverRisk is RiskService on the control plane: approvers and admins
// see the fleet's, anyone else their own.
type serverRisk struct {
	*remote
	api adminv1.RiskServiceClient
}

func (s *serverRisk) Residue(ctx context.Context, id string) (*commonv1.ResidueReport, error) {
	return s.api.Residue(ctx, &adminv1.ResidueRequest{Id: id})
}

func (s *serverRisk) Findings(ctx context.Context, q *adminv1.ListFindingsRequest) ([]*commonv1.Finding, error) {
	resp, err := s.api.ListFindings(ctx, q)
	return resp.GetFindings(), err
}
