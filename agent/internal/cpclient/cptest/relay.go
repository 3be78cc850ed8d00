package cptest

import (
	"context"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// NeedsCode leaves a request waiting for the requester's one-time code;
// SubmitOTP with the code set by SetCode grants it.
func NeedsCode(string, *agentv1.ElevationRequest) *commonv1.Request {
	return &commonv1.Request{Status: commonv1.RequestStatus_REQUEST_STATUS_PENDING_MFA, StatusReason: "role mfa requires a one-time code"}
}

// SetCode sets the one valid code, for requester and approvers alike.
func (s *Server) SetCode(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.code = code
}

// relayService is a RelayService with the control plane's rules in
// miniature: approvers named by the request, never one's own request,
// approvals need the code, revoke one's own grants.
type relayService struct {
	agentv1.UnimplementedRelayServiceServer
	s *Server
}

func (v *relayService) SubmitOTP(ctx context.Context, req *agentv1.SubmitOTPRequest) (*commonv1.Request, error) {
	if _, err := hostOf(ctx); err != nil {
		return nil, err
	}
	s := v.s
	s.mu.Lock()
	r, ok := s.requests[req.GetRequestId()]
	good := ok && r.GetStatus() == commonv1.RequestStatus_REQUEST_STATUS_PENDING_MFA && req.GetOtp() == s.code
	s.mu.Unlock()
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no request %s", req.GetRequestId())
	}
	return s.update(req.GetRequestId(), func(r *commonv1.Request) {
		if !good {
			r.Status, r.StatusReason = commonv1.RequestStatus_REQUEST_STATUS_DENIED, "the TOTP code is not valid"
			return
		}
		r.Status, r.StatusReason = commonv1.RequestStatus_REQUEST_STATUS_GRANTED, "auto-approved after the one-time code"
		s.grantLocked(r)
	}), nil
}

func (v *relayService) ListRequests(ctx context.Context, req *agentv1.RelayListRequest) (*agentv1.RelayListResponse, error) {
	if _, err := hostOf(ctx); err != nil {
		return nil, err
	}
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &agentv1.RelayListResponse{}
	for _, id := range s.sortedIDs() {
		r := s.requests[id]
		switch {
		case r.GetUser() == req.GetUser():
			out.Own = append(out.Own, clone(r))
		case r.GetStatus() == commonv1.RequestStatus_REQUEST_STATUS_PENDING_APPROVAL && slices.Contains(r.GetApproversAllowed(), req.GetUser()):
			out.ToApprove = append(out.ToApprove, clone(r))
		}
	}
	return out, nil
}

func (v *relayService) Approve(ctx context.Context, req *agentv1.RelayDecision) (*commonv1.Request, error) {
	r, err := v.decidable(ctx, req)
	if err != nil {
		return nil, err
	}
	if req.GetOtp() != v.s.codeNow() {
		return nil, status.Error(codes.PermissionDenied, "an approval from a host needs your one-time code; run again with --otp CODE")
	}
	return v.s.update(r.GetId(), func(r *commonv1.Request) {
		r.Status, r.ApprovalsNeeded, r.ApprovedBy = commonv1.RequestStatus_REQUEST_STATUS_GRANTED, 0, []string{req.GetUser()}
		v.s.grantLocked(r)
	}), nil
}

func (v *relayService) Deny(ctx context.Context, req *agentv1.RelayDecision) (*commonv1.Request, error) {
	r, err := v.decidable(ctx, req)
	if err != nil {
		return nil, err
	}
	return v.s.update(r.GetId(), func(r *commonv1.Request) {
		r.Status, r.StatusReason = commonv1.RequestStatus_REQUEST_STATUS_DENIED, "denied by "+req.GetUser()+": "+req.GetComment()
	}), nil
}

func (v *relayService) decidable(ctx context.Context, req *agentv1.RelayDecision) (*commonv1.Request, error) {
	if _, err := hostOf(ctx); err != nil {
		return nil, err
	}
	r := v.s.Request(req.GetRequestId())
	switch {
	case r == nil:
		return nil, status.Errorf(codes.NotFound, "no request %s", req.GetRequestId())
	case r.GetUser() == req.GetUser():
		return nil, status.Errorf(codes.PermissionDenied, "%s cannot approve their own request", req.GetUser())
	case !slices.Contains(r.GetApproversAllowed(), req.GetUser()):
		return nil, status.Errorf(codes.PermissionDenied, "%s is not among the approvers %v of request %s", req.GetUser(), r.GetApproversAllowed(), r.GetId())
	}
	return r, nil
}

func (v *relayService) Revoke(ctx context.Context, req *agentv1.RelayRevoke) (*commonv1.Request, error) {
	if _, err := hostOf(ctx); err != nil {
		return nil, err
	}
	s := v.s
	s.mu.Lock()
	g, ok := s.grants[req.GetId()]
	if !ok || g.GetUser() != req.GetUser() {
		s.mu.Unlock()
		return nil, status.Errorf(codes.PermissionDenied, "%s may revoke only their own grants and those of requests they may approve", req.GetUser())
	}
	s.mu.Unlock()
	s.remove(g.GetId(), "revoked by "+req.GetUser(), req.GetTerminate())
	return s.update(g.GetRequestId(), func(r *commonv1.Request) {
		r.Status, r.StatusReason = commonv1.RequestStatus_REQUEST_STATUS_REVOKED, "revoked by "+req.GetUser()
	}), nil
}
