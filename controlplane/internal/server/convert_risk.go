package server

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/controlplane/internal/requests"
	"github.com/zpam/zpam/controlplane/internal/residue"
	"github.com/zpam/zpam/controlplane/internal/risk"
	"github.com/zpam/zpam/controlplane/internal/store"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

func riskToProto(a risk.Assessment) *commonv1.RiskAssessment {
	out := &commonv1.RiskAssessment{Score: int32(a.Score)}
	for _, f := range a.Factors {
		out.Factors = append(out.Factors, &commonv1.RiskFactor{Name: f.Name, Weight: int32(f.Weight), Reason: f.Reason})
	}
	return out
}

func findingsToProto(fs []store.Finding, hostname string) []*commonv1.Finding {
	out := make([]*commonv1.Finding, 0, len(fs))
	for _, f := range fs {
		out = append(out, findingToProto(f, hostname))
	}
	return out
}

func findingToProto(f store.Finding, hostname string) *commonv1.Finding {
	out := &commonv1.Finding{
		Id: f.ID, GrantId: f.GrantID, RequestId: f.RequestID, HostId: f.HostID, Hostname: hostname, User: f.User,
		Rule: f.Rule, Description: f.Description, Severity: f.Severity, Response: f.Response, Outcome: f.Outcome,
		Matches: f.Matches, FirstAt: timestamppb.New(f.FirstAt), LastAt: timestamppb.New(f.LastAt),
	}
	for _, e := range f.Evidence {
		out.Evidence = append(out.Evidence, &commonv1.FindingEvidence{EventId: e.EventID, Time: timestamppb.New(e.At), Pid: e.PID, Command: e.Command})
	}
	return out
}

func hostFindingsToProto(fs []requests.HostFinding) []*commonv1.Finding {
	out := make([]*commonv1.Finding, 0, len(fs))
	for _, f := range fs {
		out = append(out, findingToProto(f.Finding, f.Hostname))
	}
	return out
}

func residueToProto(rep residue.Report) *commonv1.ResidueReport {
	g, r := rep.View.Grant, rep.View.Request
	out := &commonv1.ResidueReport{
		GrantId: g.ID, RequestId: g.RequestID, User: g.User, HostId: g.HostID, Hostname: r.Hostname, State: string(g.State),
		GrantedAt: timestamppb.New(g.GrantedAt), ExpiresAt: timestamppb.New(g.ExpiresAt), Risk: riskToProto(r.Risk),
		Findings: findingsToProto(rep.View.Findings, r.Hostname), Snapshots: rep.Snapshots, Commands: int64(rep.Commands), Notes: rep.Notes,
	}
	if !g.EndedAt.IsZero() {
		out.EndedAt = timestamppb.New(g.EndedAt)
	}
	for _, m := range rep.Mentioned {
		out.Mentioned = append(out.Mentioned, &commonv1.PathMention{Path: m.Path, Category: m.Category, Command: m.Command, Pid: m.PID, Time: timestamppb.New(m.At)})
	}
	return out
}
