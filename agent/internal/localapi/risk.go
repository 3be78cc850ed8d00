package localapi

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

// RiskRelay asks the control plane about risk and response for a local
// person: resuming their suspended grant, and a grant's residue report.
// The control plane answers for this host's grants only.
type RiskRelay interface {
	ResumeFor(ctx context.Context, user, id, otp string) (*commonv1.Request, error)
	ResidueOf(ctx context.Context, id, onlyUser string) (*commonv1.ResidueReport, error)
	FindingsOf(ctx context.Context, grant string, since *timestamppb.Timestamp, onlyUser string) ([]*commonv1.Finding, error)
}

// errNoRisk means the agent was started without a risk relay.
var errNoRisk = fmt.Errorf("this agent does not relay risk and response: %w", errNoRelay)

// riskAPI serves LocalRisk for the caller SO_PEERCRED names.
type riskAPI struct {
	localv1.UnimplementedLocalRiskServer
	s *Server
}

// Resume relays the caller's code and, once the grant is back in force
// upstream, waits until it is in this host's kernel again before saying
// so, as Elevate does: a person told "resumed" must find sudo working.
func (a *riskAPI) Resume(req *localv1.LocalResumeRequest, stream grpc.ServerStreamingServer[localv1.ElevateUpdate]) error {
	ctx := stream.Context()
	if a.s.o.Risk == nil {
		return toStatus(errNoRisk)
	}
	if req.GetId() == "" || req.GetOtp() == "" {
		return toStatus(fmt.Errorf("%w: resuming needs the grant or request id and a fresh one-time code", errBadRequest))
	}
	c, err := CallerFrom(ctx)
	if err != nil {
		return toStatus(err)
	}
	name, err := lookupName(ctx, c.UID)
	if err != nil {
		return toStatus(fmt.Errorf("%w: %w", errBadRequest, err))
	}
	release, err := a.s.admit(c.UID)
	if err != nil {
		return toStatus(err)
	}
	defer release()
	a.s.o.Log.Info("relaying resume of a suspended grant", "user", name, "uid", c.UID, "id", req.GetId())
	r, err := a.s.o.Risk.ResumeFor(ctx, name, req.GetId(), req.GetOtp())
	if err != nil {
		return toStatus(err)
	}
	e := &elevation{s: a.s, send: stream.Send, resumed: true}
	_, err = e.step(ctx, r)
	if errors.Is(err, errCallerLeft) {
		return nil
	}
	return toStatus(err)
}

// Residue is a grant's residue report: root may read any grant of this
// host, anyone else only their own.
func (a *riskAPI) Residue(ctx context.Context, req *localv1.LocalResidueRequest) (*commonv1.ResidueReport, error) {
	if a.s.o.Risk == nil {
		return nil, toStatus(errNoRisk)
	}
	only, err := callerScope(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	rep, err := a.s.o.Risk.ResidueOf(ctx, req.GetId(), only)
	return rep, toStatus(err)
}

// Findings lists findings on this host's grants: root's, all of them;
// anyone else's, their own.
func (a *riskAPI) Findings(ctx context.Context, req *localv1.LocalFindingsRequest) (*localv1.LocalFindingsResponse, error) {
	if a.s.o.Risk == nil {
		return nil, toStatus(errNoRisk)
	}
	only, err := callerScope(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	fs, err := a.s.o.Risk.FindingsOf(ctx, req.GetGrant(), req.GetSince(), only)
	if err != nil {
		return nil, toStatus(err)
	}
	return &localv1.LocalFindingsResponse{Findings: fs}, nil
}

// callerScope is the one user whose data the caller may see, "" for root.
func callerScope(ctx context.Context) (string, error) {
	c, err := CallerFrom(ctx)
	if err != nil {
		return "", err
	}
	if c.UID == 0 {
		return "", nil
	}
	name, err := lookupName(ctx, c.UID)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errBadRequest, err)
	}
	return name, nil
}
