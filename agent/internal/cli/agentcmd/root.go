// Package agentcmd is pam-agent's command line.
package agentcmd

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/zpam/zpam/agent/internal/cli"
	"github.com/zpam/zpam/internal/clidoc"
	"github.com/zpam/zpam/internal/envflag"
)

// NewCommand is pam-agent's root command.
func NewCommand(version string) *cobra.Command {
	root := &cobra.Command{
		Use:     "pam-agent",
		Short:   "ZPAM host agent: enforces just-in-time privilege grants in the kernel",
		Version: version,
	}
	root.AddCommand(newRunCommand(version), newCheckCommand(), newUninstallCommand(), newShellHelperCommand())
	// The packages install completion scripts; no completion command.
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(clidoc.Command(root, "8"))
	envflag.Bind(root)
	return root
}

// Main runs pam-agent with the process arguments and returns the exit code.
func Main(version string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cli.Execute(ctx, NewCommand(version), os.Args[1:], os.Stdout, os.Stderr)
}
