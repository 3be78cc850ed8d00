package server

import (
	"github.com/zpam/zpam/controlplane/internal/requests"
	"github.com/zpam/zpam/controlplane/internal/store"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var statusToProto = map[store.Status]commonv1.RequestStatus{
	store.StatusPendingMFA:      commonv1.RequestStatus_REQUEST_STATUS_PENDING_MFA,
	store.StatusPendingApproval: commonv1.RequestStatus_REQUEST_STATUS_PENDING_APPROVAL,
	store.StatusGranted:         commonv1.RequestStatus_REQUEST_STATUS_GRANTED,
	store.StatusDenied:          commonv1.RequestStatus_REQUEST_STATUS_DENIED,
	store.StatusExpired:         commonv1.RequestStatus_REQUEST_STATUS_EXPIRED,
	store.StatusRevoked:         commonv1.RequestStatus_REQUEST_STATUS_REVOKED,
	store.StatusCanceled:        commonv1.RequestStatus_REQUEST_STATUS_CANCELED,
	store.StatusTimedOut:        commonv1.RequestStatus_REQUEST_STATUS_TIMED_OUT,
	store.StatusSuspended:       commonv1.RequestStatus_REQUEST_STATUS_SUSPENDED,
}

var scopeToProto = map[store.Scope]commonv1.GrantScope{
	store.ScopeSession: commonv1.GrantScope_GRANT_SCOPE_SESSION,
	store.ScopeUser:    commonv1.GrantScope_GRANT_SCOPE_USER,
}

var kindToProto = map[requests.EventKind]agentv1.GrantEvent_Kind{
	requests.Upsert:  agentv1.GrantEvent_KIND_UPSERT,
	requests.Remove:  agentv1.GrantEvent_KIND_REMOVE,
	requests.Synced:  agentv1.GrantEvent_KIND_SYNCED,
	requests.Resumed: agentv1.GrantEvent_KIND_RESUMED,
}

func statusFromProto(s commonv1.RequestStatus) (store.Status, bool) {
	for k, v := range statusToProto {
		if v == s {
			return k, true
		}
	}
	return "", false
}

func viewToProto(v requests.View) *commonv1.Request {
	r := v.Request
	out := &commonv1.Request{
		Id: r.ID, HostId: r.HostID, Hostname: r.Hostname, User: r.User, Uid: r.UID,
		Duration: durationpb.New(r.Duration), Reason: r.Reason, Commands: r.Commands,
		Context: contextToProto(r.Context), Status: statusToProto[r.Status], StatusReason: r.StatusReason,
		Role: r.Role, CreatedAt: timestamppb.New(r.CreatedAt), UpdatedAt: timestamppb.New(r.UpdatedAt),
		ApprovedBy: r.ApprovedBy, BreakGlass: r.BreakGlass, WorkloadId: r.WorkloadID,
		Risk: riskToProto(r.Risk), Findings: findingsToProto(v.Findings, r.Hostname),
	}
	if r.Status.Pending() {
		out.ApprovalsNeeded = int32(max(r.ApprovalsNeeded-len(r.ApprovedBy), 0))
		out.ApproversAllowed = r.ApproversAllowed
	}
	if !r.ApprovalDeadline.IsZero() {
		out.ApprovalDeadline = timestamppb.New(r.ApprovalDeadline)
	}
	if v.Grant != nil {
		out.Grant = grantToProto(*v.Grant)
	}
	return out
}

func contextToProto(c store.RequestContext) *commonv1.RequestContext {
	return &commonv1.RequestContext{
		Tty: c.TTY, TtyName: c.TTYName, SourceAddress: c.SourceAddress,
		SessionId: c.SessionID, ParentCommand: c.ParentCommand, Pid: c.PID, Recorded: c.Recorded,
	}
}

func contextFromProto(c *commonv1.RequestContext) store.RequestContext {
	if c == nil {
		return store.RequestContext{SessionID: requests.SessionUnset}
	}
	return store.RequestContext{
		TTY: c.GetTty(), TTYName: c.GetTtyName(), SourceAddress: c.GetSourceAddress(),
		SessionID: c.GetSessionId(), ParentCommand: c.GetParentCommand(), PID: c.GetPid(), Recorded: c.GetRecorded(),
	}
}

func grantToProto(g store.Grant) *commonv1.Grant {
	return &commonv1.Grant{
		Id: g.ID, RequestId: g.RequestID, HostId: g.HostID, User: g.User, Uid: g.UID,
		Scope: scopeToProto[g.Scope], SessionId: g.SessionID, GrantedAt: timestamppb.New(g.GrantedAt),
		ExpiresAt: timestamppb.New(g.ExpiresAt), Commands: g.Commands, Approvers: g.Approvers, Role: g.Role,
		WorkloadId: g.WorkloadID, BreakGlass: g.BreakGlass, TerminateOnEnd: g.TerminateOnEnd,
	}
}

func eventToProto(ev requests.GrantEvent) *agentv1.GrantEvent {
	out := &agentv1.GrantEvent{Kind: kindToProto[ev.Kind], Revision: ev.Revision, Reason: ev.Reason, Terminate: ev.Terminate}
	if ev.Kind == requests.Upsert || ev.Kind == requests.Remove {
		out.Grant = grantToProto(ev.Grant)
	}
	return out
}
