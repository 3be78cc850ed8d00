package kernel

import (
	"fmt"
	"io"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// EnableHookStats turns on the kernel's run-time accounting of BPF
// programs (kernel.bpf_stats_enabled) until the returned closer is closed;
// it costs a little on every run, so it is for measurements only.
func EnableHookStats() (io.Closer, error) {
	c, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		return nil, fmt.Errorf("enable BPF run-time stats: %w", err)
	}
	return c, nil
}

// HookStats sums, over the attached programs, the time the kernel spent
// running them and how often they ran, while EnableHookStats was on.
func (e *Enforcer) HookStats() (time.Duration, uint64, error) {
	by, err := e.HookStatsByProgram()
	if err != nil {
		return 0, 0, err
	}
	var (
		total time.Duration
		runs  uint64
	)
	for _, st := range by {
		total += st.Runtime
		runs += st.Runs
	}
	return total, runs, nil
}

// ProgramStats is the kernel's accounting of one attached program.
type ProgramStats struct {
	Runtime time.Duration
	Runs    uint64
}

// HookStatsByProgram is HookStats for each attached program, by program
// name. The tree programs run on every fork and exit of the host, not
// only the measured workload's, so their share needs its own figure.
func (e *Enforcer) HookStatsByProgram() (map[string]ProgramStats, error) {
	out := map[string]ProgramStats{}
	for _, l := range e.links {
		info, err := l.Info()
		if err != nil {
			return nil, fmt.Errorf("link info: %w", err)
		}
		prog, err := ebpf.NewProgramFromID(info.Program)
		if err != nil {
			return nil, fmt.Errorf("open program %d: %w", info.Program, err)
		}
		pi, err := prog.Info()
		if err != nil {
			prog.Close()
			return nil, fmt.Errorf("program %d info: %w", info.Program, err)
		}
		st, err := prog.Stats()
		prog.Close()
		if err != nil {
			return nil, fmt.Errorf("program %d stats: %w", info.Program, err)
		}
		cur := out[pi.Name]
		out[pi.Name] = ProgramStats{Runtime: cur.Runtime + st.Runtime, Runs: cur.Runs + st.RunCount}
	}
	return out, nil
}
