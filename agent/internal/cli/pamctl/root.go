// Package pamctl is the pamctl command line: people on a host ask the
// local agent for just-in-time root and see their grants.
package pamctl

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/zpam/zpam/agent/internal/cli"
	"github.com/zpam/zpam/internal/clidoc"
	"github.com/zpam/zpam/internal/envflag"
)

// DefaultSocket is where pam-agent serves its local API.
const DefaultSocket = "/run/pam-agent/agent.sock"

// globals are the flags every subcommand takes.
type globals struct {
	socket string
	// server and credential reach the control plane directly, for
	// approvers and admins off-host (requests, approve, deny, revoke, audit).
	server, credential string
}

// NewCommand is pamctl's root command.
func NewCommand(version string) *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "pamctl",
		Short: "Ask for just-in-time root on this host, see your grants, approve others' requests",
		Long: "pamctl asks the local pam-agent for just-in-time root (elevate), shows your grants\n" +
			"(status), and lets approvers list, approve, deny and revoke requests. On a host it talks\n" +
			"to the agent over --socket, which identifies you by your kernel credentials; off-host,\n" +
			"--server HOST:PORT reaches the control plane with your own credential.",
		Version: version,
	}
	root.PersistentFlags().StringVar(&g.socket, "socket", DefaultSocket, "the agent's local API socket")
	root.PersistentFlags().StringVar(&g.server, "server", "", "reach the control plane at HOST:PORT directly instead of through the agent (requests, approve, deny, revoke, audit, residue, findings)")
	root.PersistentFlags().StringVar(&g.credential, "credential", defaultCredential(), "with --server: directory with cert.pem, key.pem, ca.pem from pam-controlplane user credential")
	root.AddCommand(newElevateCommand(g), newStatusCommand(g), newRequestsCommand(g), newApproveCommand(g),
		newDenyCommand(g), newRevokeCommand(g), newReplayCommand(g), newBreakGlassCommand(g), newAuditCommand(g),
		newResidueCommand(g), newFindingsCommand(g))
	// The packages install completion scripts; no completion command.
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(clidoc.Command(root, "1"))
	envflag.Bind(root)
	return root
}

// defaultCredential is ~/.config/zpam, where a person keeps theirs.
func defaultCredential() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "zpam-credential"
	}
	return filepath.Join(dir, "zpam")
}

// Main runs pamctl with the process arguments and returns the exit code.
// SIGINT and SIGTERM cancel the command, which withdraws a pending request.
func Main(version string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cli.Execute(ctx, NewCommand(version), os.Args[1:], os.Stdout, os.Stderr)
}
