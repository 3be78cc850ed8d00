package agentcmd

import (
	"github.com/spf13/cobra"

	"github.com/zpam/zpam/agent/internal/cli"
	"github.com/zpam/zpam/agent/internal/shell"
)

// newShellHelperCommand is what starts a recorded shell, as root: the
// agent runs it, or systemd as a transient unit (see package shell); it
// is not for people. It exits with the shell's status.
func newShellHelperCommand() *cobra.Command {
	var uid uint32
	var term, control string
	cmd := &cobra.Command{
		Use:    "shell-helper --uid UID",
		Short:  "Internal: open an audit session for UID and run sudo -i once the agent says go",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			code, err := shell.RunHelper(uid, term, control)
			if err != nil {
				return cli.Exit(cli.ExitFailure, "shell-helper: %v", err)
			}
			if code != 0 {
				return &cli.ExitError{Code: code & 0xff}
			}
			return nil
		},
	}
	cmd.Flags().Uint32Var(&uid, "uid", 0, "the user to become")
	cmd.Flags().StringVar(&term, "term", "", "TERM for the shell")
	cmd.Flags().StringVar(&control, "control", "", "the agent's unix socket (default: fd 3)")
	return cmd
}
