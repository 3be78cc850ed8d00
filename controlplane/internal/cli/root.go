// Package cli is the pam-controlplane command line: flag parsing and
// output only; the work is done by the library packages.
package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/zpam/zpam/internal/clidoc"
	"github.com/zpam/zpam/internal/envflag"
)

// DefaultDataDir is where packages put the control plane's data.
const DefaultDataDir = "/var/lib/pam-controlplane"

// env is what commands write to.
type env struct {
	stdout, stderr io.Writer
}

// Execute runs the CLI with args (without the program name) and returns
// the exit code.
func Execute(ctx context.Context, version string, args []string, stdout, stderr io.Writer) int {
	root := newRoot(version, &env{stdout: stdout, stderr: stderr})
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := envError(root.ExecuteContext(ctx))
	if err != nil {
		fmt.Fprintf(stderr, "pam-controlplane: %v\n", err)
	}
	return exitCode(err)
}

func newRoot(version string, e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "pam-controlplane",
		Short:         "ZPAM control plane: requests, policy, approvals, grants, CA and enrollment",
		Version:       version,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          subcommandArgs,
		RunE:          func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetVersionTemplate("pam-controlplane version {{.Version}}\n")
	root.AddCommand(newInit(e), newServe(e), newCheck(e), newToken(e), newUser(e), newHost(e), newWorkload(e), newPolicy(e), newAudit(e))
	root.AddCommand(clidoc.Command(root, "8"))
	setFlagErrors(root)
	envflag.Bind(root)
	return root
}

// setFlagErrors installs flagError on cmd and every subcommand.
func setFlagErrors(cmd *cobra.Command) {
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return flagError(c.CommandPath(), err) })
	for _, sub := range cmd.Commands() {
		setFlagErrors(sub)
	}
}

// subcommandArgs rejects an unknown subcommand of a command group.
func subcommandArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	names := make([]string, 0, len(cmd.Commands()))
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	return usagef("unknown command %q for %s; accepted: %s", args[0], cmd.CommandPath(), strings.Join(names, ", "))
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s does not take %q; run \"%s --help\" for its commands", cmd.CommandPath(), args[0], cmd.CommandPath())
	}
	return nil
}

func addDataDir(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "data-dir", DefaultDataDir, "control plane data directory (CA, policy.yaml, zpam.db)")
}

func checkDataDir(dir string) error {
	if dir == "" {
		return usagef("--data-dir is empty; pass the directory made by pam-controlplane init")
	}
	return nil
}
