package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/zpam/zpam/controlplane/internal/config"
	"github.com/zpam/zpam/controlplane/internal/policy"
)

func newPolicy(e *env) *cobra.Command {
	group := &cobra.Command{
		Use:   "policy",
		Short: "Check policy.yaml",
		Args:  subcommandArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	group.AddCommand(newPolicyTest(e))
	return group
}

type policyTestFlags struct {
	dir    string
	in     policy.Input
	labels map[string]string
}

func newPolicyTest(e *env) *cobra.Command {
	f := policyTestFlags{in: policy.Input{Duration: 15 * time.Minute}}
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Print the decision policy.yaml gives a request, creating nothing",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := checkDataDir(f.dir); err != nil {
				return err
			}
			if f.in.User == "" {
				return usagef("--user is required, e.g. --user alice")
			}
			return run(func() error { return testPolicy(e, f) })
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
	return cmd
}

func testPolicy(e *env, f policyTestFlags) error {
	pol, err := policy.Load(config.Layout{Dir: f.dir}.Policy())
	if err != nil {
		return err
	}
	f.in.HostLabels, f.in.Time = f.labels, time.Now()
	d := pol.Evaluate(f.in)
	fmt.Fprintf(e.stdout, "decision: %s\n", d.Outcome)
	fmt.Fprintf(e.stdout, "reason: %s\n", d.Reason)
	if d.Outcome == policy.Deny {
		return nil
	}
	fmt.Fprintf(e.stdout, "role: %s\nscope: %s\nmfa: %t\n", d.Role, d.Scope, d.MFA)
	if d.Outcome == policy.NeedApprovals {
		fmt.Fprintf(e.stdout, "approvals: %d from %s\napprover mfa: %t\napproval timeout: %s\n",
			d.ApprovalsNeeded, approversText(d.Approvers), d.ApprovalMFA, d.ApprovalTimeout)
	}
	return nil
}

func approversText(list []string) string {
	if len(list) == 0 {
		return "any admin"
	}
	return strings.Join(list, ", ")
}
