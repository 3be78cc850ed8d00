package cptest

import (
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// Pending leaves a request waiting for one approval from carol.
func Pending(string, *agentv1.ElevationRequest) *commonv1.Request {
	return &commonv1.Request{Status: commonv1.RequestStatus_REQUEST_STATUS_PENDING_APPROVAL, ApprovalsNeeded: 1, ApproversAllowed: []string{"carol"}}
}

// AutoApprove grants every request at once, for the session that asked.
func AutoApprove(string, *agentv1.ElevationRequest) *commonv1.Request {
	return &commonv1.Request{Status: commonv1.RequestStatus_REQUEST_STATUS_GRANTED, StatusReason: "auto-approved by role dev"}
}

// Deny refuses every request with reason.
func Deny(reason string) Decider {
	return func(string, *agentv1.ElevationRequest) *commonv1.Request {
		return &commonv1.Request{Status: commonv1.RequestStatus_REQUEST_STATUS_DENIED, StatusReason: reason}
	}
}

func isFinal(st commonv1.RequestStatus) bool {
	return st != commonv1.RequestStatus_REQUEST_STATUS_PENDING_APPROVAL && st != commonv1.RequestStatus_REQUEST_STATUS_PENDING_MFA
}

// file records a new request as the decider answered it.
func (s *Server) file(host string, in *agentv1.ElevationRequest) *commonv1.Request {
	s.mu.Lock()
	decide := s.decide
	s.mu.Unlock()
	d := decide(host, in)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := timestamppb.Now()
	r := &commonv1.Request{
		Id: fmt.Sprintf("r-%d", len(s.requests)+1), HostId: host, User: in.GetUser(), Uid: in.GetUid(),
		Duration: in.GetDuration(), Reason: in.GetReason(), Commands: in.GetCommands(), Context: in.GetContext(),
		Status: d.GetStatus(), StatusReason: d.GetStatusReason(), ApprovalsNeeded: d.GetApprovalsNeeded(),
		ApproversAllowed: d.GetApproversAllowed(), CreatedAt: now, UpdatedAt: now,
	}
	s.requests[r.Id] = r
	if r.Status == commonv1.RequestStatus_REQUEST_STATUS_GRANTED {
		s.grantLocked(r)
	}
	return proto.Clone(r).(*commonv1.Request)
}

// grantLocked attaches a session-scoped grant to r and streams it.
func (s *Server) grantLocked(r *commonv1.Request) {
	now := time.Now()
	r.Grant = &commonv1.Grant{
		Id: "g-" + r.GetId(), RequestId: r.GetId(), HostId: r.GetHostId(), User: r.GetUser(), Uid: r.GetUid(),
		Scope: commonv1.GrantScope_GRANT_SCOPE_SESSION, SessionId: r.GetContext().GetSessionId(),
		GrantedAt: timestamppb.New(now), ExpiresAt: timestamppb.New(now.Add(r.GetDuration().AsDuration())),
	}
	s.upsertLocked(r.Grant)
}

// Approve grants pending request id, as an approver would.
func (s *Server) Approve(id string) {
	s.update(id, func(r *commonv1.Request) {
		r.Status, r.ApprovalsNeeded, r.ApprovedBy = commonv1.RequestStatus_REQUEST_STATUS_GRANTED, 0, []string{"carol"}
		s.grantLocked(r)
	})
}

// Reject denies pending request id with reason.
func (s *Server) Reject(id, reason string) {
	s.update(id, func(r *commonv1.Request) {
		r.Status, r.StatusReason = commonv1.RequestStatus_REQUEST_STATUS_DENIED, reason
	})
}

// TimeOut ends pending request id as the control plane does when nobody
// decided before the approval deadline.
func (s *Server) TimeOut(id, reason string) {
	s.update(id, func(r *commonv1.Request) {
		r.Status, r.StatusReason = commonv1.RequestStatus_REQUEST_STATUS_TIMED_OUT, reason
	})
}

// Request returns a copy of request id, nil if unknown.
func (s *Server) Request(id string) *commonv1.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.requests[id]; ok {
		return proto.Clone(r).(*commonv1.Request)
	}
	return nil
}

func (s *Server) update(id string, change func(*commonv1.Request)) *commonv1.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.requests[id]
	if !ok {
		s.t.Errorf("cptest: no request %s", id)
		return nil
	}
	change(r)
	r.UpdatedAt = timestamppb.Now()
	for _, ch := range s.requestSubs[id] {
		select {
		case ch <- proto.Clone(r).(*commonv1.Request):
		default:
			s.t.Errorf("cptest: request watcher of %s is not keeping up", id)
		}
	}
	return proto.Clone(r).(*commonv1.Request)
}

// subscribeRequest returns the current state of id and later updates.
func (s *Server) subscribeRequest(id string) (*commonv1.Request, chan *commonv1.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.requests[id]
	if !ok {
		return nil, nil
	}
	ch := make(chan *commonv1.Request, 16)
	s.requestSubs[id] = append(s.requestSubs[id], ch)
	return proto.Clone(r).(*commonv1.Request), ch
}

func (s *Server) unsubscribeRequest(id string, ch chan *commonv1.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requestSubs[id] = slices.DeleteFunc(s.requestSubs[id], func(c chan *commonv1.Request) bool { return c == ch })
}

func clone(r *commonv1.Request) *commonv1.Request { return proto.Clone(r).(*commonv1.Request) }

// sortedIDs lists request ids in filing order; call with mu held.
func (s *Server) sortedIDs() []string {
	ids := make([]string, 0, len(s.requests))
	for i := 1; i <= len(s.requests); i++ {
		ids = append(ids, fmt.Sprintf("r-%d", i))
	}
	return ids
}

func (s *Server) codeNow() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.code
}

// FileAs records a request of another user, as if filed on another host,
// for approver tests.
func (s *Server) FileAs(user string, d Decider) *commonv1.Request {
	s.mu.Lock()
	prev := s.decide
	s.decide = d
	s.mu.Unlock()
	defer s.SetDecider(prev)
	return s.file("h-other", &agentv1.ElevationRequest{User: user, Uid: 4242, Duration: durationpb.New(10 * time.Minute), Reason: "other"})
}
