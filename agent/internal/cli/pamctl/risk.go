package pamctl

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/agent/internal/cli"
	adminv1 "github.com/zpam/zpam/proto/zpam/admin/v1"
)

func newResidueCommand(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "residue ID",
		Short: "Show what a grant's window left behind: findings, the host's snapshot, paths commands named",
		Long: "Show the residue report of a grant (a grant or request id): what detection rules found on\n" +
			"the commands run under it and what was done, the host's before/after snapshot of its\n" +
			"well-known places when the host sent one, and the sensitive paths writing commands named\n" +
			"(an argv heuristic: intent, not proof of a change).\n\n" +
			"On a host, root sees any grant of the host and anyone else their own; with --server,\n" +
			"approvers and admins see the fleet's.",
		Example: "  pamctl residue 3f0c9a2e-6d1b-4c55-9f7e-2b8a1d0e4c11\n  pamctl residue REQUEST-ID --json --server cp.example.com:7443",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withRisk(cmd, g, func(ctx context.Context, src riskSource) error {
				rep, err := src.Residue(ctx, args[0])
				if err != nil {
					return src.explain(err)
				}
				return writeOut(printResidue(cmd.OutOrStdout(), rep, asJSON))
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

type findingsFlags struct {
	user, grant, since string
	asJSON             bool
}

func newFindingsCommand(g *globals) *cobra.Command {
	f := &findingsFlags{}
	cmd := &cobra.Command{
		Use:   "findings",
		Short: "List what detection rules found on commands run under grants, and the response taken",
		Long: "List findings, newest first: each is one detection rule on one grant, with its severity,\n" +
			"the response policy asks for (flag, suspend, revoke, terminate), what was done, the\n" +
			"number of matches and the first commands that matched.\n\n" +
			"On a host, root sees the findings on the host's grants and anyone else their own; with\n" +
			"--server, approvers and admins see the fleet's (--user narrows it), anyone else their own.",
		Example: "  pamctl findings --since 24h\n  pamctl findings --grant ID --json\n  pamctl findings --server cp.example.com:7443 --user alice",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runFindings(cmd, g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.user, "user", "", "with --server: only this person's findings")
	fl.StringVar(&f.grant, "grant", "", "only the findings of this grant or request id")
	fl.StringVar(&f.since, "since", "", "only findings first found since this long ago (90s, 15m, 1h) or this RFC 3339 time; default the last 7 days")
	fl.BoolVar(&f.asJSON, "json", false, "print one JSON object: {\"findings\": [...]}")
	return cmd
}

func runFindings(cmd *cobra.Command, g *globals, f *findingsFlags) error {
	q := &adminv1.ListFindingsRequest{User: f.user, Grant: f.grant}
	if f.since != "" {
		t, err := parseSince(cmd, f.since, time.Now())
		if err != nil {
			return err
		}
		q.Since = timestamppb.New(t)
	}
	return withRisk(cmd, g, func(ctx context.Context, src riskSource) error {
		fs, err := src.Findings(ctx, q)
		var ee *cli.ExitError
		switch {
		case errors.As(err, &ee):
			return ee
		case err != nil:
			return src.explain(err)
		}
		return writeOut(printFindings(cmd.OutOrStdout(), fs, f.asJSON))
	})
}

// withRisk opens the source the flags name, bounds the call and closes it.
func withRisk(cmd *cobra.Command, g *globals, fn func(context.Context, riskSource) error) error {
	src, err := openRisk(g)
	if err != nil {
		return err
	}
	defer src.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), statusTimeout)
	defer cancel()
	return fn(ctx, src)
}

func writeJSON(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }
