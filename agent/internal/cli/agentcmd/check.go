package agentcmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/zpam/zpam/agent/internal/cli"
	"github.com/zpam/zpam/agent/internal/config"
	"github.com/zpam/zpam/agent/internal/kernel"
)

func newCheckCommand() *cobra.Command {
	var asJSON bool
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate the agent config; show the kernel facts found and the mode auto would choose",
		Long: "Validate the agent config as run would load it with the same flags (the file at --config,\n" +
			"when it exists or is given, with flags and variables over it), then show the kernel facts\n" +
			"found and the mode auto would choose.\n\n" +
			"Exit codes: 0 the config is valid and this kernel can enforce, 2 the config is invalid\n" +
			"(file:line named), 3 only audit mode is possible.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := checkJSON{}
			var err error
			if out.Config, out.ConfigChecked, err = checkConfig(cmd.Flags(), f); err != nil {
				return err
			}
			out.Facts = kernel.Check()
			out.Enforcing = out.Mode.Enforcing()
			if err := printFacts(cmd.OutOrStdout(), out, asJSON); err != nil {
				return cli.Exit(cli.ExitFailure, "write output: %v", err)
			}
			if !out.Enforcing {
				return &cli.ExitError{Code: cli.ExitAuditOnly}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	f.register(cmd.Flags())
	return cmd
}

// checkConfig validates what run would use with the same flags and returns
// the file it read, if any, and whether there was anything to check.
// Without a file at the default path and without any override there is
// not: run would ask for --server, and the kernel facts are still worth
// showing.
func checkConfig(fs *pflag.FlagSet, f *runFlags) (path string, checked bool, err error) {
	overridden := false
	fs.VisitAll(func(fl *pflag.Flag) { overridden = overridden || (fl.Changed && flagFields[fl.Name] != "") })
	_, statErr := os.Stat(f.configPath)
	if !fs.Changed("config") && !overridden && errors.Is(statErr, iofs.ErrNotExist) {
		return "", false, nil
	}
	if _, err := loadConfig(fs, f); err != nil {
		return "", false, err
	}
	if statErr != nil {
		return "", true, nil
	}
	return f.configPath, true, nil
}

// checkJSON is the --json output: the facts, the verdict, and the config
// validated (config is "" when no file was read).
type checkJSON struct {
	kernel.Facts
	Enforcing     bool   `json:"enforcing"`
	Config        string `json:"config"`
	ConfigChecked bool   `json:"config_checked"`
}

func (c checkJSON) configRow() string {
	switch {
	case c.Config != "":
		return c.Config + ": valid"
	case c.ConfigChecked:
		return "no file; flags and environment: valid"
	}
	return "none (run needs " + config.DefaultPath + " or --server)"
}

func printFacts(w io.Writer, c checkJSON, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(c)
	}
	f := c.Facts
	rows := []struct {
		name  string
		value string
	}{
		{"agent config", c.configRow()},
		{"kernel release", f.KernelRelease},
		{"BTF", yesNo(f.BTF)},
		{"BPF filesystem", yesNo(f.BPFFS)},
		{"ring buffer", yesNo(f.RingBuffer)},
		{"tp_btf programs", yesNo(f.TPBTF)},
		{"bpf_send_signal", yesNo(f.SendSignal)},
		{"BPF LSM active", yesNo(f.BPFLSM)},
		{"mode (auto)", string(f.Mode) + " — " + describeMode(f.Mode)},
	}
	for _, r := range rows {
		if _, err := fmt.Fprintf(w, "%-17s %s\n", r.name, r.value); err != nil {
			return err
		}
	}
	for _, n := range f.Notes {
		if _, err := fmt.Fprintf(w, "note: %s\n", n); err != nil {
			return err
		}
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func describeMode(m kernel.Mode) string {
	switch m {
	case kernel.ModeLSM:
		return "enforcing: escalations fail with \"Operation not permitted\""
	case kernel.ModeSignal:
		return "enforcing: escalating processes are killed before they run"
	}
	return "audit only: escalations are reported, not blocked"
}
