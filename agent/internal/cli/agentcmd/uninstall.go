package agentcmd

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/zpam/zpam/agent/internal/audit"
	"github.com/zpam/zpam/agent/internal/cli"
	"github.com/zpam/zpam/agent/internal/kernel"
)

func newUninstallCommand() *cobra.Command {
	var pinDir string
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Detach and unpin all enforcement and telemetry under " + kernel.DefaultPinDir + ", undo the agent's audit settings (package removal only)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			log.Warn("uninstalling kernel enforcement: escalations will no longer be gated", "pin_dir", pinDir)
			if err := kernel.Uninstall(pinDir); err != nil {
				return cli.Exit(cli.ExitFailure, "uninstall: %v", err)
			}
			log.Info("kernel enforcement removed", "pin_dir", pinDir)
			// The agent adds no audit rules; it may have switched audit on
			// and registered as the audit daemon, which a crash leaves.
			if err := audit.Restore(audit.DefaultStatePath, log); err != nil {
				return cli.Exit(cli.ExitFailure, "uninstall: restore the audit settings: %v", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&pinDir, "pin-dir", kernel.DefaultPinDir, "bpffs directory of the pins to remove")
	return cmd
}
