package server

import (
	"context"
	"fmt"

	"github.com/zpam/zpam/controlplane/internal/ca"
	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/requests"
	"github.com/zpam/zpam/controlplane/internal/residue"
	adminv1 "github.com/zpam/zpam/proto/zpam/admin/v1"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// riskService adapts the admin RiskService to the cores. A person who
// approves for no role sees only their own findings and residue, as
// with the audit trail.
type riskService struct {
	adminv1.UnimplementedRiskServiceServer
	core   *requests.Service
	events residue.Events
}

// onlyUser is the caller's scope: "" for admins and approvers.
func (r *riskService) onlyUser(ctx context.Context) (string, error) {
	id := identityFrom(ctx)
	if id.Kind != ca.KindPerson {
		return "", nil
	}
	approver, err := r.core.IsApprover(ctx, id.Name)
	if err != nil || approver {
		return "", err
	}
	return id.Name, nil
}

func (r *riskService) ListFindings(ctx context.Context, req *adminv1.ListFindingsRequest) (*adminv1.ListFindingsResponse, error) {
	only, err := r.onlyUser(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	q := requests.FindingQuery{User: req.GetUser(), Grant: req.GetGrant(), OnlyUser: only}
	if req.GetSince() != nil {
		q.Since = req.GetSince().AsTime()
	}
	fs, err := r.core.Findings(ctx, q)
	if err != nil {
		return nil, toStatus(err)
	}
	return &adminv1.ListFindingsResponse{Findings: hostFindingsToProto(fs)}, nil
}

func (r *riskService) Residue(ctx context.Context, req *adminv1.ResidueRequest) (*commonv1.ResidueReport, error) {
	only, err := r.onlyUser(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	rep, err := residue.Build(ctx, r.core, r.events, req.GetId(), residue.Scope{OnlyUser: only})
	if err != nil {
		return nil, toStatus(err)
	}
	return residueToProto(rep), nil
}

func (r *riskService) ResumeGrant(ctx context.Context, req *adminv1.ResumeRequest) (*commonv1.Request, error) {
	id := identityFrom(ctx)
	if id.Kind != ca.KindPerson {
		return nil, toStatus(fmt.Errorf("a suspended grant is resumed by its requester with their own credential and one-time code, not by %s: %w", id, errdefs.ErrPermission))
	}
	ctx, name := asCaller(ctx)
	return reply(r.core.Resume(ctx, "", name, req.GetId(), req.GetOtp()))
}

// hostRiskService is risk and response relayed by a host for a local
// person: the host's own grants only.
type hostRiskService struct {
	agentv1.UnimplementedHostRiskServiceServer
	core   *requests.Service
	events residue.Events
}

func (h *hostRiskService) ResumeGrant(ctx context.Context, req *agentv1.ResumeGrantRequest) (*commonv1.Request, error) {
	ctx, err := relayed(ctx, req.GetUser())
	if err != nil {
		return nil, err
	}
	return reply(h.core.Resume(ctx, identityFrom(ctx).Name, req.GetUser(), req.GetId(), req.GetOtp()))
}

func (h *hostRiskService) Residue(ctx context.Context, req *agentv1.HostResidueRequest) (*commonv1.ResidueReport, error) {
	scope := residue.Scope{OnlyHost: identityFrom(ctx).Name, OnlyUser: req.GetOnlyUser()}
	rep, err := residue.Build(ctx, h.core, h.events, req.GetId(), scope)
	if err != nil {
		return nil, toStatus(err)
	}
	return residueToProto(rep), nil
}

func (h *hostRiskService) ListFindings(ctx context.Context, req *agentv1.HostFindingsRequest) (*agentv1.HostFindingsResponse, error) {
	q := requests.FindingQuery{Grant: req.GetGrant(), OnlyHost: identityFrom(ctx).Name, OnlyUser: req.GetOnlyUser()}
	if req.GetSince() != nil {
		q.Since = req.GetSince().AsTime()
	}
	fs, err := h.core.Findings(ctx, q)
	if err != nil {
		return nil, toStatus(err)
	}
	return &agentv1.HostFindingsResponse{Findings: hostFindingsToProto(fs)}, nil
}
