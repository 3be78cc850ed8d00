package pamctl

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/zpam/zpam/agent/internal/cli"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

// statusTimeout bounds a status call; the agent answers from memory.
const statusTimeout = 10 * time.Second

func newStatusCommand(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the agent's mode, your active grants and your recent denials",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := fetchStatus(cmd.Context(), g.socket)
			if err != nil {
				return err
			}
			if err := printStatus(cmd.OutOrStdout(), resp, asJSON, time.Now()); err != nil {
				return cli.Exit(cli.ExitFailure, "write output: %v", err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

func fetchStatus(ctx context.Context, socket string) (*localv1.StatusResponse, error) {
	c, err := dialAgent(socket)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	resp, err := c.Status(ctx, &localv1.StatusRequest{})
	if err != nil {
		return nil, rpcError(c, socket, err)
	}
	return resp, nil
}

func enforcing(mode string) bool { return mode == "lsm" || mode == "signal" }

func printStatus(w io.Writer, s *localv1.StatusResponse, asJSON bool, now time.Time) error {
	if asJSON {
		return json.NewEncoder(w).Encode(toStatusJSON(s, now))
	}
	var b strings.Builder
	mode := s.GetMode() + " (enforcing)"
	if !enforcing(s.GetMode()) {
		mode = s.GetMode() + " (not enforcing: escalations are only reported)"
	}
	link := "connected"
	if !s.GetControlPlaneConnected() {
		link = "disconnected (grants in force stay enforced; new requests cannot be filed)"
	}
	fmt.Fprintf(&b, "mode:           %s\ncontrol plane:  %s\nhost:           %s\nuser:           %s (uid %d)\n",
		mode, link, s.GetHostId(), s.GetUser(), s.GetUid())
	writeGrants(&b, s, now)
	writeDenials(&b, s)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeGrants(b *strings.Builder, s *localv1.StatusResponse, now time.Time) {
	if len(s.GetGrants()) == 0 {
		b.WriteString("grants:         none; run: pamctl elevate\n")
		return
	}
	b.WriteString("grants:\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  ID\tEXPIRES\tLEFT\tSCOPE\tROLE")
	for _, g := range s.GetGrants() {
		exp := g.GetExpiresAt().AsTime()
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", g.GetId(), humanTime(exp), left(exp, now), scopeName(g.GetScope()), orDash(g.GetRole()))
	}
	tw.Flush()
	b.WriteString("  end one early with: pamctl revoke ID\n")
}

func writeDenials(b *strings.Builder, s *localv1.StatusResponse) {
	if len(s.GetRecentDenials()) == 0 {
		b.WriteString("recent denials: none\n")
		return
	}
	b.WriteString("recent denials:\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  TIME\tFILE\tPID")
	for _, d := range s.GetRecentDenials() {
		fmt.Fprintf(tw, "  %s\t%s\t%d\n", humanTime(d.GetTime().AsTime()), d.GetFilename(), d.GetPid())
	}
	tw.Flush()
}

type statusJSON struct {
	Mode                  string       `json:"mode"`
	Enforcing             bool         `json:"enforcing"`
	ControlPlaneConnected bool         `json:"control_plane_connected"`
	HostID                string       `json:"host_id"`
	User                  string       `json:"user"`
	UID                   uint32       `json:"uid"`
	AgentVersion          string       `json:"agent_version"`
	Grants                []*grantJSON `json:"grants"`
	RecentDenials         []denialJSON `json:"recent_denials"`
}

type denialJSON struct {
	Time     string `json:"time"`
	Filename string `json:"filename"`
	PID      uint32 `json:"pid"`
}

func toStatusJSON(s *localv1.StatusResponse, now time.Time) statusJSON {
	out := statusJSON{
		Mode: s.GetMode(), Enforcing: enforcing(s.GetMode()), ControlPlaneConnected: s.GetControlPlaneConnected(),
		HostID: s.GetHostId(), User: s.GetUser(), UID: s.GetUid(), AgentVersion: s.GetAgentVersion(),
		Grants: []*grantJSON{}, RecentDenials: []denialJSON{},
	}
	for _, g := range s.GetGrants() {
		out.Grants = append(out.Grants, toGrantJSON(g, now))
	}
	for _, d := range s.GetRecentDenials() {
		out.RecentDenials = append(out.RecentDenials, denialJSON{Time: rfc3339(d.GetTime().AsTime()), Filename: d.GetFilename(), PID: d.GetPid()})
	}
	return out
}
