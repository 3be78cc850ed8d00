package cpclient

import (
	"context"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
)

// GetBreakGlassPolicy fetches this host's signed break-glass policy.
func (c *Client) GetBreakGlassPolicy(ctx context.Context) (*agentv1.SignedBreakGlassPolicy, error) {
	return c.breakGlass.GetPolicy(ctx, &agentv1.GetBreakGlassPolicyRequest{})
}

// ReportBreakGlass tells the control plane of a break-glass window.
func (c *Client) ReportBreakGlass(ctx context.Context, r *agentv1.BreakGlassReport) error {
	_, err := c.breakGlass.Report(ctx, r)
	return err
}
