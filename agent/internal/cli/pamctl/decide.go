package pamctl

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/zpam/zpam/agent/internal/cli"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

type decideFlags struct {
	comment, otp string
	asJSON       bool
	// terminate: revoke also ends the processes elevated under the grant.
	terminate bool
}

func newApproveCommand(g *globals) *cobra.Command {
	f := &decideFlags{}
	cmd := &cobra.Command{
		Use:   "approve ID",
		Short: "Approve a pending request of someone else",
		Long: "Approve a pending request that policy lets you approve; never your own.\n\n" +
			"Through the local agent, the control plane knows you only by this host's word, so it\n" +
			"also asks for your current one-time code: give it with --otp, or type it when asked\n" +
			"(it is not echoed). With --server and your own credential no code is needed.",
		Example: "  pamctl approve 0b6c1a52-... --comment \"ok, INC-4411\"\n  pamctl approve 0b6c1a52-... --otp 123456",
		Args:    oneID,
		RunE: func(cmd *cobra.Command, args []string) error {
			// The code is asked for before the call's deadline starts.
			if err := approverCode(cmd, g, &f.otp); err != nil {
				return err
			}
			return withApprovals(cmd, g, func(ctx context.Context, a approvals) error {
				r, err := a.Approve(ctx, args[0], f.comment, f.otp)
				if err != nil {
					return a.explain(err)
				}
				return writeOut(printDecision(cmd.OutOrStdout(), "approved", r, f.asJSON))
			})
		},
	}
	cmd.Flags().StringVar(&f.comment, "comment", "", "why, for the requester and the audit trail")
	cmd.Flags().StringVar(&f.otp, "otp", "", "your current one-time code (asked for on a terminal when missing)")
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print the request as one JSON object")
	return cmd
}

func newDenyCommand(g *globals) *cobra.Command {
	f := &decideFlags{}
	cmd := &cobra.Command{
		Use:     "deny ID --comment TEXT",
		Short:   "Deny a pending request of someone else, saying why",
		Long:    "Deny a pending request that policy lets you decide. The comment is the reason the requester sees, so it is required.",
		Example: "  pamctl deny 0b6c1a52-... --comment \"use the staging host\"",
		Args:    oneID,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.comment == "" {
				return cli.Usage("--comment is required: the requester is shown it as the reason")
			}
			return withApprovals(cmd, g, func(ctx context.Context, a approvals) error {
				r, err := a.Deny(ctx, args[0], f.comment)
				if err != nil {
					return a.explain(err)
				}
				return writeOut(printDecision(cmd.OutOrStdout(), "denied", r, f.asJSON))
			})
		},
	}
	cmd.Flags().StringVar(&f.comment, "comment", "", "why; shown to the requester")
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print the request as one JSON object")
	return cmd
}

func newRevokeCommand(g *globals) *cobra.Command {
	f := &decideFlags{}
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "End a grant now (yours, or one you may approve)",
		Long: "End an active grant, named by its grant id or its request id. You may end your own grants;\n" +
			"approvers those of requests they may decide; admins any. The host enforces it within a second.\n" +
			"Processes already elevated under the grant (a sudo -i shell, what it started) run on, unable\n" +
			"to elevate again; with --terminate the host ends them too (SIGTERM, SIGKILL after 2 s).",
		Example: "  pamctl revoke 7f1d9c0e-...\n  pamctl revoke 7f1d9c0e-... --comment \"done early\"\n" +
			"  pamctl revoke 7f1d9c0e-... --terminate --comment \"unexpected root shell\"",
		Args: oneID,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApprovals(cmd, g, func(ctx context.Context, a approvals) error {
				r, err := a.Revoke(ctx, args[0], f.comment, f.terminate)
				if err != nil {
					return a.explain(err)
				}
				verb := "revoked"
				if f.terminate {
					verb = "revoked (its elevated processes are being ended)"
				}
				return writeOut(printDecision(cmd.OutOrStdout(), verb, r, f.asJSON))
			})
		},
	}
	cmd.Flags().StringVar(&f.comment, "comment", "", "why, for the audit trail")
	cmd.Flags().BoolVar(&f.terminate, "terminate", false, "also end every process elevated under the grant on its host")
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print the request as one JSON object")
	return cmd
}

func oneID(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return cli.Usage("%s needs exactly one ID, got %d; the ids are listed by pamctl requests", cmd.CommandPath(), len(args))
	}
	return nil
}

// approverCode fills in the code an approval relayed by the agent needs:
// the flag, or typed on the terminal. With --server the person's own
// credential proves them, and a code only when the role asks for one.
func approverCode(cmd *cobra.Command, g *globals, otp *string) error {
	if *otp != "" || g.server != "" {
		return nil
	}
	_, in := terminal(cmd.InOrStdin())
	_, out := terminal(cmd.ErrOrStderr())
	if !in || !out {
		return cli.Usage("an approval through the agent needs your one-time code; pass --otp CODE")
	}
	code, err := promptCode(cmd.Context(), cmd.InOrStdin(), cmd.ErrOrStderr())
	if err != nil {
		return cli.Exit(cli.ExitFailure, "read the one-time code: %v", err)
	}
	*otp = code
	return nil
}

func printDecision(w io.Writer, verb string, r *commonv1.Request, asJSON bool) error {
	now := time.Now()
	if asJSON {
		return json.NewEncoder(w).Encode(toRequestJSON(r, now))
	}
	var err error
	switch {
	case verb == "revoked":
		_, err = fmt.Fprintf(w, "revoked grant %s of request %s (%s on %s)\n", r.GetGrant().GetId(), r.GetId(), r.GetUser(), hostOf(r))
	case r.GetStatus() == commonv1.RequestStatus_REQUEST_STATUS_GRANTED:
		_, err = fmt.Fprintf(w, "%s request %s: %s on %s has %s\n", verb, r.GetId(), r.GetUser(), hostOf(r), grantLine(r.GetGrant(), now))
	case r.GetStatus() == commonv1.RequestStatus_REQUEST_STATUS_PENDING_APPROVAL:
		_, err = fmt.Fprintf(w, "%s request %s; still waiting for%s\n", verb, r.GetId(), approvalsText(r))
	default:
		_, err = fmt.Fprintf(w, "%s request %s of %s on %s\n", verb, r.GetId(), r.GetUser(), hostOf(r))
	}
	return err
}
