package cpclient

import (
	"context"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// Relay is what the host asks on behalf of a local person it identified.
// The control plane treats user as the host's word (see RelayService).
type Relay interface {
	SubmitOTP(ctx context.Context, requestID, otp string) (*commonv1.Request, error)
	ListRequestsFor(ctx context.Context, user string) (*agentv1.RelayListResponse, error)
	ApproveFor(ctx context.Context, user, requestID, comment, otp string) (*commonv1.Request, error)
	DenyFor(ctx context.Context, user, requestID, comment string) (*commonv1.Request, error)
	RevokeFor(ctx context.Context, user, id, comment string, terminate bool) (*commonv1.Request, error)
}

var _ Relay = (*Client)(nil)

// SubmitOTP gives the requester's code for a PENDING_MFA request of this host.
func (c *Client) SubmitOTP(ctx context.Context, requestID, otp string) (*commonv1.Request, error) {
	return c.relay.SubmitOTP(ctx, &agentv1.SubmitOTPRequest{RequestId: requestID, Otp: otp})
}

// ListRequestsFor lists what user may approve and user's own requests.
func (c *Client) ListRequestsFor(ctx context.Context, user string) (*agentv1.RelayListResponse, error) {
	return c.relay.ListRequests(ctx, &agentv1.RelayListRequest{User: user})
}

// ApproveFor approves as user; the control plane needs user's TOTP code.
func (c *Client) ApproveFor(ctx context.Context, user, requestID, comment, otp string) (*commonv1.Request, error) {
	return c.relay.Approve(ctx, &agentv1.RelayDecision{User: user, RequestId: requestID, Comment: comment, Otp: otp})
}

// DenyFor denies as user.
func (c *Client) DenyFor(ctx context.Context, user, requestID, comment string) (*commonv1.Request, error) {
	return c.relay.Deny(ctx, &agentv1.RelayDecision{User: user, RequestId: requestID, Comment: comment})
}

// RevokeFor revokes as user; with terminate the grant's host also ends
// the processes elevated under it.
func (c *Client) RevokeFor(ctx context.Context, user, id, comment string, terminate bool) (*commonv1.Request, error) {
	return c.relay.Revoke(ctx, &agentv1.RelayRevoke{User: user, Id: id, Comment: comment, Terminate: terminate})
}
