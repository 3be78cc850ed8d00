package agentcmd

import (
	"github.com/spf13/cobra"

	"github.com/zpam/zpam/agent/internal/cli"
	"github.com/zpam/zpam/agent/internal/shell"
)

// newShellHelperCommand is what the agent runs, as root, to start a
// recorded shell (see package shell); it is not for people.
func newShellHelperCommand() *cobra.Command {
	var uid uint32
	var term string
	cmd := &cobra.Command{
		Use:    "shell-helper --uid UID",
		Short:  "Internal: open an audit session for UID and exec sudo -i once the agent says go",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := shell.RunHelper(uid, term); err != nil {
				return cli.Exit(cli.ExitFailure, "shell-helper: %v", err)
			}
			return nil
		},
	}
	cmd.Flags().Uint32Var(&uid, "uid", 0, "the user to become")
	cmd.Flags().StringVar(&term, "term", "", "TERM for the shell")
	return cmd
}
