package cpclient

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// ResumeFor relays a local person's fresh one-time code to put their
// suspended grant (a grant or request id) of this host back in force.
func (c *Client) ResumeFor(ctx context.Context, user, id, otp string) (*commonv1.Request, error) {
	return c.risk.ResumeGrant(ctx, &agentv1.ResumeGrantRequest{User: user, Id: id, Otp: otp})
}

// ResidueOf reports what a grant of this host left behind; onlyUser,
// when set, limits it to that person's grants.
func (c *Client) ResidueOf(ctx context.Context, id, onlyUser string) (*commonv1.ResidueReport, error) {
	return c.risk.Residue(ctx, &agentv1.HostResidueRequest{Id: id, OnlyUser: onlyUser})
}

// FindingsOf lists the findings on this host's grants, newest first;
// grant narrows them to one grant, onlyUser to one person's.
func (c *Client) FindingsOf(ctx context.Context, grant string, since *timestamppb.Timestamp, onlyUser string) ([]*commonv1.Finding, error) {
	resp, err := c.risk.ListFindings(ctx, &agentv1.HostFindingsRequest{Grant: grant, Since: since, OnlyUser: onlyUser})
	return resp.GetFindings(), err
}
