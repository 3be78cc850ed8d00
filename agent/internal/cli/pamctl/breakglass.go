package pamctl

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/zpam/zpam/agent/internal/cli"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

// breakGlassTimeout bounds the call; the agent decides without the network.
const breakGlassTimeout = 15 * time.Second

type breakGlassFlags struct {
	reason string
	dur    time.Duration
	asJSON bool
}

func newBreakGlassCommand(g *globals) *cobra.Command {
	f := &breakGlassFlags{}
	cmd := &cobra.Command{
		Use:   "break-glass",
		Short: "Emergency root on this host without the control plane, under the offline break-glass policy",
		Long: "Emergency root on this host without the control plane, under the signed break-glass policy the\n" +
			"agent cached. The window is short, logged at once on this host (journal, terminal, audit file)\n" +
			"and reported to the control plane as soon as it is reachable.\n\n" +
			"Exit codes: 0 window open, 1 refused, 2 usage error, 5 agent unreachable.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBreakGlass(cmd, g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.reason, "reason", "", "why (required), for the audit trail")
	fl.DurationVar(&f.dur, "for", 0, "how long; at most, and by default, the policy's max_duration")
	fl.BoolVar(&f.asJSON, "json", false, "print one JSON object")
	return cmd
}

func runBreakGlass(cmd *cobra.Command, g *globals, f *breakGlassFlags) error {
	if strings.TrimSpace(f.reason) == "" {
		return cli.Usage("--reason is required, e.g. --reason \"INC-4411 database down\"")
	}
	if f.dur < 0 {
		return cli.FlagUsage(cmd, "for", "%q must be a positive duration like 15m or 30m", f.dur)
	}
	c, err := dialAgent(g.socket)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), breakGlassTimeout)
	defer cancel()
	req := &localv1.BreakGlassRequest{Reason: f.reason}
	if f.dur > 0 {
		req.Duration = durationpb.New(f.dur)
	}
	resp, err := c.BreakGlass(ctx, req)
	if err != nil {
		return rpcError(c, g.socket, err)
	}
	if err := printBreakGlass(cmd, resp, f.asJSON); err != nil {
		return cli.Exit(cli.ExitFailure, "write output: %v", err)
	}
	return nil
}

type breakGlassJSON struct {
	Status   string     `json:"status"`
	Reported bool       `json:"reported"`
	Message  string     `json:"message"`
	Grant    *grantJSON `json:"grant"`
}

func printBreakGlass(cmd *cobra.Command, r *localv1.BreakGlassResponse, asJSON bool) error {
	now := time.Now()
	if asJSON {
		return json.NewEncoder(cmd.OutOrStdout()).Encode(breakGlassJSON{Status: "open", Reported: r.GetReported(), Message: r.GetMessage(), Grant: toGrantJSON(r.GetGrant(), now)})
	}
	_, err := fmt.Fprintf(cmd.OutOrStdout(), "BREAK-GLASS: %s\n%s\n", grantLine(r.GetGrant(), now), r.GetMessage())
	return err
}
