package agentcmd

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/zpam/zpam/agent/internal/cli"
	"github.com/zpam/zpam/agent/internal/kernel"
)

func newCheckCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Show the kernel facts found and the mode auto would choose (exit 3 when only audit is possible)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			facts := kernel.Check()
			if err := printFacts(cmd.OutOrStdout(), facts, asJSON); err != nil {
				return cli.Exit(cli.ExitFailure, "write output: %v", err)
			}
			if !facts.Mode.Enforcing() {
				return &cli.ExitError{Code: cli.ExitAuditOnly}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// checkJSON is the --json output: the facts plus the verdict.
type checkJSON struct {
	kernel.Facts
	Enforcing bool `json:"enforcing"`
}

func printFacts(w io.Writer, f kernel.Facts, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(checkJSON{Facts: f, Enforcing: f.Mode.Enforcing()})
	}
	rows := []struct {
		name  string
		value string
	}{
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
