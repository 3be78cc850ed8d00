package agentcmd

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/zpam/zpam/agent/internal/cli"
	"github.com/zpam/zpam/agent/internal/kernel"
)

func newUninstallCommand() *cobra.Command {
	var pinDir string
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Detach and unpin all enforcement under " + kernel.DefaultPinDir + " (package removal only)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			log.Warn("uninstalling kernel enforcement: escalations will no longer be gated", "pin_dir", pinDir)
			if err := kernel.Uninstall(pinDir); err != nil {
				return cli.Exit(cli.ExitFailure, "uninstall: %v", err)
			}
			log.Info("kernel enforcement removed", "pin_dir", pinDir)
			return nil
		},
	}
	cmd.Flags().StringVar(&pinDir, "pin-dir", kernel.DefaultPinDir, "bpffs directory of the pins to remove")
	return cmd
}
