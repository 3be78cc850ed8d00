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
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

func newRequestsCommand(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "requests",
		Short: "List the pending requests you may approve, and your own requests",
		Long: "List the pending requests of others that you may approve (policy approvals.from), and your\n" +
			"own pending and granted requests. On a host the agent asks the control plane for you;\n" +
			"with --server, your own credential does.",
		Example: "  pamctl requests\n  pamctl requests --json\n  pamctl requests --server cp.example.com:7443 --credential ~/.config/zpam",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withApprovals(cmd, g, func(ctx context.Context, a approvals) error {
				toApprove, own, err := a.List(ctx)
				if err != nil {
					return a.explain(err)
				}
				return writeOut(printRequests(cmd.OutOrStdout(), toApprove, own, asJSON, time.Now()))
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object: {\"to_approve\": [...], \"own\": [...]}")
	return cmd
}

// withApprovals opens the backend the flags name, bounds the call and
// closes it again.
func withApprovals(cmd *cobra.Command, g *globals, fn func(context.Context, approvals) error) error {
	a, err := openApprovals(g)
	if err != nil {
		return err
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), statusTimeout)
	defer cancel()
	return fn(ctx, a)
}

func writeOut(err error) error {
	if err != nil {
		return cli.Exit(cli.ExitFailure, "write output: %v", err)
	}
	return nil
}

func printRequests(w io.Writer, toApprove, own []*commonv1.Request, asJSON bool, now time.Time) error {
	if asJSON {
		return json.NewEncoder(w).Encode(struct {
			ToApprove []requestJSON `json:"to_approve"`
			Own       []requestJSON `json:"own"`
		}{toRequestsJSON(toApprove, now), toRequestsJSON(own, now)})
	}
	var b strings.Builder
	writeTable(&b, "to approve", "none waiting for you", toApprove, now)
	b.WriteString("\n")
	writeTable(&b, "yours", "none; ask with: pamctl elevate", own, now)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeTable(b *strings.Builder, title, empty string, reqs []*commonv1.Request, now time.Time) {
	if len(reqs) == 0 {
		fmt.Fprintf(b, "%s: %s\n", title, empty)
		return
	}
	fmt.Fprintf(b, "%s:\n", title)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tHOST\tSTATUS\tFOR\tAGE\tWAITING FOR\tREASON")
	for _, r := range reqs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.GetId(), r.GetUser(), hostOf(r), statusName(r.GetStatus()),
			r.GetDuration().AsDuration(), age(r, now), waitingFor(r, now), oneLine(r.GetReason()))
	}
	tw.Flush()
}

func hostOf(r *commonv1.Request) string {
	if r.GetHostname() != "" {
		return r.GetHostname()
	}
	return r.GetHostId()
}

func age(r *commonv1.Request, now time.Time) string {
	return max(now.Sub(r.GetCreatedAt().AsTime()), 0).Truncate(time.Second).String()
}

// waitingFor says what a request needs next, or how long its grant lasts.
func waitingFor(r *commonv1.Request, now time.Time) string {
	switch r.GetStatus() {
	case commonv1.RequestStatus_REQUEST_STATUS_PENDING_APPROVAL:
		return strings.TrimSpace(strings.Trim(approvalsText(r), " ()"))
	case commonv1.RequestStatus_REQUEST_STATUS_PENDING_MFA:
		return "the requester's one-time code"
	case commonv1.RequestStatus_REQUEST_STATUS_GRANTED:
		return fmt.Sprintf("grant %s, %s left", r.GetGrant().GetId(), left(r.GetGrant().GetExpiresAt().AsTime(), now))
	}
	return "-"
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 60 {
		return string(r[:57]) + "..."
	}
	return orDash(s)
}

// requestJSON is a request in --json output.
type requestJSON struct {
	ID               string     `json:"id"`
	User             string     `json:"user"`
	HostID           string     `json:"host_id"`
	Hostname         string     `json:"hostname"`
	Status           string     `json:"status"`
	StatusReason     string     `json:"status_reason"`
	Role             string     `json:"role"`
	Reason           string     `json:"reason"`
	DurationSeconds  int64      `json:"duration_seconds"`
	CreatedAt        string     `json:"created_at"`
	UpdatedAt        string     `json:"updated_at"`
	ApprovalsNeeded  int32      `json:"approvals_needed"`
	ApproversAllowed []string   `json:"approvers_allowed"`
	ApprovedBy       []string   `json:"approved_by"`
	TTY              string     `json:"tty"`
	SourceAddress    string     `json:"source_address"`
	Recorded         bool       `json:"recorded"`
	Grant            *grantJSON `json:"grant"`
}

func toRequestJSON(r *commonv1.Request, now time.Time) requestJSON {
	return requestJSON{
		ID: r.GetId(), User: r.GetUser(), HostID: r.GetHostId(), Hostname: r.GetHostname(), Status: statusName(r.GetStatus()),
		StatusReason: r.GetStatusReason(), Role: r.GetRole(), Reason: r.GetReason(), DurationSeconds: int64(r.GetDuration().AsDuration().Seconds()),
		CreatedAt: rfc3339(r.GetCreatedAt().AsTime()), UpdatedAt: rfc3339(r.GetUpdatedAt().AsTime()),
		ApprovalsNeeded: r.GetApprovalsNeeded(), ApproversAllowed: nonNil(r.GetApproversAllowed()), ApprovedBy: nonNil(r.GetApprovedBy()),
		TTY: r.GetContext().GetTtyName(), SourceAddress: r.GetContext().GetSourceAddress(), Recorded: r.GetContext().GetRecorded(),
		Grant: toGrantJSON(r.GetGrant(), now),
	}
}

func toRequestsJSON(reqs []*commonv1.Request, now time.Time) []requestJSON {
	out := make([]requestJSON, 0, len(reqs))
	for _, r := range reqs {
		out = append(out, toRequestJSON(r, now))
	}
	return out
}
