package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/zpam/zpam/controlplane/internal/config"
	"github.com/zpam/zpam/controlplane/internal/policy"
	"github.com/zpam/zpam/controlplane/internal/requests"
	"github.com/zpam/zpam/controlplane/internal/risk"
	"github.com/zpam/zpam/internal/envflag"
)

func newPolicy(e *env) *cobra.Command {
	group := &cobra.Command{
		Use:   "policy",
		Short: "Check policy.yaml, and print the built-in detection rules",
		Args:  subcommandArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	group.AddCommand(newPolicyTest(e), newPolicyDetections(e))
	return group
}

type policyTestFlags struct {
	dir      string
	database string
	in       policy.Input
	labels   map[string]string
	// score is --risk; -1: score from the store's history.
	score int
}

func newPolicyTest(e *env) *cobra.Command {
	f := policyTestFlags{in: policy.Input{Duration: 15 * time.Minute}, score: -1}
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Print the decision policy.yaml gives a request, creating nothing",
		Long: "Print the decision policy.yaml gives a request, creating nothing. The request is scored\n" +
			"for risk as serve would score it, from the store's history of the user (--database, or\n" +
			"zpam.db in --data-dir; none yet: no history); --risk N decides with score N instead.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkDataDir(f.dir); err != nil {
				return err
			}
			if f.in.User == "" {
				return usagef("--user is required, e.g. --user alice")
			}
			if f.score != -1 && (f.score < 0 || f.score > risk.MaxScore) {
				return usagef("%s %d is not a score from 0 to %d", envflag.Source(cmd.Flags(), "risk"), f.score, risk.MaxScore)
			}
			return run(func() error { return testPolicy(cmd, e, f) })
		},
	}
	addDataDir(cmd, &f.dir)
	fl := cmd.Flags()
	fl.StringVar(&f.in.User, "user", "", "requesting user")
	fl.Var(listValue{&f.in.UserGroups}, "groups", "the user's registered groups")
	fl.StringVar(&f.in.Host, "host", "test-host", "host name, for messages")
	fl.Var(labelsValue{&f.labels}, "host-labels", "host labels, e.g. env=prod,role=db")
	fl.Var(durationValue{&f.in.Duration}, "for", "requested duration")
	fl.StringVar(&f.in.Reason, "reason", "", "reason given")
	fl.BoolVar(&f.in.TTY, "tty", true, "request comes from a terminal")
	fl.StringVar(&f.in.SourceAddress, "source", "", "source address of the login")
	fl.StringVar(&f.in.WorkloadID, "workload", "", "SPIFFE ID of a workload asking for the service account --user")
	fl.StringArrayVar(&f.in.Commands, "command", nil, "absolute path of a command the request is limited to (repeatable)")
	fl.IntVar(&f.score, "risk", -1, fmt.Sprintf("decide with this risk score (0 to %d) instead of scoring from the store's history", risk.MaxScore))
	addDatabase(cmd, &f.database)
	return cmd
}

func testPolicy(cmd *cobra.Command, e *env, f policyTestFlags) error {
	pol, err := policy.Load(config.Layout{Dir: f.dir}.Policy())
	if err != nil {
		return err
	}
	f.in.HostLabels, f.in.Time = f.labels, time.Now()
	if f.in.Risk, err = assessForTest(cmd, pol, f); err != nil {
		return err
	}
	d := pol.Evaluate(f.in)
	if f.score >= 0 {
		fmt.Fprintf(e.stdout, "risk: %d (given with --risk)\n", f.score)
	} else {
		fmt.Fprintf(e.stdout, "risk: %s\n", f.in.Risk)
	}
	fmt.Fprintf(e.stdout, "decision: %s\n", d.Outcome)
	fmt.Fprintf(e.stdout, "reason: %s\n", d.Reason)
	if d.Outcome == policy.Deny {
		return nil
	}
	fmt.Fprintf(e.stdout, "role: %s\nscope: %s\nmfa: %t\n", d.Role, d.Scope, d.MFA)
	fmt.Fprintf(e.stdout, "commands: %s\nterminate on end: %t\n", commandsText(d.Commands), d.TerminateOnEnd)
	if d.Outcome == policy.NeedApprovals {
		fmt.Fprintf(e.stdout, "approvals: %d from %s\napprover mfa: %t\napproval timeout: %s\n",
			d.ApprovalsNeeded, approversText(d.Approvers), d.ApprovalMFA, d.ApprovalTimeout)
	}
	return nil
}

func commandsText(list []string) string {
	if len(list) == 0 {
		return "any (not scoped)"
	}
	return strings.Join(list, ", ")
}

func approversText(list []string) string {
	if len(list) == 0 {
		return "any admin"
	}
	return strings.Join(list, ", ")
}

// assessForTest is --risk, or the score serve would give the request
// from the store's history; without a store yet there is no history,
// and policy test creates none.
func assessForTest(cmd *cobra.Command, pol *policy.Policy, f policyTestFlags) (risk.Assessment, error) {
	if f.score >= 0 {
		return risk.Assessment{Score: f.score, Factors: []risk.Factor{}}, nil
	}
	db, err := parseDatabase(cmd, f.dir, f.database)
	if err != nil {
		return risk.Assessment{}, err
	}
	subj := risk.Subject{User: f.in.User, HostID: f.in.Host, Hostname: f.in.Host, SourceAddress: f.in.SourceAddress,
		TTY: f.in.TTY, Workload: f.in.WorkloadID != "", Duration: f.in.Duration, Time: f.in.Time}
	if db.Driver == "sqlite" {
		if _, err := os.Stat(db.Path); errors.Is(err, fs.ErrNotExist) {
			return risk.Score(risk.History{}, subj, pol.RiskWeights), nil
		}
	}
	ctx := context.Background()
	st, err := openStore(ctx, db)
	if err != nil {
		return risk.Assessment{}, err
	}
	defer st.Close()
	core := requests.New(requests.Config{Store: st, Policy: policy.Static(pol)})
	return core.AssessRisk(ctx, requests.RiskQuery{User: subj.User, Host: f.in.Host, SourceAddress: subj.SourceAddress,
		TTY: subj.TTY, Workload: subj.Workload, Duration: subj.Duration, Time: subj.Time})
}

func newPolicyDetections(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "detections",
		Short: "Print the built-in detection rules, in the form policy.yaml's detections: section takes",
		Long: "Print the built-in detection rules that run over every command executed under a grant,\n" +
			"as YAML in the form of policy.yaml's detections.rules. A policy changes them under\n" +
			"detections: (responses per severity, disable, overrides) and adds its own rules.",
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := e.stdout.Write(policy.BuiltinDetections())
			return err
		},
	}
}
